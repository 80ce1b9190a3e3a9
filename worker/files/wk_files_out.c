/*
 * wk_files_out.c - collecting the program's outputs from /mnt/data after a
 * run (threadpool work).
 *
 * The data dir is scanned again (wk_files_int.h: by fd, no symlink ever
 * followed, bounded by MAX_SCAN_ENTRIES and MAX_OUTPUT_DEPTH, nothing
 * hashed).  Then:
 *   - each input staged by this job (stage-in's record) that is still
 *     there, unchanged, is echoed in res->files with inherited = 1 and its
 *     own id and storage session; one that is gone (or no longer a regular
 *     file) is named in res->deleted_files; a changed one is an output;
 *   - a regular file that is new or changed since stage-in is an output.
 *     Outputs are taken in name order ("a.txt" < "dir/b.txt"); each is
 *     dropped with a warning when its relative path is not a valid name
 *     (sch_valid_relpath: what the ingress accepts back in a reference),
 *     when MAX_OUTPUT_FILES are already stored, when it is larger than
 *     MAX_FILE_SIZE_MB (decided by fstat, so a sparse 20 GB file is never
 *     read), or when it grows past that limit while being read: it is
 *     copied into an unlinked temporary file (TMPDIR) reading at most
 *     limit + 1 bytes from the descriptor opened with O_NOFOLLOW, and
 *     stored from that copy.  A stored output becomes a session file of the
 *     job's session, listed as {id, name "dir/b.txt", path
 *     "/mnt/data/dir/b.txt", session_id}.
 *   - res->outputs_attempted / outputs_delivered count outputs found and
 *     stored (the response's artifact_delivery when some were dropped).
 * A storage failure ends the step with rc < 0 after the remaining outputs
 * are counted as dropped (the job's result still goes out, with a warning:
 * wk_exec.c never reruns a program for it).
 */
#include "wk_files_int.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "sch_validate.h"
#include "st_files.h"
#include "wk_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DROP_NAMES 3 /* dropped outputs named per warning */

/* Outputs dropped for one reason, for one warning. */
struct drops {
    const char *why;
    size_t n;
    char names[DROP_NAMES][96];
};

enum { DROP_NAME, DROP_COUNT, DROP_SIZE, DROP_GREW, DROP_STORE, DROP_KINDS };

struct out_op {
    uv_work_t work;
    struct wk_job_ctx *ctx;
    wk_stage_cb cb;
    void *arg;
    struct st_store *st;
    char dir[512];
    const struct wk_files_stage *stage;
    char sid[65];
    struct sch_file *files; /* inherited echoes, then stored outputs */
    size_t nfiles;
    char **deleted;
    size_t ndeleted;
    char **warnings;
    size_t nwarnings;
    uint32_t attempted, delivered;
    struct drops drops[DROP_KINDS];
    int rc;
    char msg[256];
};

static void warn(struct out_op *op, const char *buf)
{
    op->warnings = ci_xrealloc(op->warnings, (op->nwarnings + 1) * sizeof *op->warnings);
    op->warnings[op->nwarnings++] = ci_xstrdup(buf);
}

static void drop(struct out_op *op, int kind, const char *name)
{
    struct drops *d = &op->drops[kind];
    if (d->n < DROP_NAMES)
        snprintf(d->names[d->n], sizeof d->names[0], "%s", name);
    d->n++;
}

static void drops_to_warnings(struct out_op *op)
{
    static const char *const why[DROP_KINDS] = {
        [DROP_NAME] = "its path is not a valid file name",
        [DROP_COUNT] = "MAX_OUTPUT_FILES reached",
        [DROP_SIZE] = "larger than MAX_FILE_SIZE_MB",
        [DROP_GREW] = "it grew past MAX_FILE_SIZE_MB while being read",
        [DROP_STORE] = "file storage failed",
    };
    for (int k = 0; k < DROP_KINDS; k++) {
        const struct drops *d = &op->drops[k];
        char w[512];
        int len;
        if (!d->n)
            continue;
        len = snprintf(w, sizeof w, "%zu output file(s) not saved (%s", d->n, why[k]);
        if (k == DROP_COUNT)
            len +=
                snprintf(w + len, sizeof w - (size_t)len, ": %u", wk_cfg.limits.max_output_files);
        else if (k == DROP_SIZE || k == DROP_GREW)
            len += snprintf(w + len, sizeof w - (size_t)len, ": %u MB",
                            wk_cfg.limits.max_file_size_mb);
        len += snprintf(w + len, sizeof w - (size_t)len, "):");
        for (size_t i = 0; i < d->n && i < DROP_NAMES && len < (int)sizeof w; i++)
            len += snprintf(w + len, sizeof w - (size_t)len, "%s %s", i ? "," : "", d->names[i]);
        if (d->n > DROP_NAMES && len < (int)sizeof w)
            snprintf(w + len, sizeof w - (size_t)len, " and %zu more", d->n - DROP_NAMES);
        warn(op, w);
    }
}

static void scan_warnings(struct out_op *op, const struct wk_files_seen *s)
{
    char w[512];
    if (s->truncated) {
        snprintf(w, sizeof w,
                 "/mnt/data holds more than MAX_SCAN_ENTRIES (%u) entries: only the first %u were "
                 "looked at for outputs",
                 wk_cfg.max_scan_entries, wk_cfg.max_scan_entries);
        warn(op, w);
    }
    if (s->ndeep) {
        int len = snprintf(w, sizeof w,
                           "%zu director%s deeper than MAX_OUTPUT_DEPTH (%u) not searched for "
                           "outputs:",
                           s->ndeep, s->ndeep == 1 ? "y" : "ies", wk_cfg.max_output_depth);
        for (size_t i = 0; i < s->ndeep && i < WK_FILES_DEEP_NAMES && len < (int)sizeof w; i++)
            len += snprintf(w + len, sizeof w - (size_t)len, "%s %.100s%s", i ? "," : "",
                            s->deep[i], strlen(s->deep[i]) > 100 ? "..." : "");
        warn(op, w);
    }
}

static int same_entry(const struct wk_files_entry *a, const struct wk_files_entry *b)
{
    return a && b && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static struct sch_file *new_file(struct out_op *op)
{
    op->files = ci_xrealloc(op->files, (op->nfiles + 1) * sizeof *op->files);
    struct sch_file *f = &op->files[op->nfiles++];
    memset(f, 0, sizeof *f);
    return f;
}

static char *data_path(const char *name)
{
    size_t plen = strlen(name) + 11;
    char *p = ci_xmalloc(plen);
    snprintf(p, plen, "/mnt/data/%s", name);
    return p;
}

/* An unlinked temporary file for a bounded copy; fd or -errno. */
static int tmp_file(void)
{
    const char *dir = ci_env_str("TMPDIR", "/tmp");
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[512];
    snprintf(path, sizeof path, "%s/ci-out-XXXXXX", dir);
    fd = mkstemp(path);
    if (fd < 0)
        return -errno;
    unlink(path);
    return fd;
}

/* Copies at most max bytes of src into a new temporary file (*out).
 * 0, -EFBIG when src holds more than max bytes (whatever its size said),
 * or another negative errno. */
static int copy_bounded(int src, int64_t max, int *out)
{
    char buf[65536];
    int64_t total = 0;
    int fd = tmp_file();
    if (fd < 0)
        return fd;
    for (;;) {
        size_t want = sizeof buf;
        if ((int64_t)want > max + 1 - total)
            want = (size_t)(max + 1 - total);
        ssize_t r = read(src, buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return -(e == EAGAIN ? EIO : e);
        }
        if (r == 0)
            break;
        total += r;
        if (total > max) {
            close(fd);
            return -EFBIG;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(fd, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                int e = errno;
                close(fd);
                return -e;
            }
            off += w;
        }
    }
    *out = fd;
    return 0;
}

/* Stores the temporary copy tfd as output `name`.  0 or < 0. */
static int store_one(struct out_op *op, int tfd, const char *name)
{
    struct st_file_meta m;
    char proc[64];
    memset(&m, 0, sizeof m);
    if (ci_random_id(m.id, ST_FILE_ID_LEN) != 0)
        return -EIO;
    snprintf(m.session_id, sizeof m.session_id, "%s", op->sid);
    snprintf(m.name, sizeof m.name, "%s", name);
    snprintf(m.source, sizeof m.source, "output");
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", tfd);
    int rc = st_file_store(op->st, &m, proc);
    if (rc != 0)
        return rc;
    struct sch_file *f = new_file(op);
    f->id = ci_xstrdup(m.id);
    f->name = ci_xstrdup(name);
    f->session_id = ci_xstrdup(op->sid);
    f->path = data_path(name);
    return 0;
}

/* One output candidate: opened by fd, bounded, stored.  Returns < 0 only
 * on a storage failure (op->rc is then set). */
static int take_output(struct out_op *op, int dfd, const char *name)
{
    int64_t max = (int64_t)wk_cfg.limits.max_file_size_mb << 20;
    int pfd, fd, tfd = -1, rc;
    const char *base;
    struct stat sb;
    if (!sch_valid_relpath(name, NULL)) {
        drop(op, DROP_NAME, "(unnamed)");
        return 0;
    }
    if (op->delivered >= wk_cfg.limits.max_output_files) {
        drop(op, DROP_COUNT, name);
        return 0;
    }
    if (wk_files_open_parent(dfd, name, 0, &pfd, &base) != 0)
        return 0; /* gone or swapped since the scan: not an output */
    fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    close(pfd);
    if (fd < 0)
        return 0;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return 0;
    }
    if (sb.st_size > max) {
        close(fd);
        drop(op, DROP_SIZE, name);
        return 0;
    }
    rc = copy_bounded(fd, max, &tfd);
    close(fd);
    if (rc == -EFBIG) {
        drop(op, DROP_GREW, name);
        return 0;
    }
    if (rc == 0) {
        rc = store_one(op, tfd, name);
        close(tfd);
    }
    if (rc != 0) {
        drop(op, DROP_STORE, name);
        op->rc = rc < 0 ? rc : -EIO;
        snprintf(op->msg, sizeof op->msg, "storing output %s failed: %s", name, strerror(-op->rc));
        return op->rc;
    }
    op->delivered++;
    return 0;
}

/* Inputs this job staged: echoed (unchanged) or named as deleted. */
static void inputs(struct out_op *op, int dfd)
{
    const struct sch_job *job = op->ctx->job;
    for (size_t i = 0; op->stage && i < op->stage->nin && i < job->nfiles; i++) {
        const struct wk_files_entry *e = &op->stage->in[i];
        const struct sch_file *ref = &job->files[i];
        struct stat sb;
        if (!e->name)
            continue;
        int rc = wk_files_stat_rel(dfd, e->name, &sb);
        if (rc != 0 || !S_ISREG(sb.st_mode)) {
            if (rc == 0 || rc == -ENOENT || rc == -ENOTDIR || rc == -ELOOP) {
                op->deleted = ci_xrealloc(op->deleted, (op->ndeleted + 1) * sizeof *op->deleted);
                op->deleted[op->ndeleted++] = ci_xstrdup(e->name);
            }
            continue;
        }
        if (!wk_files_same(e, &sb))
            continue; /* changed: the scan finds it as an output */
        struct sch_file *f = new_file(op);
        f->id = ci_xstrdup(ref->id ? ref->id : "");
        f->name = ci_xstrdup(e->name);
        f->session_id = ci_xstrdup(ref->session_id ? ref->session_id : op->sid);
        f->path = data_path(e->name);
        f->inherited = 1;
    }
}

/* 1 when name is an input this job staged and it is unchanged. */
static int unchanged_input(const struct out_op *op, const struct wk_files_entry *now)
{
    for (size_t i = 0; op->stage && i < op->stage->nin; i++)
        if (op->stage->in[i].name && strcmp(op->stage->in[i].name, now->name) == 0)
            return same_entry(&op->stage->in[i], now);
    return 0;
}

static void out_work(uv_work_t *w)
{
    struct out_op *op = w->data;
    struct wk_files_seen now;
    int dfd = open(op->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return; /* nothing to collect (the sandbox may be gone) */
    if (wk_files_scan(dfd, &now) != 0) {
        close(dfd);
        return;
    }
    inputs(op, dfd);
    scan_warnings(op, &now);
    const struct wk_files_seen *before = op->stage ? &op->stage->seen : NULL;
    for (size_t i = 0; i < now.n; i++) {
        const struct wk_files_entry *e = &now.e[i];
        if (same_entry(wk_files_find(before, e->name), e) || unchanged_input(op, e))
            continue;
        op->attempted++;
        if (!op->st) {
            drop(op, DROP_STORE, e->name);
            op->rc = -EINVAL;
            snprintf(op->msg, sizeof op->msg, "file storage is not configured");
        } else if (op->rc != 0) {
            drop(op, DROP_STORE, e->name); /* storage already failed: don't hammer it */
        } else {
            take_output(op, dfd, e->name);
        }
    }
    drops_to_warnings(op);
    wk_files_seen_release(&now);
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
    if (op->ndeleted) {
        res->deleted_files =
            ci_xrealloc(res->deleted_files, (res->ndeleted_files + op->ndeleted) * sizeof(char *));
        memcpy(res->deleted_files + res->ndeleted_files, op->deleted,
               op->ndeleted * sizeof(char *));
        res->ndeleted_files += op->ndeleted;
    }
    free(op->deleted);
    res->outputs_attempted += op->attempted;
    res->outputs_delivered += op->delivered;
    wk_stage_end(op, op->cb, op->arg, status < 0 ? status : op->rc, op->msg);
}

void wk_files_stage_out(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg)
{
    struct out_op *op = ci_xcalloc(1, sizeof *op);
    op->ctx = ctx;
    op->cb = cb;
    op->arg = arg;
    op->st = wk_files_store();
    op->stage = ctx->files_priv;
    op->work.data = op;
    snprintf(op->dir, sizeof op->dir, "%s", wk_sandbox_data_dir(ctx->sb));
    snprintf(op->sid, sizeof op->sid, "%s", ctx->job->session_id ? ctx->job->session_id : "");
    int rc = uv_queue_work(ctx->loop, &op->work, out_work, out_done);
    if (rc != 0) {
        free(op);
        cb(arg, rc, "cannot queue the output collection");
    }
}
