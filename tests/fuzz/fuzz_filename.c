/*
 * fuzz_filename.c - file names: sch_valid_filename, ing_fname_safe,
 * ing_fname_ok (SECURITY.md "Filename Validation").
 *
 * Input: the bytes of a name (cut at the first NUL, as C sees it).
 * Contract: an accepted name is 1..255 bytes, has no '/', '\\', control
 * character or dangerous character, is not "." or "..", and has a
 * whitelisted extension; a refused one carries a reason; the checks are
 * monotone (ok => safe => sch_valid_filename).  Nested names
 * (sch_valid_relpath): an accepted one is 1..255 bytes, not absolute, has
 * at most SCH_FILEPATH_DEPTH components, each itself a sch_valid_filename
 * (so none is empty, "." or ".."); a single safe name is always a valid
 * relative path.
 */
#include "ing_sec.h"
#include "sch_validate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const ci_fuzz_dict[] = {
    "../", "..\\", "..", ".", "/", "\\", ".txt", ".TXT", ".py", ".exe", ".sh", ".tar.gz",
    "%2e%2e%2f", "\xc3\xa9", "\xff", "\x7f", "\x01", ";", "|", "$", "`", "*", "?", "<", ">",
    ":", "\"", "&", " ", NULL,
};

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name = malloc(size + 1);
    if (!name)
        return 0;
    memcpy(name, data, size);
    name[size] = '\0';
    const char *why_ok = NULL, *why_safe = NULL, *why_sch = NULL;
    int ok = ing_fname_ok(name, &why_ok);
    int safe = ing_fname_safe(name, &why_safe);
    int sch = sch_valid_filename(name, &why_sch);
    size_t n = strlen(name);

    check(ok == (why_ok == NULL) && safe == (why_safe == NULL) && sch == (why_sch == NULL));
    check(!ok || safe);
    check(!safe || sch);
    check(ok == (safe && ing_fname_ext_allowed(name)));
    if (sch) {
        check(n >= 1 && n <= 255);
        check(!strchr(name, '/') && !strchr(name, '\\'));
        check(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
        for (size_t i = 0; i < n; i++)
            check((unsigned char)name[i] >= 0x20 && name[i] != 0x7f);
    }
    if (safe)
        check(strpbrk(name, ING_FNAME_DANGEROUS) == NULL);
    if (ok)
        check(strrchr(name, '.') != NULL);
    const char *why_rel = NULL;
    int rel = sch_valid_relpath(name, &why_rel);
    check(rel == (why_rel == NULL));
    check(!sch || rel);
    if (rel) {
        size_t depth = 0;
        check(n >= 1 && n <= 255 && name[0] != '/' && !strchr(name, '\\'));
        for (char *p = name, *slash;; p = slash + 1) {
            slash = strchr(p, '/');
            if (slash)
                *slash = '\0';
            check(sch_valid_filename(p, NULL));
            depth++;
            if (!slash)
                break;
        }
        check(depth <= SCH_FILEPATH_DEPTH);
    }
    free(name);
    return 0;
}
