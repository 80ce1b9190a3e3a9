/*
 * sch_types.c - language and status tables, release functions.
 */
#include "sch_types.h"

#include "ci_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const sch_lang_names[SCH_LANG_COUNT] = {
    "py", "js", "ts", "go", "java", "c", "cpp", "php", "rs", "r", "f90", "d", "bash",
};

static const char *const sch_file_kind_names[SCH_FILE_KIND_COUNT] = {"user", "agent", "skill"};

static const char *const sch_status_names[SCH_STATUS_COUNT] = {
    "queued", "running", "completed", "failed", "timeout", "oom", "cancelled", "dead",
};

const char *sch_lang_name(enum sch_lang lang)
{
    if ((int)lang < 0 || lang >= SCH_LANG_COUNT)
        return NULL;
    return sch_lang_names[lang];
}

enum sch_lang sch_lang_from_name(const char *name)
{
    if (!name)
        return SCH_LANG_NONE;
    for (int i = 0; i < SCH_LANG_COUNT; i++)
        if (strcasecmp(name, sch_lang_names[i]) == 0)
            return (enum sch_lang)i;
    return SCH_LANG_NONE;
}

const char *sch_status_name(enum sch_status st)
{
    if ((int)st < 0 || st >= SCH_STATUS_COUNT)
        return NULL;
    return sch_status_names[st];
}

enum sch_status sch_status_from_name(const char *name)
{
    if (!name)
        return SCH_STATUS_COUNT;
    for (int i = 0; i < SCH_STATUS_COUNT; i++)
        if (strcmp(name, sch_status_names[i]) == 0)
            return (enum sch_status)i;
    return SCH_STATUS_COUNT;
}

const char *sch_file_kind_name(enum sch_file_kind kind)
{
    if ((int)kind < 0 || kind >= SCH_FILE_KIND_COUNT)
        return NULL;
    return sch_file_kind_names[kind];
}

enum sch_file_kind sch_file_kind_from_name(const char *name)
{
    if (!name)
        return SCH_FILE_KIND_COUNT;
    for (int i = 0; i < SCH_FILE_KIND_COUNT; i++)
        if (strcmp(name, sch_file_kind_names[i]) == 0)
            return (enum sch_file_kind)i;
    return SCH_FILE_KIND_COUNT;
}

int sch_status_is_terminal(enum sch_status st)
{
    switch (st) {
    case SCH_STATUS_COMPLETED:
    case SCH_STATUS_FAILED:
    case SCH_STATUS_TIMEOUT:
    case SCH_STATUS_OOM:
    case SCH_STATUS_CANCELLED:
    case SCH_STATUS_DEAD:
        return 1;
    default:
        return 0;
    }
}

void sch_file_release(struct sch_file *f)
{
    if (!f)
        return;
    free(f->id);
    free(f->session_id);
    free(f->name);
    free(f->path);
    free(f->resource_id);
    free(f->version);
    memset(f, 0, sizeof *f);
}

static void sch_files_free(struct sch_file *files, size_t n)
{
    for (size_t i = 0; files && i < n; i++)
        sch_file_release(&files[i]);
    free(files);
}

static void sch_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void sch_job_release(struct sch_job *job)
{
    if (!job)
        return;
    free(job->id);
    free(job->session_id);
    free(job->code);
    sch_strv_free(job->args, job->nargs);
    free(job->user_id);
    free(job->entity_id);
    free(job->owner);
    free(job->request_id);
    free(job->callback_url);
    free(job->tools);
    sch_files_free(job->files, job->nfiles);
    sch_strv_free(job->warnings, job->nwarnings);
    memset(job, 0, sizeof *job);
}

void sch_result_release(struct sch_result *res)
{
    if (!res)
        return;
    free(res->stdout_buf);
    free(res->stderr_buf);
    sch_files_free(res->files, res->nfiles);
    sch_strv_free(res->warnings, res->nwarnings);
    free(res->error);
    sch_strv_free(res->deleted_files, res->ndeleted_files);
    memset(res, 0, sizeof *res);
}

int sch_result_add_warning(struct sch_result *res, const char *text)
{
    if (!res || !text)
        return -EINVAL;
    char **v = realloc(res->warnings, (res->nwarnings + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    res->warnings = v;
    v[res->nwarnings] = strdup(text);
    if (!v[res->nwarnings])
        return -ENOMEM;
    res->nwarnings++;
    return 0;
}
