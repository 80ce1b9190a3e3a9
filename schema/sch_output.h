/*
 * sch_output.h - making program output safe to hand to a caller.
 *
 * Program output is arbitrary bytes.  Callers get text that is valid UTF-8,
 * holds no control characters except '\n' and '\t', is bounded, says so
 * visibly when it was cut, and (when non-empty) ends with '\n'.
 *
 * Pure functions, no global state; any thread.
 */
#ifndef SCH_OUTPUT_H
#define SCH_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

/* Pass as `cap` for "no cap". */
#define SCH_OUTPUT_NO_CAP SIZE_MAX
/* Upper bound on what sanitizing adds beyond `cap` bytes of text: a '\n'
 * and the marker line. */
#define SCH_OUTPUT_MARKER_MAX 64

/* Sanitize in[0..len) into a fresh malloc'd, NUL-terminated *out (free()
 * it) of *outlen bytes:
 *   - "\r\n" -> "\n"; a lone '\r' is dropped; other C0 controls, DEL and C1
 *     controls (U+0080..U+009F) are dropped; '\n' and '\t' are kept;
 *   - each maximal invalid UTF-8 subpart becomes U+FFFD;
 *   - at most `cap` bytes of that text are kept, never splitting a
 *     character; when input was dropped, a line
 *     "[output truncated: N bytes omitted]" follows (N = input bytes not
 *     shown), or "[output truncated]" when `truncated_upstream` says an
 *     earlier stage already cut the stream (so N is unknown);
 *   - non-empty output ends with '\n' (one is added if needed).
 * *outlen <= cap + SCH_OUTPUT_MARKER_MAX (when cap is not NO_CAP).  The
 * function is idempotent on its own output when nothing is cut.
 * Returns 0, or -EINVAL when in is NULL with len > 0 or out/outlen NULL. */
int sch_output_sanitize(const char *in, size_t len, size_t cap, int truncated_upstream, char **out,
                        size_t *outlen);

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * <= U+10FFFF), else 0.  NUL bytes are valid. */
int sch_utf8_valid(const char *s, size_t len);

/* Length of the well-formed UTF-8 sequence at s[0..avail), 0 when the bytes
 * there are not one; *cp receives the code point. */
size_t sch_utf8_next(const unsigned char *s, size_t avail, uint32_t *cp);

#endif
