/*
 * test_state_blob.c - the stored state blob: round trip, binding, and
 * decoding of corrupt or hostile blobs (bounded, never a crash).
 */
#include "ci_test.h"
#include "wk_state_blob.h"

#include <errno.h>
#include <lz4.h>

#define MB (1024u * 1024u)

static unsigned char bind_a[WK_STATE_BINDING_LEN], bind_b[WK_STATE_BINDING_LEN];

static void bindings(void)
{
    wk_state_binding("sess1", "owner1", "user1", bind_a);
    wk_state_binding("sess1", "owner2", "user1", bind_b);
}

static char *pattern(size_t n)
{
    char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)((i * 7) % 13 + (i % 1000 == 0 ? i / 1000 : 0));
    return p;
}

TEST(roundtrip)
{
    bindings();
    size_t n = 3 * MB;
    char *raw = pattern(n), *blob = NULL, *back = NULL;
    size_t blen = 0, rlen = 0;
    struct wk_state_hdr h;
    ASSERT_EQ(wk_state_blob_pack(raw, n, 10 * MB, 1234, bind_a, &blob, &blen), 0);
    ASSERT_LT(blen, n); /* repetitive data compresses */
    ASSERT_EQ(wk_state_blob_unpack(blob, blen, 10 * MB, bind_a, &back, &rlen, &h), 0);
    ASSERT_EQ(rlen, n);
    ASSERT_EQ(h.saved_ms, 1234);
    ASSERT_EQ(h.comp_size + WK_STATE_BLOB_HDR, blen);
    ASSERT(memcmp(raw, back, n) == 0);
    free(raw);
    free(blob);
    free(back);
}

TEST(empty_state)
{
    bindings();
    char *blob = NULL, *back = NULL;
    size_t blen = 0, rlen = 7;
    struct wk_state_hdr h;
    ASSERT_EQ(wk_state_blob_pack("", 0, MB, 1, bind_a, &blob, &blen), 0);
    ASSERT_EQ(blen, WK_STATE_BLOB_HDR);
    ASSERT_EQ(wk_state_blob_unpack(blob, blen, MB, bind_a, &back, &rlen, &h), 0);
    ASSERT_EQ(rlen, 0);
    free(blob);
    free(back);
}

TEST(binding_differs)
{
    bindings();
    unsigned char c[WK_STATE_BINDING_LEN], d[WK_STATE_BINDING_LEN];
    ASSERT(memcmp(bind_a, bind_b, sizeof bind_a) != 0);
    /* separators matter: ("ab","c") is not ("a","bc") */
    wk_state_binding("s", "ab", "c", c);
    wk_state_binding("s", "a", "bc", d);
    ASSERT(memcmp(c, d, sizeof c) != 0);
    char *blob = NULL, *back = (char *)1;
    size_t blen = 0, rlen = 0;
    struct wk_state_hdr h;
    ASSERT_EQ(wk_state_blob_pack("hello", 5, MB, 1, bind_a, &blob, &blen), 0);
    ASSERT_EQ(wk_state_blob_unpack(blob, blen, MB, bind_b, &back, &rlen, &h), -EACCES);
    ASSERT_NULL(back);
    free(blob);
}

TEST(oversize_refused)
{
    bindings();
    char *raw = pattern(2 * MB), *blob = NULL;
    size_t blen = 0;
    ASSERT_EQ(wk_state_blob_pack(raw, 2 * MB, MB, 1, bind_a, &blob, &blen), -EFBIG);
    ASSERT_NULL(blob);
    /* a blob stored under a larger limit does not load under a smaller one */
    ASSERT_EQ(wk_state_blob_pack(raw, 2 * MB, 4 * MB, 1, bind_a, &blob, &blen), 0);
    char *back = NULL;
    size_t rlen = 0;
    struct wk_state_hdr h;
    ASSERT_EQ(wk_state_blob_unpack(blob, blen, MB, bind_a, &back, &rlen, &h), -EFBIG);
    ASSERT_NULL(back);
    free(raw);
    free(blob);
}

TEST(garbage_and_truncation)
{
    bindings();
    char *back = NULL, *blob = NULL;
    size_t rlen = 0, blen = 0;
    struct wk_state_hdr h;
    ASSERT_EQ(wk_state_blob_unpack("not a state blob at all", 23, MB, bind_a, &back, &rlen, &h),
              -EBADMSG);
    char zeros[200] = {0};
    ASSERT_EQ(wk_state_blob_unpack(zeros, sizeof zeros, MB, bind_a, &back, &rlen, &h), -EBADMSG);
    ASSERT_EQ(wk_state_blob_unpack(NULL, 0, MB, bind_a, &back, &rlen, &h), -EBADMSG);
    char *raw = pattern(100000);
    ASSERT_EQ(wk_state_blob_pack(raw, 100000, MB, 1, bind_a, &blob, &blen), 0);
    for (size_t cut = 0; cut < blen; cut += blen / 17 + 1)
        ASSERT_EQ(wk_state_blob_unpack(blob, cut, MB, bind_a, &back, &rlen, &h), -EBADMSG);
    ASSERT_NULL(back);
    free(raw);
    free(blob);
}

/* A header that claims a huge raw size must be refused before any
 * allocation; one that lies about raw size must fail lz4's exact check. */
TEST(hostile_sizes)
{
    bindings();
    char *raw = pattern(50000), *blob = NULL, *back = NULL;
    size_t blen = 0, rlen = 0;
    struct wk_state_hdr h;
    ASSERT_EQ(wk_state_blob_pack(raw, 50000, MB, 1, bind_a, &blob, &blen), 0);
    unsigned char *p = (unsigned char *)blob;
    unsigned char save[8];
    memcpy(save, p + 8, 8);
    memset(p + 8, 0xff, 8); /* raw_size = 2^64-1 */
    ASSERT_EQ(wk_state_blob_unpack(blob, blen, MB, bind_a, &back, &rlen, &h), -EFBIG);
    memcpy(p + 8, save, 8);
    p[8] ^= 0x01; /* raw_size off by one */
    ASSERT_EQ(wk_state_blob_unpack(blob, blen, MB, bind_a, &back, &rlen, &h), -EBADMSG);
    p[8] ^= 0x01;
    memset(p + 24, 0xff, 8); /* comp_size huge */
    ASSERT_EQ(wk_state_blob_unpack(blob, blen, MB, bind_a, &back, &rlen, &h), -EFBIG);
    ASSERT_NULL(back);
    free(raw);
    free(blob);
}

/* Flipped bytes in the compressed data: an error or a same-size output,
 * never a crash or an overrun (ASan watches). */
TEST(corrupt_payload)
{
    bindings();
    char *raw = pattern(200000), *blob = NULL;
    size_t blen = 0;
    ASSERT_EQ(wk_state_blob_pack(raw, 200000, MB, 1, bind_a, &blob, &blen), 0);
    unsigned seed = 1;
    for (int round = 0; round < 300; round++) {
        char *copy = malloc(blen), *back = NULL;
        size_t rlen = 0;
        struct wk_state_hdr h;
        memcpy(copy, blob, blen);
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = WK_STATE_BLOB_HDR + (seed >> 8) % (blen - WK_STATE_BLOB_HDR);
            copy[at] = (char)(seed >> 3);
        }
        int rc = wk_state_blob_unpack(copy, blen, MB, bind_a, &back, &rlen, &h);
        ASSERT(rc == 0 || rc == -EBADMSG);
        if (rc == 0)
            ASSERT_EQ(rlen, 200000);
        else
            ASSERT_NULL(back);
        free(back);
        free(copy);
    }
    free(raw);
    free(blob);
}

TEST_MAIN(roundtrip, empty_state, binding_differs, oversize_refused, garbage_and_truncation,
          hostile_sizes, corrupt_payload)
