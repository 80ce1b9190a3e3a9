/*
 * st_s3.c - the S3-compatible backend: one libcurl easy handle per call
 * (so any thread may call), requests signed with AWS SigV4 by libcurl
 * (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3"), path-style URLs
 * <S3_ENDPOINT>/<S3_BUCKET>/<key>.
 *
 * Status mapping: 2xx ok; 404 -> -ENOENT; anything else, or a transport
 * error -> -EIO with the status and the start of the error body logged.
 * Listing is ListObjectsV2 (st_s3_list.c parses the reply).
 */
#include "st_s3_int.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ERRBODY_MAX 512
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static size_t on_body(char *p, size_t sz, size_t nm, void *arg)
{
    struct st_s3_xfer *x = arg;
    size_t n = sz * nm;
    long code = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code >= 300) { /* keep the start of an error body for the log */
        size_t room = ERRBODY_MAX - x->errlen;
        size_t take = n < room ? n : room;
        memcpy(x->errbody + x->errlen, p, take);
        x->errlen += take;
        return n;
    }
    x->got += (int64_t)n;
    if (x->max >= 0 && x->got > x->max) {
        x->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (x->fd >= 0) {
        for (size_t off = 0; off < n;) {
            ssize_t w = write(x->fd, p + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                x->write_failed = 1;
                return 0;
            }
            off += (size_t)w;
        }
        return n;
    }
    ci_buf_append(&x->buf, &x->len, &x->cap, p, n);
    return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *arg)
{
    struct st_s3_xfer *x = arg;
    size_t n = sz * nm;
    if (n > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        size_t i = 5, end = n;
        while (i < end && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (end > i && (p[end - 1] == '\r' || p[end - 1] == '\n' || p[end - 1] == ' '))
            end--;
        size_t len = end - i < sizeof x->etag - 1 ? end - i : sizeof x->etag - 1;
        memcpy(x->etag, p + i, len);
        x->etag[len] = '\0';
    }
    return n;
}

static size_t on_read_mem(char *p, size_t sz, size_t nm, void *arg)
{
    struct st_s3_xfer *x = arg;
    size_t n = sz * nm, left = x->up_len - x->up_off;
    if (n > left)
        n = left;
    memcpy(p, x->up + x->up_off, n);
    x->up_off += n;
    return n;
}

void st__s3_xfer_init(struct st_s3_xfer *x)
{
    memset(x, 0, sizeof *x);
    x->fd = -1;
    x->max = -1;
}

void st__s3_xfer_release(struct st_s3_xfer *x)
{
    free(x->buf);
    x->buf = NULL;
}

int st__s3_perform(struct st_s3 *s, const char *method, const char *path_and_query,
                   struct st_s3_xfer *x)
{
    char url[2048], ct[160];
    struct curl_slist *hdrs = NULL;
    int rc = -EIO;
    int n = snprintf(url, sizeof url, "%s/%s%s%s", s->endpoint, s->bucket,
                     path_and_query[0] == '?' ? "" : "/", path_and_query);
    if (n < 0 || (size_t)n >= sizeof url)
        return -EINVAL;
    CURL *h = curl_easy_init();
    if (!h)
        return -ENOMEM;
    x->h = h;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    /* No "Expect:" override: libcurl 7.88 puts every header of
     * CURLOPT_HTTPHEADER into SignedHeaders, an emptied one too, though it
     * is never sent - S3 then refuses the signature (tests/storage/
     * sigv4_s3.py catches it).  Uploads over 1 MB send "Expect:
     * 100-continue", which S3 and s3rver answer at once. */
    /* S3 wants the payload hash header; uploads are streamed, so unsigned */
    hdrs = curl_slist_append(hdrs, strcmp(method, "PUT") == 0
                                       ? "x-amz-content-sha256: UNSIGNED-PAYLOAD"
                                       : "x-amz-content-sha256: " EMPTY_SHA256);
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->up_len);
        if (x->up_file) {
            curl_easy_setopt(h, CURLOPT_READDATA, x->up_file);
        } else {
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read_mem);
            curl_easy_setopt(h, CURLOPT_READDATA, x);
        }
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 x->content_type ? x->content_type : "application/octet-stream");
        hdrs = curl_slist_append(hdrs, ct);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->too_big) {
        rc = -EFBIG;
    } else if (cc != CURLE_OK || x->write_failed) {
        log_warn("storage s3: %s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (x->status >= 200 && x->status < 300) {
        rc = 0;
        if (strcmp(method, "HEAD") == 0) {
            curl_off_t len = -1, ft = -1;
            curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
            curl_easy_getinfo(h, CURLINFO_FILETIME_T, &ft);
            x->head_size = len;
            x->head_mtime_ms = ft >= 0 ? (int64_t)ft * 1000 : 0;
        }
    } else if (x->status == 404) {
        rc = -ENOENT;
    } else {
        log_warn("storage s3: %s %s: HTTP %ld: %.*s", method, url, x->status, (int)x->errlen,
                 x->errbody);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    x->h = NULL;
    return rc;
}

static int s_put(struct st_store *st, const char *key, const void *data, size_t len,
                 const char *content_type)
{
    struct st_s3_xfer x;
    st__s3_xfer_init(&x);
    x.up = data;
    x.up_len = len;
    x.content_type = content_type;
    int rc = st__s3_perform((struct st_s3 *)st, "PUT", key, &x);
    st__s3_xfer_release(&x);
    return rc == -ENOENT ? -EIO : rc; /* 404 on PUT: the bucket is missing */
}

static int s_put_file(struct st_store *st, const char *key, const char *path,
                      const char *content_type)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return -errno;
    int rc = -EIO;
    if (fseeko(f, 0, SEEK_END) == 0) {
        off_t size = ftello(f);
        rewind(f);
        struct st_s3_xfer x;
        st__s3_xfer_init(&x);
        x.up_file = f;
        x.up_len = size < 0 ? 0 : (size_t)size;
        x.content_type = content_type;
        rc = st__s3_perform((struct st_s3 *)st, "PUT", key, &x);
        st__s3_xfer_release(&x);
        if (rc == -ENOENT)
            rc = -EIO;
    }
    fclose(f);
    return rc;
}

static int s_get(struct st_store *st, const char *key, size_t max, char **data, size_t *len)
{
    struct st_s3_xfer x;
    st__s3_xfer_init(&x);
    x.max = max > INT64_MAX ? -1 : (int64_t)max;
    int rc = st__s3_perform((struct st_s3 *)st, "GET", key, &x);
    if (rc == 0) {
        *data = x.buf ? x.buf : ci_xcalloc(1, 1);
        *len = x.len;
        x.buf = NULL;
    }
    st__s3_xfer_release(&x);
    return rc;
}

static int s_get_to_fd(struct st_store *st, const char *key, int fd, int64_t max)
{
    struct st_s3_xfer x;
    st__s3_xfer_init(&x);
    x.fd = fd;
    x.max = max;
    int rc = st__s3_perform((struct st_s3 *)st, "GET", key, &x);
    st__s3_xfer_release(&x);
    return rc;
}

static int s_head(struct st_store *st, const char *key, struct st_object_info *info)
{
    struct st_s3_xfer x;
    st__s3_xfer_init(&x);
    int rc = st__s3_perform((struct st_s3 *)st, "HEAD", key, &x);
    if (rc == 0) {
        info->size = x.head_size;
        info->mtime_ms = x.head_mtime_ms;
        snprintf(info->etag, sizeof info->etag, "%s", x.etag);
    }
    st__s3_xfer_release(&x);
    return rc;
}

static int s_del(struct st_store *st, const char *key)
{
    struct st_s3_xfer x;
    st__s3_xfer_init(&x);
    int rc = st__s3_perform((struct st_s3 *)st, "DELETE", key, &x);
    st__s3_xfer_release(&x);
    return rc == -ENOENT ? 0 : rc;
}

static void s_close(struct st_store *st)
{
    free(st);
}

static const struct st_ops s3_ops = {
    .name = "s3",
    .put = s_put,
    .put_file = s_put_file,
    .get = s_get,
    .get_to_fd = s_get_to_fd,
    .head = s_head,
    .del = s_del,
    .list = st__s3_list,
    .close = s_close,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int st__s3_open(struct st_store **out)
{
    const char *ep = ci_env_str("S3_ENDPOINT", NULL), *bucket = ci_env_str("S3_BUCKET", NULL);
    const char *ak = ci_env_str("S3_ACCESS_KEY", NULL), *sk = ci_env_str("S3_SECRET_KEY", NULL);
    const char *region = ci_env_str("S3_REGION", "us-east-1");
    if (!ep || !bucket || !ak || !sk) {
        log_error("STORAGE_BACKEND=s3 needs S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY and "
                  "S3_SECRET_KEY");
        return -EINVAL;
    }
    if ((strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) || strlen(ep) > 400 ||
        strlen(bucket) > 63 || strlen(region) > 40 ||
        strspn(bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(bucket) ||
        strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region) ||
        strchr(ak, ':') || strlen(ak) + strlen(sk) > 500) {
        log_error("S3 settings are malformed (endpoint http(s)://host:port, bucket and "
                  "region in lower case, access key without ':')");
        return -EINVAL;
    }
    pthread_once(&curl_once, curl_init_once);
    struct st_s3 *s = ci_xcalloc(1, sizeof *s);
    s->base.ops = &s3_ops;
    snprintf(s->endpoint, sizeof s->endpoint, "%s", ep);
    size_t len = strlen(s->endpoint);
    while (len && s->endpoint[len - 1] == '/')
        s->endpoint[--len] = '\0';
    snprintf(s->bucket, sizeof s->bucket, "%s", bucket);
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", region);
    snprintf(s->userpwd, sizeof s->userpwd, "%s:%s", ak, sk);
    *out = &s->base;
    return 0;
}
