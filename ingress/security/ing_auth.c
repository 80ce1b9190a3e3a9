#include "ing_sec.h"

#include "ci_env.h"
#include "ci_util.h"
#include "ing_config.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static unsigned char key_digest[ING_MAX_KEYS][SHA256_DIGEST_LENGTH];
static size_t nkeys;
static unsigned char admin_digest[SHA256_DIGEST_LENGTH];
static int admin_set;
static long static_rate[ING_RL_COUNT];

int ing_auth_init(void)
{
    static const char *const rate_env[ING_RL_COUNT] = {
        "RATE_LIMIT_PER_SECOND", "RATE_LIMIT_PER_MINUTE", "RATE_LIMIT_PER_HOUR",
        "RATE_LIMIT_PER_DAY"};
    nkeys = ing_cfg.nkeys;
    for (size_t i = 0; i < nkeys; i++)
        SHA256((const unsigned char *)ing_cfg.keys[i], strlen(ing_cfg.keys[i]), key_digest[i]);
    const char *admin = ci_env_str("ADMIN_API_KEY", NULL);
    admin_set = admin && *admin;
    if (admin_set)
        SHA256((const unsigned char *)admin, strlen(admin), admin_digest);
    for (int p = 0; p < ING_RL_COUNT; p++)
        static_rate[p] = (long)ci_env_int(rate_env[p], 0, 0, 1000000000);
    if (ing_jwt_init() != 0)
        return -1;
    return nkeys || ing_jwt_enabled() ? 0 : -1;
}

int ing_auth_admin_enabled(void)
{
    return admin_set;
}

static const char *presented_key(struct MHD_Connection *conn, int *bearer)
{
    *bearer = 0;
    const char *k = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key");
    if (k && *k)
        return k;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        auth += 7;
        while (*auth == ' ')
            auth++;
        *bearer = 1;
        return *auth ? auth : NULL;
    }
    return NULL;
}

enum ing_auth_kind ing_auth_identify(struct MHD_Connection *conn, struct ing_auth *out)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    int bearer = 0, match = 0;
    const char *key = presented_key(conn, &bearer);

    memset(out, 0, sizeof *out);
    if (!key)
        return out->kind = ING_AUTH_NONE;
    snprintf(out->prefix, sizeof out->prefix, "%.6s", key);
    SHA256((const unsigned char *)key, strlen(key), d);
    if (admin_set && ci_ct_equal(d, sizeof d, admin_digest, sizeof d))
        return out->kind = ING_AUTH_ADMIN;
    for (size_t i = 0; i < nkeys; i++) /* no early exit: time does not depend on which key */
        match |= ci_ct_equal(d, sizeof d, key_digest[i], sizeof d);
    ci_hex_encode(d, ING_OWNER_LEN / 2, out->owner);
    if (match) {
        snprintf(out->key.id, sizeof out->key.id, "static-%s", out->owner);
        memcpy(out->key.rate, static_rate, sizeof static_rate);
        return out->kind = ING_AUTH_STATIC;
    }
    if (bearer && ing_jwt_enabled() && ing_jwt_looks_like(key)) {
        if (ing_jwt_verify(key, ci_now_ms() / 1000, &out->jwt, &out->why) == 0) {
            memcpy(out->owner, out->jwt.owner, sizeof out->owner);
            snprintf(out->key.id, sizeof out->key.id, "jwt-%s", out->owner);
            memcpy(out->key.rate, static_rate, sizeof static_rate);
            return out->kind = ING_AUTH_JWT;
        }
        out->owner[0] = '\0';
        return out->kind = ING_AUTH_BAD; /* never looked up as a managed key */
    }
    char hash[ING_KEY_HEX_LEN + 1];
    ci_hex_encode(d, sizeof d, hash);
    int rc = ing_keys_validate(hash, &out->key);
    if (rc == 1)
        return out->kind = ING_AUTH_MANAGED;
    out->owner[0] = '\0';
    return out->kind = rc == -EIO ? ING_AUTH_UNAVAILABLE : ING_AUTH_BAD;
}

int ing_auth_check(struct MHD_Connection *conn, char owner[ING_OWNER_LEN + 1], char prefix[9])
{
    struct ing_auth a;
    enum ing_auth_kind k = ing_auth_identify(conn, &a);
    memcpy(prefix, a.prefix, sizeof a.prefix);
    int ok = ING_AUTH_IS_CALLER(k);
    memcpy(owner, ok ? a.owner : "", ok ? ING_OWNER_LEN + 1 : 1);
    return ok;
}
