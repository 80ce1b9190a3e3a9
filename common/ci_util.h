/*
 * ci_util.h - small helpers every component needs: clocks, random ids and a
 * checked allocator.
 *
 * Thread-safe; no global state beyond OpenSSL's RNG.
 */
#ifndef CI_UTIL_H
#define CI_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, unix epoch milliseconds. */
int64_t ci_now_ms(void);
/* Monotonic clock in microseconds (for durations). */
int64_t ci_mono_us(void);

/* Writes the n bytes at data as 2*n lowercase hex digits and a NUL into out
 * (out needs 2*n+1 bytes).  The one hex encoder of the tree. */
void ci_hex_encode(const void *data, size_t n, char *out);

/* The first `nbytes` (1..32) bytes of the SHA-256 of data[0..len) as 2*nbytes
 * lowercase hex digits and a NUL (out needs 2*nbytes+1 bytes). */
void ci_sha256_hex(const void *data, size_t len, size_t nbytes, char *out);

/* Fills out[0..2*nbytes] with 2*nbytes lowercase hex digits of fresh random
 * bytes and a NUL (out needs 2*nbytes+1 bytes).  Returns 0 or -1. */
int ci_random_hex(char *out, size_t nbytes);

/* Fills out[0..len] with `len` characters of [A-Za-z0-9_-] (nanoid
 * alphabet, uniform) and a NUL.  Returns 0 or -1. */
int ci_random_id(char *out, size_t len);

/* The tag of a user id inside a tenant: the first 16 hex digits of its
 * SHA-256, "" for the anonymous user (NULL or "").  out needs 17 bytes.
 * Stored with jobs and entity pointers instead of the id itself. */
#define CI_USER_TAG_LEN 16
void ci_user_tag(const char *user_id, char out[CI_USER_TAG_LEN + 1]);

/* Formats epoch milliseconds as "2026-11-27T22:50:01.123Z" into out (>= 25 bytes). */
void ci_format_iso8601(int64_t ms, char *out, size_t outsz);

/* 32-bit FNV-1a of data[0..len) (hash tables; not for anything an
 * adversary could aim collisions at to harm more than one bucket). */
uint32_t ci_fnv1a(const void *data, size_t len);

/* Appends p[0..n) to a growable buffer: *buf (NULL when empty, heap, the
 * caller frees) holds *len bytes and a NUL in *cap bytes; the capacity
 * doubles from 1024.  Aborts on out-of-memory like ci_xmalloc.  Bounding
 * the total is the caller's business (check before appending). */
void ci_buf_append(char **buf, size_t *len, size_t *cap, const void *p, size_t n);

/* Allocation that aborts on out-of-memory (the one checked allocator). */
void *ci_xmalloc(size_t n);
void *ci_xcalloc(size_t n, size_t size);
void *ci_xrealloc(void *p, size_t n);
char *ci_xstrdup(const char *s);
char *ci_xstrndup(const char *s, size_t n);

/* Constant-time comparison of two byte strings; 1 when equal. */
int ci_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
