/*
 * sch_mpcheck.c - bounded structural walk over msgpack bytes.
 *
 * This is not a decoder (msgpack-c decodes): it only reads type headers and
 * lengths so that hostile sizes are refused before msgpack-c allocates for
 * them.  Iterative, with a fixed-size stack of "values still to read" per
 * nesting level.
 */
#include "sch_codec.h"

#include <errno.h>
#include <stdint.h>

static uint64_t sch_mp_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Classify the header at p[0..avail): on return *hdr is the header size,
 * *skip the payload bytes after it and *children the number of values that
 * follow (containers).  Returns 0 or -EINVAL. */
static int sch_mp_header(const unsigned char *p, size_t avail, size_t *hdr, uint64_t *skip,
                         uint64_t *children)
{
    unsigned char b = p[0];
    size_t lenbytes = 0;
    int kind = 0; /* 0 scalar, 1 str/bin, 2 ext, 3 array, 4 map */

    *skip = 0;
    *children = 0;
    *hdr = 1;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;
    if ((b & 0xe0) == 0xa0) {
        *skip = b & 0x1f;
        return 0;
    }
    if ((b & 0xf0) == 0x90) {
        *children = b & 0x0f;
        return 0;
    }
    if ((b & 0xf0) == 0x80) {
        *children = (uint64_t)(b & 0x0f) * 2;
        return 0;
    }
    switch (b) {
    case 0xcc:
    case 0xd0:
        *skip = 1;
        return 0;
    case 0xcd:
    case 0xd1:
        *skip = 2;
        return 0;
    case 0xce:
    case 0xd2:
    case 0xca:
        *skip = 4;
        return 0;
    case 0xcf:
    case 0xd3:
    case 0xcb:
        *skip = 8;
        return 0;
    case 0xd4:
        *skip = 2;
        return 0;
    case 0xd5:
        *skip = 3;
        return 0;
    case 0xd6:
        *skip = 5;
        return 0;
    case 0xd7:
        *skip = 9;
        return 0;
    case 0xd8:
        *skip = 17;
        return 0;
    case 0xd9:
    case 0xc4:
        lenbytes = 1;
        kind = 1;
        break;
    case 0xda:
    case 0xc5:
        lenbytes = 2;
        kind = 1;
        break;
    case 0xdb:
    case 0xc6:
        lenbytes = 4;
        kind = 1;
        break;
    case 0xc7:
        lenbytes = 1;
        kind = 2;
        break;
    case 0xc8:
        lenbytes = 2;
        kind = 2;
        break;
    case 0xc9:
        lenbytes = 4;
        kind = 2;
        break;
    case 0xdc:
        lenbytes = 2;
        kind = 3;
        break;
    case 0xdd:
        lenbytes = 4;
        kind = 3;
        break;
    case 0xde:
        lenbytes = 2;
        kind = 4;
        break;
    case 0xdf:
        lenbytes = 4;
        kind = 4;
        break;
    default:
        return -EINVAL; /* 0xc1 */
    }
    if (avail < 1 + lenbytes)
        return -EINVAL;
    uint64_t n = sch_mp_be(p + 1, lenbytes);
    *hdr = 1 + lenbytes;
    if (kind >= 3 && n > SCH_WIRE_MAX_ENTRIES)
        return -EINVAL;
    if (kind == 1)
        *skip = n;
    else if (kind == 2)
        *skip = n + 1; /* type byte */
    else if (kind == 3)
        *children = n;
    else
        *children = n * 2;
    return 0;
}

int sch_msgpack_check(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    uint64_t todo[SCH_WIRE_MAX_DEPTH + 1];
    int depth = 0;
    size_t pos = 0;
    uint64_t nodes = 0;

    if (!buf || len == 0 || len > SCH_WIRE_MAX_BYTES)
        return -EINVAL;
    todo[0] = 1;
    while (depth >= 0) {
        if (todo[depth] == 0) {
            depth--;
            continue;
        }
        todo[depth]--;
        if (pos >= len || ++nodes > SCH_WIRE_MAX_NODES)
            return -EINVAL;
        size_t hdr;
        uint64_t skip, children;
        if (sch_mp_header(p + pos, len - pos, &hdr, &skip, &children) < 0)
            return -EINVAL;
        pos += hdr;
        if (skip > len - pos)
            return -EINVAL;
        pos += (size_t)skip;
        if (children == 0)
            continue;
        /* Each child takes at least one byte; a map's count is doubled. */
        if (children > len - pos)
            return -EINVAL;
        if (depth + 1 > SCH_WIRE_MAX_DEPTH)
            return -EINVAL;
        todo[++depth] = children;
    }
    return pos == len ? 0 : -EINVAL;
}
