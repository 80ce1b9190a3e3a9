/*
 * wk_frame.h - framing of the runner protocol (docs/runner-protocol.md):
 * each message is a 4-byte big-endian unsigned length followed by that many
 * bytes of UTF-8 JSON.
 *
 * The decoder is incremental: feed it whatever chunks the socket produced
 * (split anywhere, several frames merged) and it calls back once per complete
 * payload.  A declared length above the decoder's maximum (at most
 * WK_FRAME_MAX, 64 MiB) is a protocol error; the decoder then stays failed.
 *
 * Ownership: the decoder struct is the caller's (usually embedded);
 * wk_frame_decoder_release() frees its buffer.  Payloads passed to the
 * callback are NUL-terminated and valid only during the callback.  No global
 * state; a decoder is used from one thread at a time.
 */
#ifndef WK_FRAME_H
#define WK_FRAME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WK_FRAME_MAX (64u << 20)
#define WK_FRAME_HDR 4

struct wk_frame_decoder {
    unsigned char hdr[WK_FRAME_HDR];
    size_t hdr_have; /* header bytes seen for the current frame */
    size_t need;     /* payload length of the current frame, once hdr_have == 4 */
    size_t have;     /* payload bytes buffered */
    char *buf;       /* need + 1 bytes while buffering, else NULL */
    size_t max;
    int failed;
};

/* Called per complete frame.  Return 0 to go on, non-zero to stop decoding:
 * wk_frame_decode() then returns that value (the rest of the chunk is
 * dropped; the decoder may only be released afterwards). */
typedef int (*wk_frame_cb)(void *arg, const char *payload, size_t len);

/* `max` 0 means WK_FRAME_MAX; larger values are clamped to it. */
void wk_frame_decoder_init(struct wk_frame_decoder *dec, size_t max);
void wk_frame_decoder_release(struct wk_frame_decoder *dec);
/* Changes the maximum for the frames whose header is still to come (same
 * clamping as init). */
void wk_frame_decoder_set_max(struct wk_frame_decoder *dec, size_t max);

/* Consumes `len` bytes.  Returns 0, -EMSGSIZE when a frame header declares
 * more than `max` (also on every later call), or the callback's non-zero
 * return value. */
int wk_frame_decode(struct wk_frame_decoder *dec, const void *data, size_t len, wk_frame_cb cb,
                    void *arg);

/* Non-zero when the decoder is between frames (no partial frame buffered). */
int wk_frame_decoder_idle(const struct wk_frame_decoder *dec);

/* Serializes `obj` compactly behind a length header into a new buffer
 * (*out, *out_len; caller frees *out).  Returns 0, -EINVAL when jansson cannot
 * encode it, or -EMSGSIZE above WK_FRAME_MAX. */
int wk_frame_encode(const json_t *obj, char **out, size_t *out_len);

/* Writes the 4-byte header for a payload of `len` bytes. */
void wk_frame_put_header(unsigned char hdr[WK_FRAME_HDR], uint32_t len);

#endif
