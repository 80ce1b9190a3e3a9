/*
 * ing_webhooks.c - POST /webhooks/secret: a new signing secret for the
 * caller's webhooks, shown once (docs/webhooks.md).
 *
 * The secret is "whsec_" + base64 of 32 random bytes (the Standard Webhooks
 * form: the HMAC key is the base64-decoded part).  It is stored as
 * ci:webhook_secret:<owner> (q_webhook.h), where the workers read it when
 * they sign; calling the route again replaces it (rotation).  Without one,
 * deliveries are signed with WEBHOOK_SECRET.
 */
#include "ing_http.h"

#include "ci_log.h"
#include "ing_redis.h"
#include "q_webhook.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

enum MHD_Result ing_h_webhooks_secret(struct ing_request *req)
{
    unsigned char raw[32];
    char secret[6 + 4 * sizeof raw / 3 + 4] = "whsec_";
    if (RAND_bytes(raw, sizeof raw) != 1)
        return ing_reply_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                               "no randomness available", NULL, req->request_id, 0);
    EVP_EncodeBlock((unsigned char *)secret + 6, raw, sizeof raw);
    redisContext *c = ing_redis();
    if (!c || q_webhook_secret_set(c, req->owner, secret) != 0) {
        ing_redis_reset();
        return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               "the store is unreachable; try again shortly", NULL, req->request_id,
                               5);
    }
    rlog_info(req->request_id, "webhook secret replaced for owner %s", req->owner);
    json_t *o = json_pack("{s:s,s:s}", "secret", secret, "note",
                          "shown once: store it now; deliveries are signed with it from now on");
    return ing_reply_json(req->conn, MHD_HTTP_CREATED, o, req->request_id);
}
