/*
 * bench_queue.c - queue throughput against a private redis-server, with
 * redis-benchmark on the same server as the baseline.
 *
 *   bench_queue [-n JOBS] [-c CONSUMERS] [-w WANT] [--quick]
 *
 * Figures (printed, never asserted):
 *   enqueue      q_enqueue_batch, 1000 jobs per pipeline (128 per script call)
 *   consume      K async consumers on one uv loop draining the enqueued jobs:
 *                read -> start script -> complete script (batched) -> ack
 *   end-to-end   a producer thread enqueues while the consumers drain:
 *                enqueue -> consume -> ack -> result stored, per second
 *   baseline     redis-benchmark -P 16: SET, LPUSH and XADD requests/s, and
 *                the ratio jobs/s : XADD/s
 * DESIGN.md target: >= 30,000 jobs/s end to end on 2 cores.
 * Each job has a session of its own (independent jobs): every job takes a
 * ticket of its session's line at enqueue and leaves it at completion
 * (docs/queue.md, "Sessions: one call at a time"), never waiting.
 * --quick: small redis-benchmark runs (the ctest smoke run).
 */
#include "ci_redis.h"
#include "ci_util.h"
#include "q_consumer.h"
#include "q_job.h"
#include "sch_types.h"

#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BQ_CHUNK 1000

struct bq {
    int port;
    long n;
    int nconsumers, want;
    uv_loop_t loop;
    struct q_consumer *qc[16];
    long done, got, errors;
    int closed;
};

static struct sch_job *bq_jobs(long n)
{
    struct sch_job *jobs = ci_xcalloc((size_t)n, sizeof *jobs);
    int64_t now = ci_now_ms();
    for (long i = 0; i < n; i++) {
        char id[33];
        ci_random_hex(id, 16);
        jobs[i].id = ci_xstrdup(id);
        char sid[48];
        snprintf(sid, sizeof sid, "bench-%ld", i); /* independent jobs: a session each */
        jobs[i].session_id = ci_xstrdup(sid);
        jobs[i].owner = ci_xstrdup("bench");
        jobs[i].lang = SCH_LANG_PY;
        jobs[i].code = ci_xstrdup("pass");
        jobs[i].code_len = 4;
        jobs[i].created_ms = now;
    }
    return jobs;
}

static void bq_jobs_free(struct sch_job *jobs, long n)
{
    for (long i = 0; i < n; i++)
        sch_job_release(&jobs[i]);
    free(jobs);
}

static int bq_enqueue_all(int port, struct sch_job *jobs, long n)
{
    struct ci_redis r = {.port = port};
    redisContext *c = ci_redis_connect(&r);
    const struct sch_job **ptrs = ci_xcalloc(BQ_CHUNK, sizeof *ptrs);
    int rc = c ? 0 : -1;
    for (long i = 0; i < n && rc == 0; i += BQ_CHUNK) {
        long k = n - i < BQ_CHUNK ? n - i : BQ_CHUNK;
        for (long j = 0; j < k; j++)
            ptrs[j] = &jobs[i + j];
        rc = q_enqueue_batch(c, ptrs, (size_t)k, 3600, NULL);
    }
    free(ptrs);
    if (c)
        redisFree(c);
    return rc;
}

/* CPU seconds used so far by this process (all threads) and by `pid`. */
struct bq_cpu {
    double self, redis;
};

static struct bq_cpu bq_cpu_now(pid_t pid)
{
    struct bq_cpu c = {0};
    struct rusage ru;
    char path[64], buf[1024];
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        c.self = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        char *p = strrchr(buf, ')'); /* fields after "(comm)": state is field 3 */
        unsigned long ut = 0, st = 0;
        if (p &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            c.redis = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    return c;
}

static void bq_cpu_print(struct bq_cpu a, pid_t pid, long jobs)
{
    struct bq_cpu b = bq_cpu_now(pid);
    double cl = b.self - a.self, rd = b.redis - a.redis;
    printf("      cpu: client %.2f s, redis-server %.2f s  (%.1f + %.1f us/job)\n", cl, rd,
           cl * 1e6 / (double)jobs, rd * 1e6 / (double)jobs);
}

struct bq_consumer_ref {
    struct bq *b;
    int i;
};
static struct bq_consumer_ref s_refs[16];

static void bq_done(void *arg, int rc)
{
    struct bq_consumer_ref *ref = arg;
    ref->b->done++;
    if (rc != 0)
        ref->b->errors++;
    q_consumer_want(ref->b->qc[ref->i], ref->b->want);
}

static void bq_on_job(void *arg, struct q_delivery *d)
{
    struct bq_consumer_ref *ref = arg;
    static const struct sch_result res = {
        .status = SCH_STATUS_COMPLETED, .stdout_buf = "ok\n", .stdout_len = 3};
    ref->b->got++;
    if (q_consumer_complete(ref->b->qc[ref->i], d, &res, bq_done, ref) < 0)
        ref->b->errors++;
}

static void bq_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until `target` jobs are done; returns seconds taken. */
static double bq_drain(struct bq *b, long target, int64_t t0_us)
{
    uv_timer_t tick;
    uv_timer_init(&b->loop, &tick);
    uv_timer_start(&tick, bq_tick, 50, 50);
    for (int i = 0; i < b->nconsumers; i++)
        q_consumer_want(b->qc[i], b->want);
    int64_t deadline = ci_mono_us() + 120 * 1000000LL;
    while (b->done < target && ci_mono_us() < deadline)
        uv_run(&b->loop, UV_RUN_ONCE);
    double s = (double)(ci_mono_us() - t0_us) / 1e6;
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&b->loop, UV_RUN_NOWAIT);
    return s;
}

struct bq_producer {
    int port;
    struct sch_job *jobs;
    long n;
    int rc;
};

static void *bq_producer_main(void *arg)
{
    struct bq_producer *p = arg;
    p->rc = bq_enqueue_all(p->port, p->jobs, p->n);
    return NULL;
}

/* Runs one redis-benchmark line; returns the requests/s of the last line. */
static double bq_redis_benchmark(int port, const char *args, const char *label)
{
    char cmd[512], line[512];
    double rps = 0;
    snprintf(cmd, sizeof cmd, "redis-benchmark -h 127.0.0.1 -p %d -q %s 2>/dev/null", port, args);
    FILE *f = popen(cmd, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        /* "SET: 123456.79 requests per second, p50=..." (lines may hold \r) */
        char *last = strrchr(line, '\r');
        char *colon = strstr(last ? last : line, ": ");
        if (colon && strstr(colon, "requests per second")) {
            rps = strtod(colon + 2, NULL);
            *colon = '\0';
            printf("  baseline %-28s %12.0f req/s\n", last ? last + 1 : line, rps);
        }
    }
    pclose(f);
    (void)label;
    return rps;
}

static void bq_closed(void *arg)
{
    ((struct bq *)arg)->closed++;
}

int main(int argc, char **argv)
{
    struct bq b = {.n = 100000, .nconsumers = 2, .want = 512};
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            b.n = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            b.nconsumers = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc)
            b.want = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
    }
    if (b.n < 1 || b.nconsumers < 1 || b.nconsumers > 16 || b.want < 1) {
        fprintf(stderr, "usage: bench_queue [-n JOBS] [-c CONSUMERS<=16] [-w WANT] [--quick]\n");
        return 2;
    }
    struct ci_redis r;
    if (ci_redis_start(&r, NULL) < 0) {
        fprintf(stderr, "bench_queue: cannot start redis-server\n");
        return 1;
    }
    b.port = r.port;
    redisContext *c = ci_redis_connect(&r);
    q_setup(c);
    printf("bench_queue: %ld no-op jobs, %d consumer(s) on one loop, want %d, %ld cpu(s)\n", b.n,
           b.nconsumers, b.want, sysconf(_SC_NPROCESSORS_ONLN));

    struct sch_job *jobs = bq_jobs(b.n);
    struct bq_cpu cpu0 = bq_cpu_now(r.pid);
    int64_t t0 = ci_mono_us();
    int rc = bq_enqueue_all(b.port, jobs, b.n);
    double enq_s = (double)(ci_mono_us() - t0) / 1e6;
    bq_jobs_free(jobs, b.n);
    printf("  enqueue (pipelined)          %12.0f jobs/s  (%.3f s)%s\n", (double)b.n / enq_s, enq_s,
           rc ? "  ERRORS" : "");
    bq_cpu_print(cpu0, r.pid, b.n);
    if (rc < 0) {
        fprintf(stderr, "bench_queue: enqueue failed: %s\n", strerror(-rc));
        ci_redis_cleanup(&r);
        return 1;
    }

    uv_loop_init(&b.loop);
    for (int i = 0; i < b.nconsumers; i++) {
        char name[32];
        snprintf(name, sizeof name, "bench-%d", i);
        struct q_consumer_config cfg = {.port = b.port, .name = name, .block_ms = 100};
        struct q_consumer_cb cb = {.on_job = bq_on_job};
        s_refs[i] = (struct bq_consumer_ref){&b, i};
        q_consumer_start(&b.loop, &cfg, &cb, &s_refs[i], &b.qc[i]);
    }
    cpu0 = bq_cpu_now(r.pid);
    double cons_s = bq_drain(&b, b.n, ci_mono_us());
    printf("  consume->ack->result         %12.0f jobs/s  (%.3f s)\n", (double)b.done / cons_s,
           cons_s);
    bq_cpu_print(cpu0, r.pid, b.n);

    /* end to end: producer thread and consumers at the same time */
    struct bq_producer p = {.port = b.port, .jobs = bq_jobs(b.n), .n = b.n};
    pthread_t th;
    long before = b.done;
    cpu0 = bq_cpu_now(r.pid);
    t0 = ci_mono_us();
    pthread_create(&th, NULL, bq_producer_main, &p);
    double e2e_s = bq_drain(&b, before + b.n, t0);
    pthread_join(th, NULL);
    bq_jobs_free(p.jobs, p.n);
    double e2e = (double)(b.done - before) / e2e_s;
    printf("  end to end enqueue->result   %12.0f jobs/s  (%.3f s)  target 30000: %s\n", e2e, e2e_s,
           e2e >= 30000 ? "met" : "NOT met");
    bq_cpu_print(cpu0, r.pid, b.n);

    struct q_stats st;
    q_stats(c, &st);
    printf("  after: done %ld of %ld, errors %ld, depth %lld, pending %lld, dead %lld\n", b.done,
           2 * b.n, b.errors, (long long)st.depth, (long long)st.pending, (long long)st.dead);

    for (int i = 0; i < b.nconsumers; i++)
        q_consumer_stop(b.qc[i], bq_closed, &b);
    while (b.closed < b.nconsumers)
        uv_run(&b.loop, UV_RUN_ONCE);
    uv_loop_close(&b.loop);

    long bn = quick ? 2000 : 100000;
    char args[256];
    snprintf(args, sizeof args, "-t set,lpush -n %ld -P 16", bn);
    bq_redis_benchmark(b.port, args, "set,lpush");
    snprintf(args, sizeof args, "-n %ld -P 16 XADD bench:stream '*' f v", bn);
    double xadd = bq_redis_benchmark(b.port, args, "xadd");
    if (xadd > 0)
        printf("  ratio end-to-end jobs/s : XADD req/s = %.3f  (enqueue : XADD = %.3f)\n",
               e2e / xadd, (double)b.n / enq_s / xadd);
    redisFree(c);
    ci_redis_cleanup(&r);
    return 0;
}
