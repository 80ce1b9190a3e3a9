/*
 * ing_health.c - GET /health (open) and GET /health/detailed (key).
 */
#include "ing_handlers.h"

#include "ing_config.h"
#include "ing_redis.h"
#include "ing_reply.h"
#include "ing_wait.h"
#include "q_job.h"

#include <string.h>

enum MHD_Result ing_h_health(struct ing_request *req)
{
    json_t *o = json_pack("{s:s,s:s}", "status", "healthy", "version", ING_VERSION);
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}

enum MHD_Result ing_h_health_detailed(struct ing_request *req)
{
    struct q_stats st;
    int redis_ok = 0;
    memset(&st, 0, sizeof st);
    redisContext *c = ing_redis();
    if (c) {
        redis_ok = q_stats(c, &st) == 0;
        if (!redis_ok)
            ing_redis_reset();
    }
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(redis_ok ? "healthy" : "unhealthy"));
    json_object_set_new(o, "version", json_string(ING_VERSION));
    json_object_set_new(o, "redis", json_pack("{s:s}", "status", redis_ok ? "up" : "down"));
    if (redis_ok)
        json_object_set_new(o, "queue",
                            json_pack("{s:I,s:I,s:I,s:I}", "depth", (json_int_t)st.depth,
                                      "pending", (json_int_t)st.pending, "oldest_pending_ms",
                                      (json_int_t)st.oldest_pending_age_ms, "dead",
                                      (json_int_t)st.dead));
    json_object_set_new(o, "waiting_requests", json_integer(ing_wait_count()));
    return ing_reply_json(req->conn, redis_ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, o,
                          req->request_id);
}
