/*
 * wk_wan.h - WAN-only network mode (ENABLE_WAN_ACCESS=true).
 *
 * Start-up (wk_wan_start, before the worker takes jobs):
 *   1. the Docker network WAN_NETWORK_NAME (default code-interpreter-wan) is
 *      looked up and created when missing: bridge driver, IPv6 off,
 *      inter-container traffic off (com.docker.network.bridge.enable_icc=
 *      false), label com.code-interpreter.managed=true.  An existing network
 *      with ICC or IPv6 on is refused, never used.
 *   2. $RUN_DIR/wan-resolv.conf is written: one `nameserver` line per
 *      WAN_DNS_SERVERS entry, nothing else; sandboxes get it read-only at
 *      /etc/resolv.conf (Docker's embedded resolver and the host's search
 *      list never show).
 *   3. the firewall chains are installed (wk_wan_rules.h) for the network's
 *      bridge, gateway and the DNS servers.
 * Any failure fails the start: the worker must not run WAN sandboxes
 * without the chains.
 *
 * Sandboxes: wk_wan_apply() puts the network, DNS servers and resolv.conf
 * into a spec (no-op when WAN mode is off).
 *
 * Shutdown (wk_wan_stop, after every sandbox is gone): removes the chains
 * unless other containers are still attached to the network (another worker
 * on the same dockerd): then they stay and that is logged.  The network is
 * kept.  A crashed worker leaves the chains in place (fail closed); the next
 * start flushes and refills them.
 *
 * Configuration: ENABLE_WAN_ACCESS, WAN_NETWORK_NAME, WAN_DNS_SERVERS
 * (comma-separated IPv4, at most 3, default 8.8.8.8,1.1.1.1,8.8.4.4),
 * WAN_CHAIN (default CI-WAN).
 *
 * Loop affinity: the worker's loop (the wk_docker client's); callbacks run
 * there, never inside the starting call.  One WAN state per process.
 */
#ifndef WK_WAN_H
#define WK_WAN_H

#include "wk_docker.h"
#include "wk_sandbox.h"

#include <uv.h>

/* Reads the configuration.  Returns 1 when WAN mode is on, 0 when off, or
 * -EINVAL after logging what is wrong (bad name, bad DNS address). */
int wk_wan_configure(const char *run_dir);

/* Starts the set-up described above; `cb(arg, 0)` once done, or a negative
 * errno.  Returns 0 (cb will run) or a negative errno (no callback). */
int wk_wan_start(struct wk_docker *d, void (*cb)(void *arg, int status), void *arg);

/* For main(): wk_wan_configure() then wk_wan_start(), running `loop` until
 * the start is done.  Returns 0 (WAN mode off, or on and ready) or a negative
 * errno (the worker must not start). */
int wk_wan_setup(uv_loop_t *loop, struct wk_docker *d, const char *run_dir);

/* Adds the WAN settings to `spec` when WAN mode is active. */
void wk_wan_apply(struct wk_sandbox_spec *spec);

/* Removes the chains (see above); `cb(arg)` runs when done.  Returns 0 (cb
 * will run) or -EALREADY when WAN mode is not active (no callback). */
int wk_wan_stop(struct wk_docker *d, void (*cb)(void *arg), void *arg);

#endif
