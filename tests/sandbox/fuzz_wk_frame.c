/*
 * fuzz_wk_frame.c - the runner-protocol frame decoder on arbitrary bytes.
 *
 * Input layout: byte 0 picks the decoder's max (1..64 bytes, or 0 = the
 * real 64 MiB), byte 1 the chunk size used to feed the stream (1..256), the
 * rest is the byte stream from the runner.  Checks, beyond no crash/leak:
 * feeding in chunks yields exactly the frames (and the same error) as
 * feeding everything at once, every frame respects the max, and the frames
 * re-encoded with their headers are a prefix of the input.
 */
#include "wk_frame.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int cond)
{
    if (!cond)
        abort();
}

struct rec {
    unsigned char *buf; /* header + payload of every frame, concatenated */
    size_t len;
    size_t max;
};

static int on_frame(void *arg, const char *payload, size_t len)
{
    struct rec *r = arg;
    check(len <= r->max);
    check(payload[len] == '\0');
    r->buf = realloc(r->buf, r->len + 4 + len + 1);
    check(r->buf != NULL);
    wk_frame_put_header(r->buf + r->len, (uint32_t)len);
    memcpy(r->buf + r->len + 4, payload, len);
    r->len += 4 + len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return -1;
    size_t max = data[0] % 65 == 0 ? WK_FRAME_MAX : data[0] % 65;
    size_t chunk = (size_t)data[1] + 1;
    const uint8_t *in = data + 2;
    size_t len = size - 2;

    struct wk_frame_decoder whole, parts;
    struct rec rw = {.max = max}, rp = {.max = max};
    wk_frame_decoder_init(&whole, max);
    wk_frame_decoder_init(&parts, max);
    int rc_whole = wk_frame_decode(&whole, in, len, on_frame, &rw);
    int rc_parts = 0;
    for (size_t off = 0; off < len && rc_parts == 0; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        rc_parts = wk_frame_decode(&parts, in + off, n, on_frame, &rp);
    }
    check(rc_whole == 0 || rc_whole == -EMSGSIZE);
    check(rc_whole == rc_parts);
    check(rw.len == rp.len && (rw.len == 0 || memcmp(rw.buf, rp.buf, rw.len) == 0));
    check(rw.len <= len && (rw.len == 0 || memcmp(rw.buf, in, rw.len) == 0));
    check(wk_frame_decoder_idle(&whole) == wk_frame_decoder_idle(&parts));
    if (rc_whole == -EMSGSIZE) /* stays failed */
        check(wk_frame_decode(&whole, "\0\0\0\0", 4, on_frame, &rw) == -EMSGSIZE);
    wk_frame_decoder_release(&whole);
    wk_frame_decoder_release(&parts);
    free(rw.buf);
    free(rp.buf);
    return 0;
}
