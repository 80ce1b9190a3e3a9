/*
 * wk_files.c - staging session files into /mnt/data before a run
 * (stage-out is wk_files_out.c).
 *
 * For each reference {id, session_id, name} of the job (threadpool work):
 *   1. the job's caller (owner, user_id) must be allowed to read the
 *      referenced storage session (st_access.h: its own private session,
 *      or an agent/skill session of its tenant) - else a user error "file
 *      not found: <name>", the same answer as for a missing file, so
 *      foreign files stay invisible;
 *   2. its metadata files/<sid>/<id>.meta must exist (else the same error);
 *   3. the bytes are written to <data dir>/<name>; a nested name
 *      ("dir/file.csv") has its directories made as needed, each reached
 *      by openat(O_NOFOLLOW) from the data dir's fd (a symlink on the way,
 *      left by an earlier run of the session, is a user error and nothing
 *      is written through it); a file of that name left by an earlier run
 *      is replaced, a directory there is a user error; the file is created
 *      with O_EXCL through /proc/self/fd/<parent fd>/<base>, then chowned
 *      to the sandbox user (1000:1000).
 * Then the data dir is scanned (wk_files_int.h: bounded, no hashing) and
 * each staged input's identity is recorded, also when the job references
 * none: a reused container may hold earlier files.
 * Redis or storage failures are infrastructure errors (rc < 0, retried).
 */
#include "wk_files_int.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "q_keys.h"
#include "st_access.h"
#include "st_files.h"
#include "wk_config.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct st_store *s_store;
static int s_store_tried;

struct st_store *wk_files_store(void)
{
    if (!s_store_tried) {
        s_store_tried = 1;
        if (st_store_open_from_env(&s_store) != 0)
            s_store = NULL;
    }
    return s_store;
}

/* -- stage-in ----------------------------------------------------------- */

struct stage_in {
    uv_work_t work;
    struct wk_job_ctx *ctx;
    wk_stage_cb cb;
    void *arg;
    struct st_store *st;
    char dir[512];
    int dfd; /* the data dir, O_NOFOLLOW */
    int rc;
    char msg[512];
    struct wk_files_stage *stage;
};

static redisContext *redis_open(void)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(wk_cfg.redis_host, wk_cfg.redis_port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    struct timeval cmd = {5, 0};
    redisSetTimeout(c, cmd);
    if (wk_cfg.redis_password[0]) {
        redisReply *r = redisCommand(c, "AUTH %s", wk_cfg.redis_password);
        int bad = !r || r->type == REDIS_REPLY_ERROR;
        freeReplyObject(r);
        if (bad) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* 1 when the job's caller may read files of sid (st_access.h: the ingress
 * authorised the reference; this re-checks the record at staging time),
 * 0 when not, -EIO on Redis failure. */
static int session_owned(redisContext *c, const struct sch_job *job, const char *sid)
{
    redisReply *r = redisCommand(c, "HMGET " Q_SESS_PREFIX "%s owner user_id kind", sid);
    int rc = -EIO;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        goto out;
    const char *v[3];
    for (int i = 0; i < 3; i++)
        v[i] = r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "";
    rc = st_access_read(v[0], v[1], v[2], job->owner, job->user_id) == ST_ACCESS_OK;
out:
    freeReplyObject(r);
    return rc;
}

/* Copies one referenced file in.  0, > 0 user error (msg set), < 0 infra. */
static int stage_one(struct stage_in *op, redisContext *c, const struct sch_file *f)
{
    const struct sch_job *job = op->ctx->job;
    struct st_file_meta m;
    char key[160], path[1024 + 64];
    int own = session_owned(c, job, f->session_id);
    if (own < 0) {
        snprintf(op->msg, sizeof op->msg, "session store unreachable while staging files");
        return -EIO;
    }
    int rc = own ? st_meta_get(op->st, f->session_id, f->id, &m) : -ENOENT;
    if (rc == -ENOENT || st_file_key(key, sizeof key, f->session_id, f->id, 0) != 0) {
        snprintf(op->msg, sizeof op->msg, "file not found: %s (id %s)", f->name, f->id);
        return 1;
    }
    if (rc != 0) {
        snprintf(op->msg, sizeof op->msg, "file storage failed while staging %s", f->name);
        return -EIO;
    }
    int pfd = -1;
    const char *base = NULL;
    rc = wk_files_open_parent(op->dfd, f->name, 1, &pfd, &base);
    if (rc != 0) {
        snprintf(op->msg, sizeof op->msg, "cannot place %s in /mnt/data: %s", f->name,
                 rc == -ELOOP ? "a directory on its path is a symlink or a file" : strerror(-rc));
        return rc == -EIO ? -EIO : 1;
    }
    if (unlinkat(pfd, base, 0) != 0 && errno != ENOENT) {
        snprintf(op->msg, sizeof op->msg, "cannot place %s in /mnt/data: %s", f->name,
                 strerror(errno));
        close(pfd);
        return 1;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d/%s", pfd, base);
    rc = st_get_to_file(op->st, key, path, (int64_t)wk_cfg.limits.max_file_size_mb << 20);
    if (rc == 0 && fchownat(pfd, base, WK_FILES_UID, WK_FILES_GID, AT_SYMLINK_NOFOLLOW) != 0)
        rc = -errno;
    close(pfd);
    if (rc == -ENOENT) {
        snprintf(op->msg, sizeof op->msg, "file not found: %s (id %s)", f->name, f->id);
        return 1;
    }
    if (rc == -EFBIG) {
        snprintf(op->msg, sizeof op->msg, "file %s is larger than MAX_FILE_SIZE_MB", f->name);
        return 1;
    }
    if (rc != 0) {
        snprintf(op->msg, sizeof op->msg, "cannot stage %s: %s", f->name, strerror(-rc));
        return rc == -EEXIST ? 1 : -EIO;
    }
    return 0;
}

/* Records what stage-in left: the scan, and each staged input. */
static void record(struct stage_in *op)
{
    const struct sch_job *job = op->ctx->job;
    struct wk_files_stage *st = ci_xcalloc(1, sizeof *st);
    op->stage = st;
    int rc = wk_files_scan(op->dfd, &st->seen);
    if (rc != 0) {
        op->rc = rc;
        snprintf(op->msg, sizeof op->msg, "cannot list /mnt/data: %s", strerror(-rc));
        return;
    }
    st->nin = job->nfiles;
    st->in = ci_xcalloc(job->nfiles ? job->nfiles : 1, sizeof *st->in);
    for (size_t i = 0; i < job->nfiles; i++) {
        struct stat sb;
        const char *name = job->files[i].name;
        if (!name || wk_files_stat_rel(op->dfd, name, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        for (size_t j = 0; j < i; j++) /* a later ref of the same name replaced it */
            if (st->in[j].name && strcmp(st->in[j].name, name) == 0) {
                free(st->in[j].name);
                st->in[j].name = NULL;
            }
        st->in[i].name = ci_xstrdup(name);
        wk_files_record(&st->in[i], &sb);
    }
}

static void in_work(uv_work_t *w)
{
    struct stage_in *op = w->data;
    const struct sch_job *job = op->ctx->job;
    redisContext *c = NULL;
    op->dfd = open(op->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (op->dfd < 0) {
        op->rc = -errno;
        snprintf(op->msg, sizeof op->msg, "cannot open /mnt/data: %s", strerror(errno));
        return;
    }
    if (job->nfiles > 0) {
        if (!op->st) {
            op->rc = -EINVAL;
            snprintf(op->msg, sizeof op->msg, "file storage is not configured");
            goto out;
        }
        if (!(c = redis_open())) {
            op->rc = -EIO;
            snprintf(op->msg, sizeof op->msg, "session store unreachable while staging files");
            goto out;
        }
    }
    for (size_t i = 0; i < job->nfiles && op->rc == 0; i++)
        op->rc = stage_one(op, c, &job->files[i]);
    if (c)
        redisFree(c);
    if (op->rc == 0)
        record(op);
out:
    close(op->dfd);
    op->dfd = -1;
}

static void in_done(uv_work_t *w, int status)
{
    struct stage_in *op = w->data;
    struct wk_job_ctx *ctx = op->ctx;
    int rc = status < 0 ? status : op->rc;
    if (rc == 0) {
        ctx->files_priv = op->stage;
        op->stage = NULL;
    } else {
        rlog_warn(ctx->job->request_id, "job %s: stage-in: %s", ctx->job->id, op->msg);
    }
    wk_files_stage_free(op->stage);
    wk_stage_end(op, op->cb, op->arg, rc, op->msg);
}

void wk_files_stage_in(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg)
{
    struct stage_in *op = ci_xcalloc(1, sizeof *op);
    op->ctx = ctx;
    op->cb = cb;
    op->arg = arg;
    op->st = wk_files_store();
    op->work.data = op;
    snprintf(op->dir, sizeof op->dir, "%s", wk_sandbox_data_dir(ctx->sb));
    int rc = uv_queue_work(ctx->loop, &op->work, in_work, in_done);
    if (rc != 0) {
        free(op);
        cb(arg, rc, "cannot queue the file staging");
    }
}

void wk_files_release(struct wk_job_ctx *ctx)
{
    wk_files_stage_free(ctx->files_priv);
    ctx->files_priv = NULL;
}
