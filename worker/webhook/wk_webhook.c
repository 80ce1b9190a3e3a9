/*
 * wk_webhook.c - webhook delivery loop: claim, send, record (wk_webhook.h).
 */
#include "wk_webhook.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "q_batch.h"
#include "q_job.h"
#include "q_link.h"
#include "q_webhook.h"
#include "wk_config.h"
#include "wk_curl_uv.h"
#include "wk_stats.h"
#include "wk_webhook_body.h"
#include "wk_webhook_guard.h"

#include <errno.h>
#include <hiredis/async.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A response body is drained whatever its size (a 200 with a long body is
 * a delivery); only its first bytes are kept, for the log. */
#define WH_RESPONSE_KEEP 256

struct wh_cfg {
    int concurrency;
    int64_t poll_ms, lease_ms, timeout_ms, retry_base_ms, retry_max_ms, max_age_ms, ttl_s;
    char secret[256]; /* WEBHOOK_SECRET: default when the owner has none */
};

struct wk_webhook {
    uv_loop_t *loop;
    struct wk_curl_uv *cu;
    struct q_link *link; /* q_link.h: reconnects, command timeouts, keepalive */
    uv_timer_t timer;
    struct wh_cfg cfg;
    int inflight; /* claimed and not yet recorded */
    int claiming;
    char claim_token[160]; /* of the claim in flight */
    int stopping, closing, link_closing;
    uint64_t seq;
    void (*done)(void *arg);
    void *done_arg;
};

struct wh_delivery {
    struct wk_webhook *wh;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    size_t got;                        /* response bytes seen */
    char resp[WH_RESPONSE_KEEP + 1];   /* their first bytes, NUL-terminated */
    char wid[96], type[24], subject[80], token[160];
    int attempts;
    int64_t created_at;
    struct wk_guard_note note;
};

static void wh_maybe_close(struct wk_webhook *wh);

/* -- redis ------------------------------------------------------------- */

static int wh_link_open(struct wk_webhook *wh)
{
    struct q_link_config cfg = {.host = wk_cfg.redis_host,
                                .port = wk_cfg.redis_port,
                                .password = wk_cfg.redis_password,
                                .name = "webhooks"};
    return q_link_open(wh->loop, &cfg, NULL, NULL, &wh->link);
}

/* -- finishing a delivery ---------------------------------------------- */

static void wh_delivery_free(struct wh_delivery *d)
{
    struct wk_webhook *wh = d->wh;
    if (d->easy)
        curl_easy_cleanup(d->easy);
    curl_slist_free_all(d->hdrs);
    free(d->body);
    free(d);
    wh->inflight--;
    wh_maybe_close(wh);
}

static void on_finished(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wh_delivery *d = priv;
    redisReply *r = reply;
    (void)ac;
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_warn("webhooks: %s: recording the outcome failed (%s); the lease retries it", d->wid,
                 r ? r->str : "disconnected");
    else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
        log_info("webhooks: %s: claim taken over by another worker; outcome dropped", d->wid);
    wh_delivery_free(d);
}

static int64_t wh_retry_delay(const struct wh_cfg *cfg, int attempts)
{
    int64_t delay = cfg->retry_base_ms;
    for (int i = 1; i < attempts && delay < cfg->retry_max_ms; i++)
        delay *= 2;
    if (delay > cfg->retry_max_ms)
        delay = cfg->retry_max_ms;
    unsigned short j = 0;
    RAND_bytes((unsigned char *)&j, sizeof j);
    return delay * 3 / 4 + (int64_t)((double)j / 65535.0 * (double)delay / 2); /* +-25 % */
}

/* Records `outcome` (retry turns into failed past the horizon). */
static void wh_record(struct wh_delivery *d, const char *outcome, const char *error,
                      long http_status)
{
    struct wk_webhook *wh = d->wh;
    int64_t now = ci_now_ms(), next = 0;
    if (strcmp(outcome, "retry") == 0) {
        next = now + wh_retry_delay(&wh->cfg, d->attempts);
        if (next > d->created_at + wh->cfg.max_age_ms)
            outcome = "failed";
    }
    log_info("webhooks: %s (%s %s) attempt %d: %s%s%s", d->wid, d->type, d->subject, d->attempts,
             outcome, error && *error ? ": " : "", error ? error : "");
    wk_stats_incr(strcmp(outcome, "delivered") == 0 ? WK_STAT_WEBHOOK_DELIVERED
                  : strcmp(outcome, "retry") == 0   ? WK_STAT_WEBHOOK_FAILED
                                                    : WK_STAT_WEBHOOK_GAVE_UP,
                  1); /* /metrics (wk_stats.h) */
    char due_key[] = Q_WEBHOOK_DUE, wkey[160], skey[160], nexts[24], nows[24], ttl[24],
         status[24] = "";
    snprintf(wkey, sizeof wkey, "%s%s", Q_WEBHOOK_KEY_PREFIX, d->wid);
    snprintf(skey, sizeof skey, "%s%s",
             strcmp(d->type, "batch.completed") == 0 ? Q_BATCH_KEY_PREFIX : Q_JOB_KEY_PREFIX,
             d->subject);
    snprintf(nexts, sizeof nexts, "%" PRId64, next);
    snprintf(nows, sizeof nows, "%" PRId64, now);
    snprintf(ttl, sizeof ttl, "%" PRId64, wh->cfg.ttl_s);
    if (http_status > 0)
        snprintf(status, sizeof status, "%ld", http_status);
    const char *argv[] = {due_key, wkey, skey, d->wid, d->token, outcome, nexts, error ? error : "",
                          status,  nows, ttl};
    if (q_lua_link_call(wh->link, &q_webhook_finish_lua, on_finished, d, 3,
                        (int)(sizeof argv / sizeof argv[0]), argv, NULL) != 0)
        wh_delivery_free(d); /* not recorded: the claim lease brings it back */
}

static void on_sent(void *arg, CURL *easy, CURLcode result)
{
    struct wh_delivery *d = arg;
    long code = 0;
    char err[200];
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (result != CURLE_OK && wk_guard_refused(&d->note)) {
        wh_record(d, "refused", d->note.why, 0);
    } else if (result == CURLE_OK && code >= 200 && code < 300) {
        wh_record(d, "delivered", "", code);
    } else if (result == CURLE_OK && code == 410) {
        wh_record(d, "gone", "the receiver answered 410 Gone", code);
    } else {
        if (result == CURLE_OK)
            snprintf(err, sizeof err, "the receiver answered %ld", code);
        else
            snprintf(err, sizeof err, "%s", curl_easy_strerror(result));
        if (result == CURLE_OK && d->got)
            log_info("webhooks: %s: %ld with %zu byte(s): %.80s", d->wid, code, d->got,
                     d->resp);
        wh_record(d, result == CURLE_UNSUPPORTED_PROTOCOL ? "refused" : "retry", err, code);
    }
}

static size_t on_response(char *ptr, size_t size, size_t n, void *arg)
{
    struct wh_delivery *d = arg;
    size_t len = size * n, keep = d->got < WH_RESPONSE_KEEP ? WH_RESPONSE_KEEP - d->got : 0;
    if (keep > len)
        keep = len;
    if (keep) {
        for (size_t i = 0; i < keep; i++) /* printable prefix for the log */
            d->resp[d->got + i] = ptr[i] >= 0x20 && ptr[i] < 0x7f ? ptr[i] : '.';
        d->resp[d->got + keep] = '\0';
    }
    d->got += len;
    return len; /* drained: CURLOPT_TIMEOUT_MS bounds a receiver that never stops */
}

/* -- sending ----------------------------------------------------------- */

static int wh_scheme_ok(const char *url)
{
    return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

static CURL *wh_easy(struct wh_delivery *d, const char *url, size_t len)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* the guard must see the receiver itself */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, wk_guard_opensocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &d->note);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "code-interpreter-webhooks/1");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->wh->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)d->wh->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_response);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, d);
    return e;
}

static const char *str_of(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING ? r->str : "";
}

static int64_t int_of(const redisReply *r)
{
    return !r                               ? 0
           : r->type == REDIS_REPLY_INTEGER ? r->integer
           : r->type == REDIS_REPLY_STRING  ? strtoll(r->str, NULL, 10)
                                            : 0;
}

/* One claimed delivery (an entry of the claim reply): build, sign, send. */
static void wh_start_one(struct wk_webhook *wh, const redisReply *e, const char *token)
{
    struct wh_delivery *d = ci_xcalloc(1, sizeof *d);
    char sig[128], hdr[256], why[160] = "";
    size_t len = 0;
    d->wh = wh;
    wh->inflight++;
    snprintf(d->token, sizeof d->token, "%s", token);
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 9) {
        log_error("webhooks: malformed claim entry");
        wh_delivery_free(d);
        return;
    }
    snprintf(d->wid, sizeof d->wid, "%s", str_of(e->element[0]));
    snprintf(d->type, sizeof d->type, "%s", str_of(e->element[1]));
    snprintf(d->subject, sizeof d->subject, "%s", str_of(e->element[2]));
    const char *url = str_of(e->element[3]);
    d->created_at = int_of(e->element[4]);
    d->attempts = (int)int_of(e->element[5]);
    const char *secret = str_of(e->element[6]);
    if (!*secret)
        secret = wh->cfg.secret;
    if (!wh_scheme_ok(url)) {
        wh_record(d, "refused", "only http:// and https:// callback URLs are allowed", 0);
        return;
    }
    d->body = wk_webhook_body(e, &len, why, sizeof why);
    if (!d->body) {
        wh_record(d, "failed", why, 0);
        return;
    }
    int64_t ts = ci_now_ms() / 1000;
    if (wk_webhook_sign(secret, d->wid, ts, d->body, len, sig, sizeof sig) != 0) {
        wh_record(d, "failed", "no usable signing secret (POST /webhooks/secret or WEBHOOK_SECRET)",
                  0);
        return;
    }
    d->hdrs = curl_slist_append(d->hdrs, "Content-Type: application/json");
    d->hdrs = curl_slist_append(d->hdrs, "Expect:");
    snprintf(hdr, sizeof hdr, "webhook-id: %s", d->wid);
    d->hdrs = curl_slist_append(d->hdrs, hdr);
    snprintf(hdr, sizeof hdr, "webhook-timestamp: %" PRId64, ts);
    d->hdrs = curl_slist_append(d->hdrs, hdr);
    snprintf(hdr, sizeof hdr, "webhook-signature: %s", sig);
    d->hdrs = curl_slist_append(d->hdrs, hdr);
    d->easy = wh_easy(d, url, len);
    if (!d->easy || wk_curl_uv_add(wh->cu, d->easy, on_sent, d) != 0) {
        wh_record(d, "retry", "cannot start the HTTP request", 0);
        return;
    }
}

/* -- claiming ---------------------------------------------------------- */

static void on_claimed(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_webhook *wh = priv;
    redisReply *r = reply;
    (void)ac;
    wh->claiming = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_warn("webhooks: claim failed: %s", r->str);
        wh_maybe_close(wh);
        return;
    }
    for (size_t i = 0; i < r->elements; i++)
        wh_start_one(wh, r->element[i], wh->claim_token);
    wh_maybe_close(wh);
}

static void wh_claim(struct wk_webhook *wh)
{
    int room = wh->cfg.concurrency - wh->inflight;
    if (room <= 0 || wh->claiming || !q_link_is_up(wh->link))
        return;
    static char fields_buf[] = Q_JOB_FIELDS;
    static const char *fields[Q_JOB_NFIELDS];
    static int nfields;
    if (!nfields) { /* split once; the buffer is static and never changes after */
        for (char *f = fields_buf; *f && nfields < Q_JOB_NFIELDS;) {
            size_t n = strcspn(f, " ");
            fields[nfields++] = f;
            if (!f[n])
                break;
            f[n] = '\0';
            f += n + 1;
        }
    }
    char now[24], lease[24], max[16];
    snprintf(now, sizeof now, "%" PRId64, ci_now_ms());
    snprintf(lease, sizeof lease, "%" PRId64, wh->cfg.lease_ms);
    snprintf(max, sizeof max, "%d", room);
    snprintf(wh->claim_token, sizeof wh->claim_token, "%s:%" PRIu64, wk_cfg.worker_id, ++wh->seq);
    const char *argv[5 + Q_JOB_NFIELDS] = {Q_WEBHOOK_DUE, now, lease, max, wh->claim_token};
    for (int i = 0; i < nfields; i++)
        argv[5 + i] = fields[i];
    if (q_lua_link_call(wh->link, &q_webhook_claim_lua, on_claimed, wh, 1, 5 + nfields, argv,
                        NULL) == 0)
        wh->claiming = 1;
}

static void on_tick(uv_timer_t *t)
{
    struct wk_webhook *wh = t->data;
    if (wh->stopping)
        return;
    wh_claim(wh); /* nothing while the link is down: it reconnects by itself */
}

/* -- lifecycle --------------------------------------------------------- */

static void wh_load_cfg(struct wh_cfg *c)
{
    c->concurrency = (int)ci_env_int("WEBHOOK_CONCURRENCY", 16, 0, 1024);
    c->poll_ms = ci_env_int("WEBHOOK_POLL_MS", 250, 10, 60000);
    c->timeout_ms = ci_env_int("WEBHOOK_TIMEOUT_MS", 10000, 100, 300000);
    c->lease_ms = ci_env_int("WEBHOOK_LEASE_MS", c->timeout_ms * 3 + 5000, 1000, 3600000);
    c->retry_base_ms = ci_env_int("WEBHOOK_RETRY_BASE_MS", 5000, 10, 3600000);
    c->retry_max_ms = ci_env_int("WEBHOOK_RETRY_MAX_MS", 3600000, 10, 86400000);
    c->max_age_ms = ci_env_int("WEBHOOK_MAX_AGE_SECONDS", 86400, 1, 30 * 86400) * 1000;
    c->ttl_s = q_job_ttl_default();
    snprintf(c->secret, sizeof c->secret, "%s", ci_env_str("WEBHOOK_SECRET", ""));
}

int wk_webhook_start(uv_loop_t *loop, struct wk_webhook **out)
{
    *out = NULL;
    struct wk_webhook *wh = ci_xcalloc(1, sizeof *wh);
    wh_load_cfg(&wh->cfg);
    if (wh->cfg.concurrency == 0) {
        log_info("webhooks: delivery is off in this worker (WEBHOOK_CONCURRENCY=0)");
        free(wh);
        return 0;
    }
    int rc = wk_guard_init(ci_env_str("WEBHOOK_ALLOW_CIDRS", ""));
    if (rc == 0)
        rc = wk_curl_uv_new(loop, &wh->cu);
    if (rc != 0) {
        free(wh);
        return rc;
    }
    wh->loop = loop;
    if (wh_link_open(wh) != 0)
        log_error("webhooks: cannot create the redis link");
    uv_timer_init(loop, &wh->timer);
    wh->timer.data = wh;
    uv_timer_start(&wh->timer, on_tick, 0, (uint64_t)wh->cfg.poll_ms);
    *out = wh;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct wk_webhook *wh = h->data;
    void (*done)(void *) = wh->done;
    void *arg = wh->done_arg;
    free(wh);
    if (done)
        done(arg);
}

static void on_curl_closed(void *arg)
{
    struct wk_webhook *wh = arg;
    uv_close((uv_handle_t *)&wh->timer, on_timer_closed);
}

static void on_link_closed(void *arg)
{
    struct wk_webhook *wh = arg;
    wh->link_closing = 0;
    wh_maybe_close(wh);
}

/* Once stopping and nothing is in flight: close the link, then curl. */
static void wh_maybe_close(struct wk_webhook *wh)
{
    if (!wh->stopping || wh->inflight > 0 || wh->claiming)
        return;
    if (wh->link) { /* nothing of ours is pending on it any more */
        struct q_link *l = wh->link;
        wh->link = NULL;
        wh->link_closing = 1;
        q_link_close(l, 0, on_link_closed, wh);
        return;
    }
    if (wh->closing || wh->link_closing)
        return;
    wh->closing = 1;
    wk_curl_uv_close(wh->cu, on_curl_closed, wh);
}

void wk_webhook_stop(struct wk_webhook *wh, void (*done)(void *arg), void *arg)
{
    if (!wh) {
        if (done)
            done(arg);
        return;
    }
    log_info("webhooks: stopping (%d delivery(ies) in flight finish first)", wh->inflight);
    wh->stopping = 1;
    wh->done = done;
    wh->done_arg = arg;
    uv_timer_stop(&wh->timer);
    wh_maybe_close(wh);
}
