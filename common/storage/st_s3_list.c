/*
 * st_s3_list.c - ListObjectsV2 over st__s3_perform(), paginated with
 * continuation tokens.
 *
 * The reply is XML.  Only three leaf elements matter (<Key>, <IsTruncated>,
 * <NextContinuationToken>), none nested or attributed, so they are read by
 * tag search plus the five predefined XML entities rather than with an XML
 * library; every key found is checked with st_key_valid() and against the
 * prefix, so a reply we misread can only drop keys, never invent unsafe ones.
 * Query parameters are written in sorted order and RFC 3986-encoded (the
 * SigV4 canonical query string).
 */
#include "st_s3_int.h"

#include "ci_log.h"
#include "ci_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LIST_REPLY_MAX (8 << 20)
#define LIST_PAGES_MAX 10000

/* Decodes the predefined entities of text[0..len] into out (NUL-terminated,
 * cut at outsz - 1).  Returns the length. */
static size_t xml_text(const char *text, size_t len, char *out, size_t outsz)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0, nents = sizeof ents / sizeof ents[0];
    for (size_t i = 0; i < len && o + 1 < outsz;) {
        int matched = 0;
        for (size_t k = 0; text[i] == '&' && k < nents && !matched; k++) {
            size_t el = strlen(ents[k].ent);
            if (len - i >= el && memcmp(text + i, ents[k].ent, el) == 0) {
                out[o++] = ents[k].c;
                i += el;
                matched = 1;
            }
        }
        if (!matched)
            out[o++] = text[i++];
    }
    out[o] = '\0';
    return o;
}

/* The text of the next <tag>...</tag> at or after *pos; advances *pos. */
static const char *next_elem(const char *xml, const char **pos, const char *tag, size_t *len)
{
    char open[48], close[48];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(*pos, open);
    if (!a)
        return NULL;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b)
        return NULL;
    *pos = b + strlen(close);
    *len = (size_t)(b - a);
    return a;
}

/* Parses one page: adds keys, fills token ("" when the listing is done). */
static void parse_page(const char *xml, const char *prefix, char ***keys, size_t *n, size_t *cap,
                       char *token, size_t tokensz)
{
    const char *pos = xml, *t;
    size_t len, pl = strlen(prefix);
    char key[1024];
    while ((t = next_elem(xml, &pos, "Key", &len)) != NULL) {
        if (len >= sizeof key)
            continue; /* longer than any valid key */
        size_t kl = xml_text(t, len, key, sizeof key);
        if (st_key_valid(key) && strncmp(key, prefix, pl) == 0)
            st__list_add(keys, n, cap, key, kl);
    }
    token[0] = '\0';
    pos = xml;
    t = next_elem(xml, &pos, "IsTruncated", &len);
    if (!t || len != 4 || memcmp(t, "true", 4) != 0)
        return;
    pos = xml;
    t = next_elem(xml, &pos, "NextContinuationToken", &len);
    if (t)
        xml_text(t, len, token, tokensz);
}

int st__s3_list(struct st_store *st, const char *prefix, char ***keys, size_t *n, size_t *cap)
{
    struct st_s3 *s = (struct st_s3 *)st;
    char token[1024] = "";
    int rc = 0;
    CURL *esc = curl_easy_init();
    if (!esc)
        return -ENOMEM;
    char *eprefix = curl_easy_escape(esc, prefix, 0);
    for (int page = 0; rc == 0 && page < LIST_PAGES_MAX; page++) {
        char q[3072];
        char *etoken = token[0] ? curl_easy_escape(esc, token, 0) : NULL;
        if (etoken)
            snprintf(q, sizeof q, "?continuation-token=%s&list-type=2&prefix=%s", etoken,
                     eprefix ? eprefix : "");
        else
            snprintf(q, sizeof q, "?list-type=2&prefix=%s", eprefix ? eprefix : "");
        curl_free(etoken);
        struct st_s3_xfer x;
        st__s3_xfer_init(&x);
        x.max = LIST_REPLY_MAX;
        rc = st__s3_perform(s, "GET", q, &x);
        if (rc == 0)
            parse_page(x.buf ? x.buf : "", prefix, keys, n, cap, token, sizeof token);
        st__s3_xfer_release(&x);
        if (rc == -ENOENT || rc == -EFBIG)
            rc = -EIO; /* no bucket, or an absurd reply */
        if (!token[0])
            break;
    }
    curl_free(eprefix);
    curl_easy_cleanup(esc);
    return rc;
}
