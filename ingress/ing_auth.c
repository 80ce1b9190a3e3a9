#include "ing_auth.h"

#include "ci_util.h"
#include "ing_config.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static unsigned char key_digest[ING_MAX_KEYS][SHA256_DIGEST_LENGTH];
static size_t nkeys;

int ing_auth_init(void)
{
    nkeys = ing_cfg.nkeys;
    for (size_t i = 0; i < nkeys; i++)
        SHA256((const unsigned char *)ing_cfg.keys[i], strlen(ing_cfg.keys[i]), key_digest[i]);
    return nkeys ? 0 : -1;
}

static const char *presented_key(struct MHD_Connection *conn)
{
    const char *k = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key");
    if (k && *k)
        return k;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        auth += 7;
        while (*auth == ' ')
            auth++;
        return *auth ? auth : NULL;
    }
    return NULL;
}

int ing_auth_check(struct MHD_Connection *conn, char owner[ING_OWNER_LEN + 1], char prefix[9])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[SHA256_DIGEST_LENGTH];
    const char *key = presented_key(conn);
    int match = 0;

    prefix[0] = '\0';
    owner[0] = '\0';
    if (!key)
        return 0;
    snprintf(prefix, 9, "%.6s", key);
    SHA256((const unsigned char *)key, strlen(key), d);
    for (size_t i = 0; i < nkeys; i++) /* no early exit: time does not depend on which key */
        match |= ci_ct_equal(d, sizeof d, key_digest[i], sizeof d);
    if (!match)
        return 0;
    for (int i = 0; i < ING_OWNER_LEN / 2; i++) {
        owner[2 * i] = hex[d[i] >> 4];
        owner[2 * i + 1] = hex[d[i] & 15];
    }
    owner[ING_OWNER_LEN] = '\0';
    return 1;
}
