/*
 * fuzz_multipart.c - the multipart path of uploads: a request body through
 * libmicrohttpd's MHD_PostProcessor (the parser ing_upload.c uses) and the
 * upload file-name checks (ing_fname_safe / ing_fname_ok) on every part.
 *
 * The post processor needs a real MHD connection, so the target runs a
 * small MHD daemon on 127.0.0.1 (ephemeral port) once, and sends each input
 * as the body of one POST with Content-Type multipart/form-data;
 * boundary=XyZ over loopback.  Contract: no crash or leak; per part the
 * offsets reported by MHD are contiguous and the bytes add up to no more
 * than the body; a name the checks accept obeys the file-name rules.
 */
#include "ing_sec.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

const char *const ci_fuzz_dict[] = {
    "--XyZ\r\n", "--XyZ--\r\n", "\r\n\r\n", "\r\n",
    "Content-Disposition: form-data; name=\"file\"; filename=\"",
    "Content-Disposition: form-data; name=\"entity_id\"", "Content-Type: text/plain\r\n",
    "filename*=UTF-8''", "\"", "../", "a.txt", ";", NULL,
};

struct part_state {
    size_t body_len;
    size_t total;     /* bytes reported for all parts */
    uint64_t next_off;
    char key[64];
};

struct req_state {
    struct MHD_PostProcessor *pp;
    struct part_state ps;
};

static struct MHD_Daemon *d;
static uint16_t port;

static void check(int cond)
{
    if (!cond)
        abort();
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    struct part_state *ps = cls;
    const char *why = NULL;
    if (!key)
        key = "";
    if (strcmp(key, ps->key) != 0 || off == 0) { /* a new part */
        snprintf(ps->key, sizeof ps->key, "%s", key);
        ps->next_off = 0;
    }
    check(off == ps->next_off);
    ps->next_off = off + size;
    ps->total += size;
    check(ps->total <= ps->body_len);
    if (filename && ing_fname_ok(filename, &why)) {
        check(why == NULL && strlen(filename) <= 255);
        check(!strchr(filename, '/') && !strchr(filename, '\\'));
        check(strpbrk(filename, ING_FNAME_DANGEROUS) == NULL);
    } else if (filename) {
        check(why != NULL);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct req_state *rs = *con_cls;
    if (!rs) {
        rs = calloc(1, sizeof *rs);
        if (!rs)
            return MHD_NO;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        rs->ps.body_len = cl ? strtoul(cl, NULL, 10) : 0;
        rs->pp = MHD_create_post_processor(c, 4096, on_part, &rs->ps);
        *con_cls = rs;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rs->pp)
            MHD_post_process(rs->pp, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    static char ok[] = "ok";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(2, ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, rs->pp ? 200 : 415, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    struct req_state *rs = *con_cls;
    if (!rs)
        return;
    if (rs->pp)
        MHD_destroy_post_processor(rs->pp);
    free(rs);
    *con_cls = NULL;
}

static void stop(void)
{
    if (d)
        MHD_stop_daemon(d);
    d = NULL;
}

static int start(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED,
                         on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)5,
                         MHD_OPTION_END);
    if (!d)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    port = info ? info->port : 0;
    atexit(stop);
    return port ? 0 : -1;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!d && start() != 0)
        abort();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {5, 0};
    char head[256], buf[4096];
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    check(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    int n = snprintf(head, sizeof head,
                     "POST /upload HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
                     "Content-Type: multipart/form-data; boundary=XyZ\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     size);
    send_all(fd, head, (size_t)n);
    send_all(fd, data, size);
    size_t got = 0;
    ssize_t r;
    while ((r = recv(fd, buf, sizeof buf, 0)) > 0)
        got += (size_t)r;
    close(fd);
    check(got > 0 && strncmp(buf, "HTTP/1.1", 8) == 0); /* the server answered, alive */
    return 0;
}
