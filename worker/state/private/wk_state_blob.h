/*
 * wk_state_blob.h - the stored form of a session's Python state.
 *
 * The runner's state.out (a cloudpickle payload the worker never unpickles)
 * is compressed with lz4 and prefixed with a fixed 64-byte header, all
 * integers little-endian:
 *
 *   off  size  field
 *     0     4  magic "CIST"
 *     4     2  version (1)
 *     6     2  reserved (0)
 *     8     8  raw_size: bytes of the pickled state (after decompression)
 *    16     8  saved_ms: unix epoch ms of the save (archive expiry uses it)
 *    24     8  comp_size: bytes of lz4 data after the header
 *    32    32  binding: SHA-256("ci-state-v1" 0 session_id 0 owner 0 user_id)
 *    64   ...  LZ4 block (LZ4_compress_default) of raw_size bytes
 *
 * The binding ties a blob to its session *and* owner (key id + user id):
 * a blob copied under another session's key, or a session id reused by
 * another caller, does not load.  Decoding never trusts the header: sizes
 * are checked against the buffer and the caller's maximum before anything
 * is allocated, and LZ4_decompress_safe must produce exactly raw_size bytes.
 *
 * Pure functions, no I/O, any thread.  Buffers returned through out
 * parameters are malloc'd; the caller frees them.
 */
#ifndef WK_STATE_BLOB_H
#define WK_STATE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#define WK_STATE_BLOB_HDR 64
#define WK_STATE_BLOB_VERSION 1
#define WK_STATE_BINDING_LEN 32

struct wk_state_hdr {
    uint64_t raw_size;
    int64_t saved_ms;
    uint64_t comp_size;
    unsigned char binding[WK_STATE_BINDING_LEN];
};

/* The binding digest of (session_id, owner, user_id); NULL counts as "". */
void wk_state_binding(const char *session_id, const char *owner, const char *user_id,
                      unsigned char out[WK_STATE_BINDING_LEN]);

/* Compresses raw (rawlen <= max_raw, else -EFBIG) into a new blob.
 * Returns 0, -EFBIG, or -EIO (lz4 failed). */
int wk_state_blob_pack(const void *raw, size_t rawlen, size_t max_raw, int64_t saved_ms,
                       const unsigned char binding[WK_STATE_BINDING_LEN], char **out,
                       size_t *outlen);

/* Parses the header from the first WK_STATE_BLOB_HDR bytes (len may be
 * just those): 0, -EBADMSG or -EFBIG as below, without the length check. */
int wk_state_blob_peek(const void *blob, size_t len, size_t max_raw, struct wk_state_hdr *h);

/* Parses and checks the header only.  Returns 0 or -EBADMSG (bad magic,
 * version, or comp_size not matching len), -EFBIG (raw_size > max_raw or
 * comp_size larger than lz4 could produce for max_raw). */
int wk_state_blob_header(const void *blob, size_t len, size_t max_raw, struct wk_state_hdr *h);

/* Header check, binding check (-EACCES when it differs), then bounded
 * decompression into a new buffer of exactly h.raw_size bytes (-EBADMSG
 * when lz4 rejects the data or yields another size).  *raw is NULL on
 * error. */
int wk_state_blob_unpack(const void *blob, size_t len, size_t max_raw,
                         const unsigned char binding[WK_STATE_BINDING_LEN], char **raw,
                         size_t *rawlen, struct wk_state_hdr *h);

#endif
