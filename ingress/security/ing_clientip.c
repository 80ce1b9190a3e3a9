#include "ing_clientip.h"

#include "ci_cidr.h"
#include "ci_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct ci_cidr proxies[ING_CLIENTIP_MAX_PROXIES];
static size_t nproxies;

int ing_clientip_init(const char *csv)
{
    int rc = 0;
    nproxies = 0;
    while (csv && *csv) {
        const char *comma = strchr(csv, ',');
        size_t len = comma ? (size_t)(comma - csv) : strlen(csv);
        const char *p = csv;
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len && nproxies < ING_CLIENTIP_MAX_PROXIES) {
            if (ci_cidr_parse(p, len, &proxies[nproxies]) == 0) {
                nproxies++;
            } else {
                log_error("TRUSTED_PROXIES: \"%.*s\" is not an address or CIDR; ignored",
                          (int)len, p);
                rc = -EINVAL;
            }
        }
        csv = comma ? comma + 1 : NULL;
    }
    return rc;
}

int ing_clientip_trusted(const char *ip)
{
    unsigned char a[16];
    int family;
    if (inet_pton(AF_INET, ip, a) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, ip, a) == 1)
        family = AF_INET6;
    else
        return 0;
    for (size_t i = 0; i < nproxies; i++)
        if (ci_cidr_match(&proxies[i], family, a))
            return 1;
    return 0;
}

/* Copies the hop ending at `end` (exclusive) into out, trimmed; returns the
 * start of the hop. */
static const char *prev_hop(const char *start, const char *end, char *out, size_t outsz)
{
    const char *p = end;
    while (p > start && p[-1] != ',')
        p--;
    const char *b = p, *e = end;
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t n = (size_t)(e - b);
    if (n >= outsz)
        n = 0; /* too long to be an address: treated as malformed */
    memcpy(out, b, n);
    out[n] = '\0';
    return p;
}

void ing_clientip_resolve(const char *peer, const char *xff, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s", peer && *peer ? peer : "unknown");
    if (!xff || !nproxies || !ing_clientip_trusted(out))
        return;
    const char *end = xff + strlen(xff);
    while (end > xff) {
        char hop[64];
        unsigned char a[16];
        const char *start = prev_hop(xff, end, hop, sizeof hop);
        if (inet_pton(AF_INET, hop, a) != 1 && inet_pton(AF_INET6, hop, a) != 1)
            return; /* malformed: keep the last trusted hop */
        snprintf(out, outsz, "%s", hop);
        if (!ing_clientip_trusted(hop))
            return;
        end = start > xff ? start - 1 : xff;
    }
}

struct xff_join {
    char *buf;
    size_t len;
};

static enum MHD_Result join_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct xff_join *j = cls;
    (void)kind;
    if (!key || !value || strcasecmp(key, "X-Forwarded-For") != 0)
        return MHD_YES;
    size_t n = strlen(value);
    char *b = realloc(j->buf, j->len + n + 3);
    if (!b)
        return MHD_NO;
    j->buf = b;
    if (j->len) { /* RFC 9110 5.3: lines of one field join with commas, in order */
        memcpy(j->buf + j->len, ", ", 2);
        j->len += 2;
    }
    memcpy(j->buf + j->len, value, n);
    j->len += n;
    j->buf[j->len] = '\0';
    return MHD_YES;
}

char *ing_clientip_forwarded(struct MHD_Connection *conn)
{
    struct xff_join j = {NULL, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, join_xff, &j);
    return j.buf;
}
