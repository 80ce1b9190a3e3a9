/*
 * sch_output.c - UTF-8 checking and output sanitizing (see sch_output.h).
 */
#include "sch_output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cont(unsigned char c, unsigned char lo, unsigned char hi)
{
    return c >= lo && c <= hi;
}

/* Decode at s[0..avail) (avail >= 1).  Returns the bytes consumed: a whole
 * character when *ok, else the maximal ill-formed subpart (>= 1), per the
 * Unicode "U+FFFD substitution of maximal subparts" practice. */
static size_t utf8_step(const unsigned char *s, size_t avail, uint32_t *cp, int *ok)
{
    unsigned char b = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

    *ok = 0;
    if (b < 0x80) {
        *cp = b;
        *ok = 1;
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf)
        need = 2;
    else if (b >= 0xe0 && b <= 0xef)
        need = 3;
    else if (b >= 0xf0 && b <= 0xf4)
        need = 4;
    else
        return 1;
    if (b == 0xe0)
        lo = 0xa0;
    else if (b == 0xed)
        hi = 0x9f;
    else if (b == 0xf0)
        lo = 0x90;
    else if (b == 0xf4)
        hi = 0x8f;

    uint32_t v = b & (need == 2 ? 0x1f : need == 3 ? 0x0f : 0x07);
    for (size_t i = 1; i < need; i++) {
        if (i >= avail || !cont(s[i], i == 1 ? lo : 0x80, i == 1 ? hi : 0xbf))
            return i;
        v = (v << 6) | (s[i] & 0x3f);
    }
    *cp = v;
    *ok = 1;
    return need;
}

size_t sch_utf8_next(const unsigned char *s, size_t avail, uint32_t *cp)
{
    int ok;
    if (!s || avail == 0)
        return 0;
    size_t n = utf8_step(s, avail, cp, &ok);
    return ok ? n : 0;
}

int sch_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;
    int ok;

    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        i += utf8_step(p + i, len - i, &cp, &ok);
        if (!ok)
            return 0;
    }
    return 1;
}

static int dropped_control(uint32_t cp)
{
    return (cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7f && cp <= 0x9f);
}

int sch_output_sanitize(const char *in, size_t len, size_t cap, int truncated_upstream, char **out,
                        size_t *outlen)
{
    static const char fffd[] = "\xef\xbf\xbd";
    const unsigned char *p = (const unsigned char *)in;
    size_t pos = 0, o = 0, body_max;
    int cut = 0;
    char *buf;

    if (!out || !outlen || (!in && len > 0))
        return -EINVAL;
    *out = NULL;
    *outlen = 0;
    if (len > (SIZE_MAX - 2 * SCH_OUTPUT_MARKER_MAX) / 3)
        return -EINVAL;
    body_max = len * 3 < cap ? len * 3 : cap;
    buf = malloc(body_max + SCH_OUTPUT_MARKER_MAX + 2);
    if (!buf)
        return -ENOMEM;

    while (pos < len) {
        uint32_t cp = 0;
        int ok;
        size_t n = utf8_step(p + pos, len - pos, &cp, &ok);
        if (ok && dropped_control(cp)) {
            pos += n;
            continue;
        }
        const char *src = ok ? (const char *)p + pos : fffd;
        size_t slen = ok ? n : 3;
        if (slen > cap - o) {
            cut = 1;
            break;
        }
        memcpy(buf + o, src, slen);
        o += slen;
        pos += n;
    }
    if (o > 0 && buf[o - 1] != '\n')
        buf[o++] = '\n';
    if (truncated_upstream)
        o += (size_t)snprintf(buf + o, SCH_OUTPUT_MARKER_MAX, "[output truncated]\n");
    else if (cut)
        o += (size_t)snprintf(buf + o, SCH_OUTPUT_MARKER_MAX,
                              "[output truncated: %zu bytes omitted]\n", len - pos);
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}
