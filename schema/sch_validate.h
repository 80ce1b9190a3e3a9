/*
 * sch_validate.h - validation of POST /exec, /jobs and /jobs/batch bodies
 * (DESIGN.md §4.1, §4.2) into a struct sch_job.
 *
 * Rules (status in brackets; "chars" are bytes for ASCII-only fields):
 *   body           a JSON object                                   [400]
 *   code           required string, not only whitespace            [400]
 *                  wrong type [422]; > MAX_CODE_BYTES bytes        [413]
 *   lang           required string, one of the 13 codes, any case  [400]
 *                  wrong type                                      [422]
 *   args           string (one argument) or array of strings       [422]
 *                  <= MAX_ARGS entries [422], each <= MAX_ARG_BYTES [413],
 *                  no NUL [422]
 *   user_id        string, <= 128 UTF-8 characters                 [422]
 *   entity_id      string, <= 40 of [A-Za-z0-9_-] ("" = absent)    [422]
 *   session_id     string, 1..64 of [A-Za-z0-9_-]                  [422]
 *   files          array <= MAX_FILES_PER_SESSION of objects        [422]
 *                  LibreChat's {id: required id, storage_session_id:
 *                   required id, kind?: "user"|"agent"|"skill" (default
 *                   user), resource_id?: <= 128 printable chars,
 *                   version?: integer >= 0 or digit string, name}
 *                  (chosen when storage_session_id or kind is present; a
 *                   session_id given too must equal storage_session_id),
 *                  or the older {id: required id, session_id: required
 *                   id, name, restore_state?: bool} (kind user);
 *                  name: required safe relative path (sch_valid_relpath)
 *   callback_url   string <= 2048, "http://" or "https://" prefix   [422]
 *   timeout        number of milliseconds (LibreChat's unit), > 0   [422]
 *                  -> timeout_ms (rounded up), clamped to
 *                  MAX_EXECUTION_TIME; default MAX_EXECUTION_TIME
 *   priority       "normal" | "high" (any case) | 0 | 1             [422]
 * A JSON null for an optional field means "absent"; for code/lang it means
 * "missing" [400].  Unknown fields are ignored.  A missing required field is
 * a 400 (the caller sent no program), a present one of the wrong JSON type a
 * 422.  Byte-size limits are 413, count and format limits 422.
 *
 * Every failing rule is recorded (up to SCH_ERRORS_MAX, then `truncated`
 * is set); the HTTP status is 400 if any 400 rule failed, else 413 if any
 * size rule failed, else 422.  Field paths look like "files[1].name".
 *
 * The callback URL only gets a syntactic check here; resolving and checking
 * its address against private ranges is the webhook sender's job.  /exec
 * handlers that do not support the /jobs extras may simply ignore them.
 *
 * Ownership: the job is the caller's (sch_job_release()); id, owner,
 * request_id and created_ms are left for the ingress to fill.  Stateless,
 * any thread.
 */
#ifndef SCH_VALIDATE_H
#define SCH_VALIDATE_H

#include "sch_limits.h"
#include "sch_types.h"

#include <jansson.h>
#include <stddef.h>

#define SCH_ERRORS_MAX 16
#define SCH_ERROR_FIELD_MAX 64
#define SCH_ERROR_MESSAGE_MAX 192

/* Fixed-size list of {field, message}; strings are NUL-terminated and cut
 * (not refused) when longer than their buffers.  Plain data, no cleanup. */
struct sch_errors {
    size_t n;
    int truncated; /* more errors happened than fit */
    struct {
        char field[SCH_ERROR_FIELD_MAX];
        char message[SCH_ERROR_MESSAGE_MAX];
    } item[SCH_ERRORS_MAX];
};

#define SCH_USER_ID_MAX 128
#define SCH_ENTITY_ID_MAX 40
#define SCH_SESSION_ID_MAX 64
#define SCH_FILE_ID_MAX 64
#define SCH_FILENAME_MAX 255
#define SCH_CALLBACK_URL_MAX 2048

/* Validate `body` under `lim`.  Returns 0 with *out filled (and
 * *http_status = 200), or -EINVAL with *out released, `errs` listing every
 * failure and *http_status 400, 413 or 422.  `errs` and `http_status` may
 * not be NULL. */
int sch_job_from_json(const json_t *body, const struct sch_limits *lim, struct sch_job *out,
                      struct sch_errors *errs, int *http_status);

/* Empty the list. */
void sch_errors_init(struct sch_errors *errs);
/* Append one error (message printf-formatted, cut to fit). */
void sch_errors_add(struct sch_errors *errs, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append src's errors to dst with "<prefix>." (or "<prefix>" for an empty
 * field) before each field, e.g. prefix "jobs[3]" for batch items. */
void sch_errors_merge(struct sch_errors *dst, const struct sch_errors *src, const char *prefix);

/* 1 when s is 1..maxlen characters of [A-Za-z0-9_-], else 0. */
int sch_valid_id(const char *s, size_t maxlen);

/* 1 when `name` is a safe single path component: 1..255 bytes of valid
 * UTF-8, no '/', '\\', control characters (0x00-0x1f, 0x7f), not "." or "..".  Otherwise 0
 * and, when why is not NULL, *why points to a static reason text. */
int sch_valid_filename(const char *name, const char **why);

/* 1 when `name` is a safe relative path: 1..SCH_FILENAME_MAX bytes, at most
 * SCH_FILEPATH_DEPTH components separated by single '/', each one a
 * sch_valid_filename() (so no "", ".", "..", '\\' or control characters),
 * no leading or trailing '/'.  Otherwise 0 and *why (when not NULL) a static
 * reason text. */
int sch_valid_relpath(const char *name, const char **why);

#endif
