/*
 * wk_files_out.c - collecting the program's outputs from /mnt/data after a
 * run (threadpool work).
 *
 * Only regular files directly in /mnt/data count: each entry is opened with
 * O_NOFOLLOW (a symlink is skipped, never followed) and checked with fstat;
 * subdirectories are skipped (not recursed).  A file is an output when it
 * was not there after stage-in, or its size, mtime or SHA-256 changed.
 * Outputs are taken in name order, at most MAX_OUTPUT_FILES (the rest: one
 * warning), each at most MAX_FILE_SIZE_MB (else a warning); names that are
 * not safe file names (sch_valid_filename) are skipped with a warning.  Each
 * is stored from the opened descriptor (/proc/self/fd/N, so a swapped path
 * cannot redirect the read) as a new session file of the job's session, and
 * listed in res->files as {id, name, path "/mnt/data/<name>", session_id}.
 * A storage failure ends the step with rc < 0 (the job's result still goes
 * out, with a warning: wk_exec.c never reruns a program for it).
 */
#include "wk_files_int.h"

#include "ci_log.h"
#include "ci_util.h"
#include "sch_validate.h"
#include "st_files.h"
#include "wk_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct out_op {
    uv_work_t work;
    struct wk_job_ctx *ctx;
    wk_stage_cb cb;
    void *arg;
    struct st_store *st;
    char dir[512];
    const struct wk_files_seen *seen;
    char sid[65];
    struct sch_file *files; /* stored outputs */
    size_t nfiles;
    char **warnings;
    size_t nwarnings;
    int rc;
    char msg[256];
};

static void warn(struct out_op *op, const char *buf)
{
    op->warnings = ci_xrealloc(op->warnings, (op->nwarnings + 1) * sizeof *op->warnings);
    op->warnings[op->nwarnings++] = ci_xstrdup(buf);
}

static const struct wk_files_entry *find_seen(const struct wk_files_seen *s, const char *name)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->e[i].name, name) == 0)
            return &s->e[i];
    return NULL;
}

/* 1 when the open file differs from what stage-in recorded. */
static int changed(const struct wk_files_entry *e, int fd, const struct stat *sb)
{
    unsigned char h[32];
    if (!e || e->size != sb->st_size || e->mtime.tv_sec != sb->st_mtim.tv_sec ||
        e->mtime.tv_nsec != sb->st_mtim.tv_nsec)
        return 1;
    return wk_files_hash_fd(fd, h) != 0 || memcmp(h, e->sha256, 32) != 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Stores one output.  0, or < 0 on a storage failure. */
static int store_one(struct out_op *op, int fd, const char *name)
{
    struct st_file_meta m;
    char proc[64];
    memset(&m, 0, sizeof m);
    if (ci_random_id(m.id, ST_FILE_ID_LEN) != 0)
        return -EIO;
    snprintf(m.session_id, sizeof m.session_id, "%s", op->sid);
    snprintf(m.name, sizeof m.name, "%s", name);
    snprintf(m.source, sizeof m.source, "output");
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (lseek(fd, 0, SEEK_SET) != 0)
        return -EIO;
    int rc = st_file_store(op->st, &m, proc);
    if (rc != 0)
        return rc;
    struct sch_file *f;
    op->files = ci_xrealloc(op->files, (op->nfiles + 1) * sizeof *op->files);
    f = &op->files[op->nfiles++];
    memset(f, 0, sizeof *f);
    f->id = ci_xstrdup(m.id);
    f->name = ci_xstrdup(name);
    f->session_id = ci_xstrdup(op->sid);
    size_t plen = strlen(name) + 11;
    f->path = ci_xmalloc(plen);
    snprintf(f->path, plen, "/mnt/data/%s", name);
    return 0;
}

static void collect(struct out_op *op, int dfd, char **names, size_t n)
{
    int64_t max = (int64_t)wk_cfg.limits.max_file_size_mb << 20;
    size_t skipped = 0;
    for (size_t i = 0; i < n && op->rc == 0; i++) {
        int fd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat sb;
        if (fd < 0)
            continue;
        if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
            !changed(find_seen(op->seen, names[i]), fd, &sb)) {
            close(fd);
            continue;
        }
        char w[400];
        if (!sch_valid_filename(names[i], NULL)) {
            warn(op, "an output file was skipped: its name is not a safe file name");
        } else if (sb.st_size > max) {
            snprintf(w, sizeof w, "output file %s skipped: larger than MAX_FILE_SIZE_MB (%u)",
                     names[i], wk_cfg.limits.max_file_size_mb);
            warn(op, w);
        } else if (op->nfiles >= wk_cfg.limits.max_output_files) {
            skipped++;
        } else {
            int rc = store_one(op, fd, names[i]);
            if (rc != 0) {
                op->rc = rc;
                snprintf(op->msg, sizeof op->msg, "storing output %s failed: %s", names[i],
                         strerror(-rc));
            }
        }
        close(fd);
    }
    if (skipped) {
        char w[128];
        snprintf(w, sizeof w, "%zu more output file(s) not saved: MAX_OUTPUT_FILES (%u) reached",
                 skipped, wk_cfg.limits.max_output_files);
        warn(op, w);
    }
}

static void out_work(uv_work_t *w)
{
    struct out_op *op = w->data;
    int dfd = open(op->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return; /* nothing to collect (the sandbox may be gone) */
    DIR *d = fdopendir(dup(dfd));
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        names = ci_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = ci_xstrdup(de->d_name);
    }
    if (d)
        closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_name);
    if (n && !op->st) {
        op->rc = -EINVAL;
        snprintf(op->msg, sizeof op->msg, "file storage is not configured");
    } else {
        collect(op, dfd, names, n);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    close(dfd);
}

static void out_done(uv_work_t *w, int status)
{
    struct out_op *op = w->data;
    struct sch_result *res = op->ctx->res;
    for (size_t i = 0; i < op->nwarnings; i++) {
        sch_result_add_warning(res, op->warnings[i]);
        free(op->warnings[i]);
    }
    free(op->warnings);
    if (op->nfiles) {
        res->files = ci_xrealloc(res->files, (res->nfiles + op->nfiles) * sizeof *res->files);
        memcpy(res->files + res->nfiles, op->files, op->nfiles * sizeof *op->files);
        res->nfiles += op->nfiles;
    }
    free(op->files);
    wk_stage_end(op, op->cb, op->arg, status < 0 ? status : op->rc, op->msg);
}

void wk_files_stage_out(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg)
{
    struct out_op *op = ci_xcalloc(1, sizeof *op);
    op->ctx = ctx;
    op->cb = cb;
    op->arg = arg;
    op->st = wk_files_store();
    op->seen = ctx->files_priv;
    op->work.data = op;
    snprintf(op->dir, sizeof op->dir, "%s", wk_sandbox_data_dir(ctx->sb));
    snprintf(op->sid, sizeof op->sid, "%s", ctx->job->session_id ? ctx->job->session_id : "");
    int rc = uv_queue_work(ctx->loop, &op->work, out_work, out_done);
    if (rc != 0) {
        free(op);
        cb(arg, rc, "cannot queue the output collection");
    }
}
