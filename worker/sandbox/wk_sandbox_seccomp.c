/*
 * wk_sandbox_seccomp.c - the project's seccomp profile for sandbox
 * containers (ops/sandbox/seccomp.json, made by ops/sandbox/gen-seccomp.py;
 * docs/sandbox.md "Kernel surface"), loaded once at worker start and sent
 * inline in every create body (HostConfig.SecurityOpt "seccomp=<json>").
 */
#include "wk_sandbox.h"

#include "ci_file.h"
#include "ci_log.h"
#include "ci_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef WK_SECCOMP_DEFAULT_PATH
#define WK_SECCOMP_DEFAULT_PATH "ops/sandbox/seccomp.json"
#endif

static char *g_profile; /* compact JSON, process lifetime */

/* An allowlist profile Docker will accept: default action refuses, every
 * rule names syscalls and an action. */
static int valid_profile(json_t *p, const char **why)
{
    const char *def = json_string_value(json_object_get(p, "defaultAction"));
    json_t *rules = json_object_get(p, "syscalls");
    size_t i;
    json_t *r;
    if (!json_is_object(p)) {
        *why = "not a JSON object";
        return 0;
    }
    if (!def || (strcmp(def, "SCMP_ACT_ERRNO") != 0 && strncmp(def, "SCMP_ACT_KILL", 13) != 0)) {
        *why = "defaultAction must refuse (SCMP_ACT_ERRNO or SCMP_ACT_KILL*)";
        return 0;
    }
    if (!json_is_array(rules) || json_array_size(rules) == 0) {
        *why = "no syscalls rules";
        return 0;
    }
    json_array_foreach(rules, i, r)
    {
        json_t *names = json_object_get(r, "names");
        if (!json_is_array(names) || json_array_size(names) == 0 ||
            !json_is_string(json_object_get(r, "action"))) {
            *why = "a rule without names or action";
            return 0;
        }
    }
    return 1;
}

int wk_sandbox_seccomp_load(const char *path, char **out)
{
    char *text = NULL;
    size_t len = 0;
    const char *why = NULL;
    json_error_t jerr;
    int rc = ci_file_read(path, WK_SECCOMP_MAX_BYTES, &text, &len);
    if (rc < 0) {
        log_error("seccomp profile %s: cannot read it (%s)", path, strerror(-rc));
        return rc;
    }
    json_t *p = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!p) {
        log_error("seccomp profile %s: invalid JSON (%s, line %d)", path, jerr.text, jerr.line);
        return -EINVAL;
    }
    if (!valid_profile(p, &why)) {
        log_error("seccomp profile %s: %s", path, why);
        json_decref(p);
        return -EINVAL;
    }
    *out = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    return *out ? 0 : -ENOMEM;
}

int wk_sandbox_seccomp_init(void)
{
    const char *path = getenv("SANDBOX_SECCOMP_PROFILE");
    if (!path || !*path)
        path = WK_SECCOMP_DEFAULT_PATH;
    char *p = NULL;
    int rc = wk_sandbox_seccomp_load(path, &p);
    if (rc < 0)
        return rc;
    free(g_profile);
    g_profile = p;
    log_info("seccomp profile %s loaded (%zu bytes)", path, strlen(p));
    return 0;
}

const char *wk_sandbox_seccomp_profile(void)
{
    return g_profile;
}
