#include "wk_frame.h"

#include "ci_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void wk_frame_decoder_init(struct wk_frame_decoder *dec, size_t max)
{
    memset(dec, 0, sizeof *dec);
    dec->max = (max == 0 || max > WK_FRAME_MAX) ? WK_FRAME_MAX : max;
}

void wk_frame_decoder_set_max(struct wk_frame_decoder *dec, size_t max)
{
    dec->max = (max == 0 || max > WK_FRAME_MAX) ? WK_FRAME_MAX : max;
}

void wk_frame_decoder_release(struct wk_frame_decoder *dec)
{
    free(dec->buf);
    dec->buf = NULL;
    dec->hdr_have = dec->have = dec->need = 0;
}

int wk_frame_decoder_idle(const struct wk_frame_decoder *dec)
{
    return dec->hdr_have == 0;
}

static void reset_frame(struct wk_frame_decoder *dec)
{
    free(dec->buf);
    dec->buf = NULL;
    dec->hdr_have = dec->have = dec->need = 0;
}

int wk_frame_decode(struct wk_frame_decoder *dec, const void *data, size_t len, wk_frame_cb cb,
                    void *arg)
{
    const char *p = data;
    int rc = 0;

    if (dec->failed)
        return -EMSGSIZE;
    while (len > 0) {
        if (dec->hdr_have < WK_FRAME_HDR) {
            size_t n = WK_FRAME_HDR - dec->hdr_have;
            if (n > len)
                n = len;
            memcpy(dec->hdr + dec->hdr_have, p, n);
            dec->hdr_have += n;
            p += n;
            len -= n;
            if (dec->hdr_have < WK_FRAME_HDR)
                break;
            dec->need = (size_t)dec->hdr[0] << 24 | (size_t)dec->hdr[1] << 16 |
                        (size_t)dec->hdr[2] << 8 | (size_t)dec->hdr[3];
            if (dec->need > dec->max) {
                dec->failed = 1;
                reset_frame(dec);
                return -EMSGSIZE;
            }
            dec->have = 0;
        }
        size_t missing = dec->need - dec->have;
        if (!dec->buf)
            dec->buf = ci_xmalloc(dec->need + 1);
        size_t n = missing < len ? missing : len;
        memcpy(dec->buf + dec->have, p, n);
        dec->have += n;
        p += n;
        len -= n;
        if (dec->have < dec->need)
            break;
        dec->buf[dec->need] = '\0';
        char *payload = dec->buf;
        size_t plen = dec->need;
        dec->buf = NULL;
        dec->hdr_have = dec->have = dec->need = 0;
        rc = cb(arg, payload, plen);
        free(payload);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void wk_frame_put_header(unsigned char hdr[WK_FRAME_HDR], uint32_t len)
{
    hdr[0] = (unsigned char)(len >> 24);
    hdr[1] = (unsigned char)(len >> 16);
    hdr[2] = (unsigned char)(len >> 8);
    hdr[3] = (unsigned char)len;
}

int wk_frame_encode(const json_t *obj, char **out, size_t *out_len)
{
    size_t n = json_dumpb(obj, NULL, 0, JSON_COMPACT);
    if (n == 0)
        return -EINVAL;
    if (n > WK_FRAME_MAX)
        return -EMSGSIZE;
    char *buf = ci_xmalloc(WK_FRAME_HDR + n);
    if (json_dumpb(obj, buf + WK_FRAME_HDR, n, JSON_COMPACT) != n) {
        free(buf);
        return -EINVAL;
    }
    wk_frame_put_header((unsigned char *)buf, (uint32_t)n);
    *out = buf;
    *out_len = WK_FRAME_HDR + n;
    return 0;
}
