/*
 * ing_server.h - the libmicrohttpd daemon: request intake, authentication,
 * body limits, routing.
 *
 * ing_server_start() starts MHD with its own pool of ing_cfg.threads polling
 * threads (epoll) and suspend/resume enabled; ing_server_stop() stops
 * accepting, wakes waiting requests and stops the daemon.  Both are called
 * from main() only.
 */
#ifndef ING_SERVER_H
#define ING_SERVER_H

int ing_server_start(void);
/* Stops accepting new connections (MHD quiesce) but keeps serving. */
void ing_server_quiesce(void);
void ing_server_stop(void);

#endif
