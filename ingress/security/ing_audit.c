#include "ing_audit.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "ing_http.h"
#include "ing_redis.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int audit_fd = STDERR_FILENO;

int ing_audit_init(void)
{
    const char *path = ci_env_str("AUDIT_LOG_FILE", NULL);
    if (!path || !*path)
        return 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        log_error("AUDIT_LOG_FILE %s: %s; auditing to stderr", path, strerror(e));
        return -e;
    }
    audit_fd = fd;
    return 0;
}

static void keep_in_redis(const char *line, const char *event_type, int success)
{
    redisContext *c = ing_redis();
    if (!c)
        return;
    char field[96];
    int n = 1;
    /* routine successful authentications are counted, not kept in the recent
     * list, so that they never push the events worth reading out of it */
    int keep = !(success && strcmp(event_type, "authentication") == 0);
    snprintf(field, sizeof field, "%s.%s", event_type, success ? "success" : "failure");
    redisAppendCommand(c, "HINCRBY %s %s 1", ING_AUDIT_STATS_KEY, field);
    if (keep) {
        redisAppendCommand(c, "LPUSH %s %s", ING_AUDIT_RECENT_KEY, line);
        redisAppendCommand(c, "LTRIM %s 0 %d", ING_AUDIT_RECENT_KEY, ING_AUDIT_RECENT_MAX - 1);
        n = 3;
    }
    if (ing_pipe_active()) { /* read with the enqueue's reply: ing_redis.h */
        ing_pipe_add(n);
        return;
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            ing_redis_reset();
            return;
        }
        freeReplyObject(r);
    }
}

static void audit(const char *event_type, int success, const char *key_prefix,
                  const char *client_ip, const char *endpoint, const char *request_id,
                  json_t *extra, int to_redis)
{
    char ts[40], prefix[16] = "";
    ci_format_iso8601(ci_now_ms(), ts, sizeof ts);
    if (key_prefix && *key_prefix)
        snprintf(prefix, sizeof prefix, "%.6s...", key_prefix);
    json_t *o = json_pack("{s:s,s:b,s:s,s:s,s:s,s:s}", "event_type", event_type, "success",
                          success, "api_key_prefix", prefix, "client_ip",
                          client_ip ? client_ip : "", "endpoint", endpoint ? endpoint : "",
                          "timestamp", ts);
    if (!o) {
        json_decref(extra);
        return;
    }
    if (request_id && *request_id)
        json_object_set_new(o, "request_id", json_string(request_id));
    if (extra)
        json_object_update_missing(o, extra);
    json_decref(extra);
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!line)
        return;
    ci_write_line(audit_fd, line);
    if (to_redis)
        keep_in_redis(line, event_type, success);
    free(line);
}

void ing_audit_raw(const char *event_type, int success, const char *key_prefix,
                   const char *client_ip, const char *endpoint, const char *request_id,
                   json_t *extra)
{
    audit(event_type, success, key_prefix, client_ip, endpoint, request_id, extra, 1);
}

void ing_audit_line(const struct ing_request *req, const char *event_type, int success,
                    json_t *extra)
{
    audit(event_type, success, req->key_prefix, req->client_ip, req->endpoint, req->request_id,
          extra, 0);
}

void ing_audit_event(const struct ing_request *req, const char *event_type, int success,
                     json_t *extra)
{
    ing_audit_raw(event_type, success, req->key_prefix, req->client_ip, req->endpoint,
                  req->request_id, extra);
}
