/*
 * sch_valid_util.c - the error list and the id / file name predicates
 * shared by request validation, uploads and file routes.
 */
#include "sch_output.h"
#include "sch_validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sch_errors_init(struct sch_errors *errs)
{
    memset(errs, 0, sizeof *errs);
}

static void sch_errors_vadd(struct sch_errors *errs, const char *prefix, const char *field,
                            const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static void sch_errors_vadd(struct sch_errors *errs, const char *prefix, const char *field,
                            const char *fmt, va_list ap)
{
    if (errs->n >= SCH_ERRORS_MAX) {
        errs->truncated = 1;
        return;
    }
    char *f = errs->item[errs->n].field;
    if (prefix && *prefix)
        snprintf(f, SCH_ERROR_FIELD_MAX, "%s%s%s", prefix, *field ? "." : "", field);
    else
        snprintf(f, SCH_ERROR_FIELD_MAX, "%s", field);
    vsnprintf(errs->item[errs->n].message, SCH_ERROR_MESSAGE_MAX, fmt, ap);
    errs->n++;
}

void sch_errors_add(struct sch_errors *errs, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sch_errors_vadd(errs, NULL, field ? field : "", fmt, ap);
    va_end(ap);
}

static void sch_errors_add_prefixed(struct sch_errors *errs, const char *prefix, const char *field,
                                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void sch_errors_add_prefixed(struct sch_errors *errs, const char *prefix, const char *field,
                                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sch_errors_vadd(errs, prefix, field, fmt, ap);
    va_end(ap);
}

void sch_errors_merge(struct sch_errors *dst, const struct sch_errors *src, const char *prefix)
{
    for (size_t i = 0; i < src->n; i++)
        sch_errors_add_prefixed(dst, prefix, src->item[i].field, "%s", src->item[i].message);
    if (src->truncated)
        dst->truncated = 1;
}

static int sch_id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

int sch_valid_id(const char *s, size_t maxlen)
{
    if (!s || !*s)
        return 0;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= maxlen || !sch_id_char((unsigned char)s[n]))
            return 0;
    return 1;
}

int sch_valid_filename(const char *name, const char **why)
{
    const char *reason = NULL;
    size_t n = name ? strlen(name) : 0;

    if (n == 0)
        reason = "must not be empty";
    else if (n > SCH_FILENAME_MAX)
        reason = "must be at most 255 bytes";
    else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        reason = "must not be \".\" or \"..\"";
    else if (strpbrk(name, "/\\"))
        reason = "must not contain '/' or '\\'";
    else if (!sch_utf8_valid(name, n))
        reason = "must be valid UTF-8";
    else
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
                reason = "must not contain control characters";
                break;
            }
    if (why)
        *why = reason;
    return reason == NULL;
}

int sch_valid_relpath(const char *name, const char **why)
{
    const char *reason = NULL;
    size_t n = name ? strlen(name) : 0, depth = 0;
    char comp[SCH_FILENAME_MAX + 1];

    if (n == 0)
        reason = "must not be empty";
    else if (n > SCH_FILENAME_MAX)
        reason = "must be at most 255 bytes";
    else if (name[0] == '/')
        reason = "must be a relative path";
    for (const char *p = name; !reason && p <= name + n;) {
        size_t len = strcspn(p, "/");
        if (++depth > SCH_FILEPATH_DEPTH) {
            reason = "must have at most 8 path components";
            break;
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        if (len == 0)
            reason = "must not have empty path components";
        else if (!sch_valid_filename(comp, &reason))
            break;
        p += len + 1;
    }
    if (why)
        *why = reason;
    return reason == NULL;
}
