#include "ing_sec.h"

#include "sch_validate.h"
#include "st_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind { CALL, IMPORT, TEXT };

struct pattern {
    enum kind kind;
    const char *word;     /* CALL: name before '('; IMPORT: module; TEXT: literal */
    const char *category; /* for the warning text */
};

static const struct pattern patterns[] = {
    {IMPORT, "os", "system import"},
    {IMPORT, "subprocess", "system import"},
    {IMPORT, "sys", "system import"},
    {IMPORT, "shutil", "system import"},
    {IMPORT, "socket", "system import"},
    {IMPORT, "ctypes", "system import"},
    {IMPORT, "pty", "system import"},
    {TEXT, "child_process", "system import"},
    {CALL, "eval", "dangerous function"},
    {CALL, "exec", "dangerous function"},
    {CALL, "__import__", "dangerous function"},
    {CALL, "open", "file operation"},
    {CALL, "file", "file operation"},
    {CALL, "input", "input function"},
    {CALL, "raw_input", "input function"},
};

static int ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || (unsigned char)c >= 0x80;
}

static const char *skip_blank(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* "name (" as a whole word, not a method (".open(") or part of a name. */
static int match_call(const char *code, size_t len, const char *word)
{
    size_t wl = strlen(word);
    const char *end = code + len, *p = code;
    while ((p = memmem(p, (size_t)(end - p), word, wl)) != NULL) {
        const char *after = skip_blank(p + wl, end);
        int before_ok = p == code || (!ident(p[-1]) && p[-1] != '.');
        if (before_ok && after < end && *after == '(')
            return 1;
        p++;
    }
    return 0;
}

/* 1 when the dotted name at p (up to end) starts with the module `word`. */
static int module_is(const char *p, const char *end, const char *word, size_t wl)
{
    return (size_t)(end - p) >= wl && memcmp(p, word, wl) == 0 &&
           (p + wl == end || !ident(p[wl]));
}

/* Whole-word keyword `kw` at p. */
static int keyword_at(const char *code, const char *p, const char *end, const char *kw)
{
    size_t kl = strlen(kw);
    return (size_t)(end - p) > kl && memcmp(p, kw, kl) == 0 && (p == code || !ident(p[-1])) &&
           (p[kl] == ' ' || p[kl] == '\t');
}

/* "import a, b.c as d" or "from a.b import x" naming module `word`. */
static int match_import(const char *code, size_t len, const char *word)
{
    size_t wl = strlen(word);
    const char *end = code + len;
    for (const char *p = code; p < end; p++) {
        if (keyword_at(code, p, end, "from")) {
            if (module_is(skip_blank(p + 4, end), end, word, wl))
                return 1;
        } else if (keyword_at(code, p, end, "import")) {
            const char *q = skip_blank(p + 6, end);
            while (q < end) { /* a, b.c as d, e */
                if (module_is(q, end, word, wl))
                    return 1;
                while (q < end && *q != ',' && *q != '\n' && *q != ';')
                    q++;
                if (q >= end || *q != ',')
                    break;
                q = skip_blank(q + 1, end);
            }
        }
    }
    return 0;
}

int ing_scan_code(const char *code, size_t len, char ***warnings, size_t *n)
{
    int added = 0;
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        const struct pattern *pt = &patterns[i];
        int hit = pt->kind == CALL     ? match_call(code, len, pt->word)
                  : pt->kind == IMPORT ? match_import(code, len, pt->word)
                                       : memmem(code, len, pt->word, strlen(pt->word)) != NULL;
        if (!hit || *n >= ING_SCAN_MAX_WARNINGS)
            continue;
        char text[128];
        if (pt->kind == CALL)
            snprintf(text, sizeof text, "potentially dangerous pattern: %s() (%s)", pt->word,
                     pt->category);
        else if (pt->kind == IMPORT)
            snprintf(text, sizeof text, "potentially dangerous pattern: import %s (%s)",
                     pt->word, pt->category);
        else
            snprintf(text, sizeof text, "potentially dangerous pattern: %s (%s)", pt->word,
                     pt->category);
        char **v = realloc(*warnings, (*n + 1) * sizeof *v);
        if (!v)
            return -ENOMEM;
        *warnings = v;
        if (!(v[*n] = strdup(text)))
            return -ENOMEM;
        (*n)++;
        added++;
    }
    return added;
}

int ing_fname_ext_allowed(const char *name)
{
    return st_extension_allowed(name); /* the one whitelist (common/storage/st_files.h) */
}

int ing_fname_safe(const char *name, const char **why)
{
    const char *reason = NULL;
    if (!sch_valid_filename(name, &reason))
        ;
    else if (strpbrk(name, ING_FNAME_DANGEROUS))
        reason = "must not contain any of < > : \" | ? * ; & $ `";
    if (why)
        *why = reason;
    return reason == NULL;
}

int ing_fname_ok(const char *name, const char **why)
{
    if (!ing_fname_safe(name, why))
        return 0;
    if (!ing_fname_ext_allowed(name)) {
        if (why)
            *why = "file type not allowed (extension not on the whitelist)";
        return 0;
    }
    return 1;
}
