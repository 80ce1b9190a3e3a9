/* Unit tests for the runner-protocol framing (worker/sandbox/private/wk_frame.h). */
#include "ci_test.h"
#include "wk_frame.h"

#include <errno.h>

#define MAXF 8

struct got {
    int n;
    char *payload[MAXF];
    size_t len[MAXF];
    int stop_at; /* return non-zero on this frame number (1-based), 0 never */
};

static int collect(void *arg, const char *payload, size_t len)
{
    struct got *g = arg;
    ASSERT_LT(g->n, MAXF);
    ASSERT_EQ(payload[len], '\0');
    g->payload[g->n] = malloc(len + 1);
    memcpy(g->payload[g->n], payload, len + 1);
    g->len[g->n] = len;
    g->n++;
    return g->stop_at == g->n ? 42 : 0;
}

static void got_free(struct got *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->payload[i]);
}

/* Appends a frame for `text` to buf at *off. */
static void put(char *buf, size_t *off, const char *text)
{
    size_t n = strlen(text);
    wk_frame_put_header((unsigned char *)buf + *off, (uint32_t)n);
    memcpy(buf + *off + 4, text, n);
    *off += 4 + n;
}

TEST(encode_roundtrip)
{
    json_t *obj =
        json_pack("{s:s, s:i, s:s}", "type", "run", "timeout_ms", 1000, "code", "print('h\u00e9')");
    char *frame;
    size_t len;
    ASSERT_EQ(wk_frame_encode(obj, &frame, &len), 0);
    uint32_t n = (uint32_t)(unsigned char)frame[0] << 24 | (uint32_t)(unsigned char)frame[1] << 16 |
                 (uint32_t)(unsigned char)frame[2] << 8 | (unsigned char)frame[3];
    ASSERT_EQ(n + 4, len);

    struct wk_frame_decoder dec;
    struct got g = {0};
    wk_frame_decoder_init(&dec, 0);
    ASSERT_EQ(wk_frame_decode(&dec, frame, len, collect, &g), 0);
    ASSERT_EQ(g.n, 1);
    json_t *back = json_loadb(g.payload[0], g.len[0], 0, NULL);
    ASSERT_NOT_NULL(back);
    ASSERT(json_equal(obj, back));
    ASSERT(wk_frame_decoder_idle(&dec));
    json_decref(back);
    json_decref(obj);
    free(frame);
    got_free(&g);
    wk_frame_decoder_release(&dec);
}

TEST(header_is_big_endian)
{
    unsigned char h[4];
    wk_frame_put_header(h, 0x01020304u);
    ASSERT_EQ(h[0], 1);
    ASSERT_EQ(h[1], 2);
    ASSERT_EQ(h[2], 3);
    ASSERT_EQ(h[3], 4);
}

TEST(byte_by_byte)
{
    char buf[256];
    size_t off = 0;
    put(buf, &off, "{\"a\":1}");
    put(buf, &off, "{\"type\":\"hello\"}");
    struct wk_frame_decoder dec;
    struct got g = {0};
    wk_frame_decoder_init(&dec, 0);
    for (size_t i = 0; i < off; i++) {
        ASSERT_EQ(wk_frame_decode(&dec, buf + i, 1, collect, &g), 0);
        if (i == 2)
            ASSERT(!wk_frame_decoder_idle(&dec)); /* mid-header */
    }
    ASSERT_EQ(g.n, 2);
    ASSERT_STR_EQ(g.payload[0], "{\"a\":1}");
    ASSERT_STR_EQ(g.payload[1], "{\"type\":\"hello\"}");
    ASSERT(wk_frame_decoder_idle(&dec));
    got_free(&g);
    wk_frame_decoder_release(&dec);
}

TEST(merged_and_split_chunks)
{
    char buf[256];
    size_t off = 0;
    put(buf, &off, "one");
    put(buf, &off, "");
    put(buf, &off, "three33");
    put(buf, &off, "four");
    /* Every split point: two chunks covering all four frames. */
    for (size_t cut = 0; cut <= off; cut++) {
        struct wk_frame_decoder dec;
        struct got g = {0};
        wk_frame_decoder_init(&dec, 0);
        ASSERT_EQ(wk_frame_decode(&dec, buf, cut, collect, &g), 0);
        ASSERT_EQ(wk_frame_decode(&dec, buf + cut, off - cut, collect, &g), 0);
        ASSERT_EQ(g.n, 4);
        ASSERT_STR_EQ(g.payload[0], "one");
        ASSERT_EQ(g.len[1], 0);
        ASSERT_STR_EQ(g.payload[2], "three33");
        ASSERT_STR_EQ(g.payload[3], "four");
        got_free(&g);
        wk_frame_decoder_release(&dec);
    }
}

TEST(oversize_is_an_error)
{
    struct wk_frame_decoder dec;
    struct got g = {0};
    unsigned char h[4];
    wk_frame_decoder_init(&dec, 0);
    wk_frame_put_header(h, WK_FRAME_MAX + 1);
    ASSERT_EQ(wk_frame_decode(&dec, h, 4, collect, &g), -EMSGSIZE);
    ASSERT_EQ(g.n, 0);
    /* It stays failed, even for a good frame afterwards. */
    char buf[32];
    size_t off = 0;
    put(buf, &off, "ok");
    ASSERT_EQ(wk_frame_decode(&dec, buf, off, collect, &g), -EMSGSIZE);
    ASSERT_EQ(g.n, 0);
    wk_frame_decoder_release(&dec);
}

TEST(custom_max_boundary)
{
    char buf[64];
    size_t off = 0;
    put(buf, &off, "12345678");  /* exactly the max: accepted */
    put(buf, &off, "123456789"); /* one more: refused */
    struct wk_frame_decoder dec;
    struct got g = {0};
    wk_frame_decoder_init(&dec, 8);
    ASSERT_EQ(wk_frame_decode(&dec, buf, off, collect, &g), -EMSGSIZE);
    ASSERT_EQ(g.n, 1);
    ASSERT_STR_EQ(g.payload[0], "12345678");
    got_free(&g);
    wk_frame_decoder_release(&dec);
    /* A max above 64 MiB is clamped to it. */
    wk_frame_decoder_init(&dec, (size_t)1 << 40);
    ASSERT_EQ(dec.max, WK_FRAME_MAX);
}

TEST(callback_stops_decoding)
{
    char buf[64];
    size_t off = 0;
    put(buf, &off, "a");
    put(buf, &off, "b");
    put(buf, &off, "c");
    struct wk_frame_decoder dec;
    struct got g = {0};
    g.stop_at = 2;
    wk_frame_decoder_init(&dec, 0);
    ASSERT_EQ(wk_frame_decode(&dec, buf, off, collect, &g), 42);
    ASSERT_EQ(g.n, 2);
    got_free(&g);
    wk_frame_decoder_release(&dec);
}

TEST(release_mid_frame)
{
    char buf[64];
    size_t off = 0;
    put(buf, &off, "partial frame");
    struct wk_frame_decoder dec;
    struct got g = {0};
    wk_frame_decoder_init(&dec, 0);
    ASSERT_EQ(wk_frame_decode(&dec, buf, off - 3, collect, &g), 0);
    ASSERT_EQ(g.n, 0);
    ASSERT(!wk_frame_decoder_idle(&dec));
    wk_frame_decoder_release(&dec); /* ASan: no leak of the partial buffer */
}

TEST_MAIN(encode_roundtrip, header_is_big_endian, byte_by_byte, merged_and_split_chunks,
          oversize_is_an_error, custom_max_boundary, callback_stops_decoding, release_mid_frame)
