#include "wk_docker.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "wk_curl_uv.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One in-flight request.  Linked into the client so close can fail them. */
struct req {
    struct wk_docker *d;
    CURL *easy;
    struct curl_slist *headers;
    char *body_out; /* request body (curl does not copy POSTFIELDS) */
    char *resp;
    size_t resp_len, resp_cap;
    int oversize;
    wk_docker_cb cb;
    void *arg;
    struct req *prev, *next;
};

struct wk_docker {
    uv_loop_t *loop;
    struct wk_curl_uv *cu;
    char *socket_path;
    long timeout_ms;
    struct req *reqs;
    int closing;
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct req *r = userdata;
    size_t n = size * nmemb;
    if (r->resp_len + n > WK_DOCKER_MAX_BODY) {
        r->oversize = 1;
        return 0; /* aborts with CURLE_WRITE_ERROR */
    }
    ci_buf_append(&r->resp, &r->resp_len, &r->resp_cap, ptr, n);
    return n;
}

static void req_free(struct req *r)
{
    struct wk_docker *d = r->d;
    if (r->prev)
        r->prev->next = r->next;
    else if (d->reqs == r)
        d->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body_out);
    free(r->resp);
    free(r);
}

static int status_from_curl(struct req *r, CURLcode res)
{
    long code = 0;
    switch (res) {
    case CURLE_OK:
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        return code > 0 ? (int)code : -EIO;
    case CURLE_WRITE_ERROR:
        return r->oversize ? -EMSGSIZE : -EIO;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_ABORTED_BY_CALLBACK:
        return -ECANCELED;
    default:
        return -EIO;
    }
}

static void on_done(void *arg, CURL *easy, CURLcode res)
{
    struct req *r = arg;
    int status = status_from_curl(r, res);
    if (status < 0 && status != -ECANCELED)
        log_warn("docker request failed: %s", curl_easy_strerror(res));
    r->cb(r->arg, status, r->resp ? r->resp : "", r->resp_len);
    req_free(r);
}

int wk_docker_new(uv_loop_t *loop, struct wk_docker **out)
{
    struct wk_docker *d = ci_xcalloc(1, sizeof *d);
    int rc = wk_curl_uv_new(loop, &d->cu);
    if (rc < 0) {
        free(d);
        return rc;
    }
    d->loop = loop;
    d->socket_path = ci_xstrdup(ci_env_str("DOCKER_SOCKET", "/var/run/docker.sock"));
    d->timeout_ms = (long)ci_env_int("DOCKER_TIMEOUT_MS", 30000, 100, 600000);
    *out = d;
    return 0;
}

static void on_cu_closed(void *arg)
{
    struct wk_docker *d = arg;
    void (*cb)(void *) = d->closed_cb;
    void *cb_arg = d->closed_arg;
    free(d->socket_path);
    free(d);
    if (cb)
        cb(cb_arg);
}

void wk_docker_close(struct wk_docker *d, void (*closed_cb)(void *arg), void *arg)
{
    d->closing = 1;
    d->closed_cb = closed_cb;
    d->closed_arg = arg;
    /* wk_curl_uv_close aborts every transfer: on_done runs with -ECANCELED. */
    wk_curl_uv_close(d->cu, on_cu_closed, d);
}

int wk_docker_request(struct wk_docker *d, const char *method, const char *path,
                      const char *json_body, wk_docker_cb cb, void *arg)
{
    char url[1024];
    int rc = 0;
    struct req *r = NULL;

    if (!method || !path || path[0] != '/' || !cb)
        return -EINVAL;
    if (d->closing)
        return -ESHUTDOWN;
    int n = snprintf(url, sizeof url, "http://localhost%s%s", WK_DOCKER_API_PREFIX, path);
    if (n < 0 || (size_t)n >= sizeof url)
        return -EINVAL;

    r = ci_xcalloc(1, sizeof *r);
    r->d = d;
    r->cb = cb;
    r->arg = arg;
    r->easy = curl_easy_init();
    if (!r->easy) {
        rc = -ENOMEM;
        goto out;
    }
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, d->socket_path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, d->timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    r->headers = curl_slist_append(r->headers, "Expect:");
    if (json_body) {
        r->body_out = ci_xstrdup(json_body);
        r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body_out);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body_out));
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);

    rc = wk_curl_uv_add(d->cu, e, on_done, r);
    if (rc < 0)
        goto out;
    r->next = d->reqs;
    if (d->reqs)
        d->reqs->prev = r;
    d->reqs = r;
out:
    if (rc < 0)
        req_free(r);
    return rc;
}

/* Ids and names reach URLs unescaped: allow only what Docker allows. */
static int id_ok(const char *id)
{
    if (!id || !*id || strlen(id) > 128)
        return 0;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
           strlen(id);
}

static int container_req(struct wk_docker *d, const char *method, const char *id,
                         const char *suffix, wk_docker_cb cb, void *arg)
{
    char path[256];
    if (!id_ok(id))
        return -EINVAL;
    snprintf(path, sizeof path, "/containers/%s%s", id, suffix);
    return wk_docker_request(d, method, path, NULL, cb, arg);
}

int wk_docker_create(struct wk_docker *d, const char *name, const json_t *config, wk_docker_cb cb,
                     void *arg)
{
    char path[256] = "/containers/create";
    if (name) {
        if (!id_ok(name))
            return -EINVAL;
        snprintf(path, sizeof path, "/containers/create?name=%s", name);
    }
    char *body = json_dumps(config, JSON_COMPACT);
    if (!body)
        return -EINVAL;
    int rc = wk_docker_request(d, "POST", path, body, cb, arg);
    free(body);
    return rc;
}

int wk_docker_start(struct wk_docker *d, const char *id, wk_docker_cb cb, void *arg)
{
    return container_req(d, "POST", id, "/start", cb, arg);
}

int wk_docker_kill(struct wk_docker *d, const char *id, const char *signal, wk_docker_cb cb,
                   void *arg)
{
    char suffix[64];
    if (!signal)
        signal = "KILL";
    if (!id_ok(signal) || strlen(signal) > 16)
        return -EINVAL;
    snprintf(suffix, sizeof suffix, "/kill?signal=%s", signal);
    return container_req(d, "POST", id, suffix, cb, arg);
}

int wk_docker_remove(struct wk_docker *d, const char *id, wk_docker_cb cb, void *arg)
{
    return container_req(d, "DELETE", id, "?force=true&v=true", cb, arg);
}

int wk_docker_inspect(struct wk_docker *d, const char *id, wk_docker_cb cb, void *arg)
{
    return container_req(d, "GET", id, "/json", cb, arg);
}

int wk_docker_wait(struct wk_docker *d, const char *id, wk_docker_cb cb, void *arg)
{
    return container_req(d, "POST", id, "/wait?condition=not-running", cb, arg);
}

int wk_docker_ping(struct wk_docker *d, wk_docker_cb cb, void *arg)
{
    return wk_docker_request(d, "GET", "/_ping", NULL, cb, arg);
}

char *wk_docker_parse_id(const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *id = json_string_value(json_object_get(root, "Id"));
    char *out = id && id_ok(id) ? ci_xstrdup(id) : NULL;
    json_decref(root);
    return out;
}
