/*
 * wk_state_blob.c - stored state: header, binding, bounded lz4 (see
 * wk_state_blob.h).
 */
#include "wk_state_blob.h"

#include "ci_util.h"

#include <errno.h>
#include <lz4.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char wk_state_magic[4] = {'C', 'I', 'S', 'T'};

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void wk_state_binding(const char *session_id, const char *owner, const char *user_id,
                      unsigned char out[WK_STATE_BINDING_LEN])
{
    const char *parts[] = {"ci-state-v1", session_id ? session_id : "", owner ? owner : "",
                           user_id ? user_id : ""};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    if (!md)
        abort(); /* out of memory, as ci_xmalloc */
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        EVP_DigestUpdate(md, parts[i], strlen(parts[i]) + 1); /* with the NUL separator */
    EVP_DigestFinal_ex(md, out, &n);
    EVP_MD_CTX_free(md);
}

/* The largest lz4 block any input of max_raw bytes compresses to. */
static uint64_t comp_bound(size_t max_raw)
{
    if (max_raw > (size_t)LZ4_MAX_INPUT_SIZE)
        max_raw = (size_t)LZ4_MAX_INPUT_SIZE;
    return (uint64_t)LZ4_compressBound((int)max_raw);
}

int wk_state_blob_pack(const void *raw, size_t rawlen, size_t max_raw, int64_t saved_ms,
                       const unsigned char binding[WK_STATE_BINDING_LEN], char **out,
                       size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (rawlen > max_raw || rawlen > (size_t)LZ4_MAX_INPUT_SIZE)
        return -EFBIG;
    int bound = LZ4_compressBound((int)rawlen);
    unsigned char *buf = ci_xmalloc(WK_STATE_BLOB_HDR + (size_t)bound);
    int n =
        rawlen ? LZ4_compress_default(raw, (char *)buf + WK_STATE_BLOB_HDR, (int)rawlen, bound) : 0;
    if (rawlen && n <= 0) {
        free(buf);
        return -EIO;
    }
    memset(buf, 0, WK_STATE_BLOB_HDR);
    memcpy(buf, wk_state_magic, 4);
    put_le(buf + 4, WK_STATE_BLOB_VERSION, 2);
    put_le(buf + 8, rawlen, 8);
    put_le(buf + 16, (uint64_t)saved_ms, 8);
    put_le(buf + 24, (uint64_t)n, 8);
    memcpy(buf + 32, binding, WK_STATE_BINDING_LEN);
    *out = (char *)buf;
    *outlen = WK_STATE_BLOB_HDR + (size_t)n;
    return 0;
}

int wk_state_blob_peek(const void *blob, size_t len, size_t max_raw, struct wk_state_hdr *h)
{
    const unsigned char *p = blob;
    memset(h, 0, sizeof *h);
    if (!p || len < WK_STATE_BLOB_HDR || memcmp(p, wk_state_magic, 4) != 0 ||
        get_le(p + 4, 2) != WK_STATE_BLOB_VERSION)
        return -EBADMSG;
    h->raw_size = get_le(p + 8, 8);
    h->saved_ms = (int64_t)get_le(p + 16, 8);
    h->comp_size = get_le(p + 24, 8);
    memcpy(h->binding, p + 32, WK_STATE_BINDING_LEN);
    if (h->raw_size > max_raw || h->comp_size > comp_bound(max_raw))
        return -EFBIG;
    if ((h->raw_size == 0) != (h->comp_size == 0))
        return -EBADMSG;
    return 0;
}

int wk_state_blob_header(const void *blob, size_t len, size_t max_raw, struct wk_state_hdr *h)
{
    int rc = wk_state_blob_peek(blob, len, max_raw, h);
    if (rc == 0 && h->comp_size != len - WK_STATE_BLOB_HDR)
        return -EBADMSG;
    return rc;
}

int wk_state_blob_unpack(const void *blob, size_t len, size_t max_raw,
                         const unsigned char binding[WK_STATE_BINDING_LEN], char **raw,
                         size_t *rawlen, struct wk_state_hdr *h)
{
    *raw = NULL;
    *rawlen = 0;
    int rc = wk_state_blob_header(blob, len, max_raw, h);
    if (rc < 0)
        return rc;
    if (!ci_ct_equal(h->binding, WK_STATE_BINDING_LEN, binding, WK_STATE_BINDING_LEN))
        return -EACCES;
    /* raw_size <= max_raw <= LZ4_MAX_INPUT_SIZE-ish was checked: it fits an int */
    if (h->raw_size > (uint64_t)LZ4_MAX_INPUT_SIZE)
        return -EFBIG;
    char *buf = ci_xmalloc(h->raw_size ? (size_t)h->raw_size : 1);
    if (h->raw_size) {
        int n = LZ4_decompress_safe((const char *)blob + WK_STATE_BLOB_HDR, buf, (int)h->comp_size,
                                    (int)h->raw_size);
        if (n < 0 || (uint64_t)n != h->raw_size) {
            free(buf);
            return -EBADMSG;
        }
    }
    *raw = buf;
    *rawlen = (size_t)h->raw_size;
    return 0;
}
