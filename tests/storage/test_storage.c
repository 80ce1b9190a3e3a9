/*
 * test_storage.c - the storage interface (st_store.h, st_files.h) against
 * both backends: the local directory in a temp dir, and a real s3rver
 * process on loopback.  The same contract cases run on each; error paths
 * of the S3 backend use s3rver with a wrong secret and a small fake server
 * answering 500.
 */
#include "ci_test.h"
#include "ci_util.h"
#include "s3rver.h"
#include "st_files.h"
#include "st_store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_tmp[256];

static void make_tmp(void)
{
    snprintf(s_tmp, sizeof s_tmp, "/tmp/ci-st-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(s_tmp));
}

static struct st_store *open_local(void)
{
    char dir[300];
    make_tmp();
    snprintf(dir, sizeof dir, "%s/store", s_tmp);
    setenv("STORAGE_BACKEND", "local", 1);
    setenv("STORAGE_DIR", dir, 1);
    struct st_store *st = NULL;
    ASSERT_EQ(st_store_open_from_env(&st), 0);
    ASSERT_STR_EQ(st_store_backend(st), "local");
    return st;
}

static struct s3rver s_s3;

static struct st_store *open_s3(void)
{
    make_tmp();
    int rc = s3rver_start(&s_s3, "ci-test");
    ASSERT_EQ(rc, 0);
    struct st_store *st = NULL;
    ASSERT_EQ(st_store_open_from_env(&st), 0);
    ASSERT_STR_EQ(st_store_backend(st), "s3");
    /* wait until the bucket answers (s3rver creates it after listening) */
    char **keys;
    size_t n;
    for (int i = 0; i < 100 && st_list(st, "x/", &keys, &n) != 0; i++)
        usleep(50 * 1000);
    ASSERT_EQ(st_list(st, "x/", &keys, &n), 0);
    st_list_free(keys, n);
    return st;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    char *buf = ci_xmalloc(4 << 20);
    *len = fread(buf, 1, 4 << 20, f);
    fclose(f);
    return buf;
}

/* The contract every backend keeps. */
static void contract(struct st_store *st)
{
    char *data;
    size_t len;
    struct st_object_info info;

    ASSERT_EQ(st_put(st, "files/s1/a", "hello", 5, "text/plain"), 0);
    ASSERT_EQ(st_get(st, "files/s1/a", 100, &data, &len), 0);
    ASSERT_EQ(len, 5);
    ASSERT(memcmp(data, "hello", 5) == 0);
    free(data);
    ASSERT_EQ(st_get(st, "files/s1/a", 4, &data, &len), -EFBIG);
    ASSERT_NULL(data);
    ASSERT_EQ(st_head(st, "files/s1/a", &info), 0);
    ASSERT_EQ(info.size, 5);
    ASSERT(info.etag[0] != '\0');
    ASSERT_GT(info.mtime_ms, ci_now_ms() - 600 * 1000);
    /* overwrite replaces */
    ASSERT_EQ(st_put(st, "files/s1/a", "bye", 3, NULL), 0);
    ASSERT_EQ(st_get(st, "files/s1/a", 100, &data, &len), 0);
    ASSERT_EQ(len, 3);
    ASSERT(memcmp(data, "bye", 3) == 0);
    free(data);
    /* empty objects */
    ASSERT_EQ(st_put(st, "files/s1/empty", "", 0, NULL), 0);
    ASSERT_EQ(st_get(st, "files/s1/empty", 10, &data, &len), 0);
    ASSERT_EQ(len, 0);
    free(data);

    /* over 1 MiB of random bytes through files, byte for byte */
    size_t big = (1 << 20) + 4096; /* past 1 MiB: libcurl sends Expect: 100-continue */
    char *rnd = ci_xmalloc(big), src[320], dst[320], dst2[320];
    for (size_t i = 0; i < big; i++)
        rnd[i] = (char)(rand() & 0xff);
    snprintf(src, sizeof src, "%s/src.bin", s_tmp);
    snprintf(dst, sizeof dst, "%s/dst.bin", s_tmp);
    snprintf(dst2, sizeof dst2, "%s/dst2.bin", s_tmp);
    write_file(src, rnd, big);
    ASSERT_EQ(st_put_file(st, "files/s1/big", src, "application/octet-stream"), 0);
    ASSERT_EQ(st_get_to_file(st, "files/s1/big", dst, (int64_t)big), 0);
    char *back = read_file(dst, &len);
    ASSERT_EQ(len, big);
    ASSERT(memcmp(back, rnd, big) == 0);
    free(back);
    struct stat sb;
    ASSERT_EQ(stat(dst, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0644);
    /* O_EXCL: an existing destination is refused and left alone */
    ASSERT_EQ(st_get_to_file(st, "files/s1/a", dst, 100), -EEXIST);
    ASSERT_EQ(stat(dst, &sb), 0);
    ASSERT_EQ(sb.st_size, (off_t)big);
    /* too large: -EFBIG and no partial file */
    ASSERT_EQ(st_get_to_file(st, "files/s1/big", dst2, 1000), -EFBIG);
    ASSERT_NE(access(dst2, F_OK), 0);
    /* a read fd for streaming: the same bytes from offset 0, size told */
    int fd = -1;
    int64_t fsize = 0;
    ASSERT_EQ(st_open_read(st, "files/s1/big", (int64_t)big, &fd, &fsize), 0);
    ASSERT_EQ(fsize, (int64_t)big);
    back = ci_xmalloc(big + 1);
    size_t got = 0;
    for (ssize_t r; got <= big && (r = read(fd, back + got, big + 1 - got)) > 0;)
        got += (size_t)r;
    ASSERT_EQ(got, big);
    ASSERT(memcmp(back, rnd, big) == 0);
    free(back);
    close(fd);
    ASSERT_EQ(st_open_read(st, "files/s1/big", 1000, &fd, &fsize), -EFBIG);
    ASSERT_EQ(fd, -1);
    ASSERT_EQ(st_open_read(st, "files/s1/nope", 1000, &fd, &fsize), -ENOENT);
    ASSERT_EQ(st_open_read(st, "../x", 1000, &fd, &fsize), -EINVAL);
    free(rnd);

    /* missing objects */
    ASSERT_EQ(st_get(st, "files/s1/nope", 10, &data, &len), -ENOENT);
    ASSERT_EQ(st_head(st, "files/s1/nope", &info), -ENOENT);
    ASSERT_EQ(st_get_to_file(st, "files/s1/nope", dst2, 10), -ENOENT);
    ASSERT_NE(access(dst2, F_OK), 0);
    ASSERT_EQ(st_delete(st, "files/s1/nope"), 0);

    /* bad keys are refused before reaching the backend */
    ASSERT_EQ(st_put(st, "../x", "x", 1, NULL), -EINVAL);
    ASSERT_EQ(st_get(st, "files/../../etc/passwd", 10, &data, &len), -EINVAL);

    /* listing by prefix, sorted, no neighbours */
    ASSERT_EQ(st_put(st, "files/s10/z", "z", 1, NULL), 0);
    ASSERT_EQ(st_put(st, "state/s1", "s", 1, NULL), 0);
    char **keys;
    size_t n;
    ASSERT_EQ(st_list(st, "files/s1/", &keys, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_STR_EQ(keys[0], "files/s1/a");
    ASSERT_STR_EQ(keys[1], "files/s1/big");
    ASSERT_STR_EQ(keys[2], "files/s1/empty");
    st_list_free(keys, n);
    ASSERT_EQ(st_list(st, "files/", &keys, &n), 0);
    ASSERT_EQ(n, 4);
    st_list_free(keys, n);
    ASSERT_EQ(st_list(st, "nothing/", &keys, &n), 0);
    ASSERT_EQ(n, 0);
    st_list_free(keys, n);

    /* delete */
    ASSERT_EQ(st_delete(st, "files/s1/a"), 0);
    ASSERT_EQ(st_head(st, "files/s1/a", &info), -ENOENT);
    ASSERT_EQ(st_list(st, "files/s1/", &keys, &n), 0);
    ASSERT_EQ(n, 2);
    st_list_free(keys, n);
}

/* Session files: metadata, listing, delete, purge. */
static void session_files(struct st_store *st)
{
    char src[320];
    snprintf(src, sizeof src, "%s/plot.png", s_tmp);
    write_file(src, "\x89PNG....", 8);
    struct st_file_meta m = {0}, got;
    snprintf(m.id, sizeof m.id, "fileA");
    snprintf(m.session_id, sizeof m.session_id, "sessA");
    snprintf(m.name, sizeof m.name, "plot.png");
    snprintf(m.source, sizeof m.source, "output");
    m.created_ms = 1000;
    ASSERT_EQ(st_file_store(st, &m, src), 0);
    ASSERT_EQ(m.size, 8);
    ASSERT_STR_EQ(m.content_type, "image/png");
    struct st_file_meta m2 = m;
    snprintf(m2.id, sizeof m2.id, "fileB");
    snprintf(m2.name, sizeof m2.name, "data.csv");
    m2.content_type[0] = '\0';
    m2.created_ms = 2000;
    ASSERT_EQ(st_file_store(st, &m2, src), 0);
    ASSERT_STR_EQ(m2.content_type, "text/csv");

    ASSERT_EQ(st_meta_get(st, "sessA", "fileA", &got), 0);
    ASSERT_STR_EQ(got.name, "plot.png");
    ASSERT_STR_EQ(got.session_id, "sessA");
    ASSERT_EQ(got.size, 8);
    ASSERT_EQ(st_meta_get(st, "sessA", "nope", &got), -ENOENT);
    ASSERT_EQ(st_meta_get(st, "sessA", "../x", &got), -ENOENT);

    struct st_file_meta *list;
    size_t n;
    ASSERT_EQ(st_session_files(st, "sessA", &list, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(list[0].id, "fileA"); /* oldest first */
    ASSERT_STR_EQ(list[1].name, "data.csv");
    free(list);

    ASSERT_EQ(st_file_delete(st, "sessA", "fileA"), 0);
    ASSERT_EQ(st_file_delete(st, "sessA", "fileA"), -ENOENT);
    ASSERT_EQ(st_session_files(st, "sessA", &list, &n), 0);
    ASSERT_EQ(n, 1);
    free(list);
    ASSERT_EQ(st_session_purge(st, "sessA"), 2);
    char **keys;
    ASSERT_EQ(st_list(st, "files/sessA/", &keys, &n), 0);
    ASSERT_EQ(n, 0);
    st_list_free(keys, n);
}

TEST(key_rules)
{
    ASSERT(st_key_valid("files/abc/def"));
    ASSERT(st_key_valid("files/abc/def.meta"));
    ASSERT(st_key_valid("state/x_y-Z.1"));
    ASSERT(!st_key_valid(""));
    ASSERT(!st_key_valid("/files/a"));
    ASSERT(!st_key_valid("files//a"));
    ASSERT(!st_key_valid("files/a/"));
    ASSERT(!st_key_valid("files/../a"));
    ASSERT(!st_key_valid("files/./a"));
    ASSERT(!st_key_valid("files/a b"));
    ASSERT(!st_key_valid("files/a%2f"));
    char long_key[600];
    memset(long_key, 'a', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    ASSERT(!st_key_valid(long_key));
    ASSERT(st_extension_allowed("a.PNG"));
    ASSERT(st_extension_allowed("report.xlsx"));
    ASSERT(!st_extension_allowed("a.exe"));
    ASSERT(!st_extension_allowed("noext"));
    ASSERT(!st_extension_allowed(".png"));
    ASSERT_STR_EQ(st_content_type("x.PNG"), "image/png");
    ASSERT_STR_EQ(st_content_type("x.bin"), "application/octet-stream");
    char key[100];
    ASSERT_EQ(st_file_key(key, sizeof key, "s", "f", 1), 0);
    ASSERT_STR_EQ(key, "files/s/f.meta");
    ASSERT_EQ(st_file_key(key, sizeof key, "s", "../f", 0), -EINVAL);
}

TEST(bad_config)
{
    struct st_store *st = NULL;
    setenv("STORAGE_BACKEND", "ftp", 1);
    ASSERT_EQ(st_store_open_from_env(&st), -EINVAL);
    setenv("STORAGE_BACKEND", "s3", 1);
    unsetenv("S3_ENDPOINT");
    ASSERT_EQ(st_store_open_from_env(&st), -EINVAL);
    setenv("STORAGE_BACKEND", "local", 1);
    setenv("STORAGE_DIR", "relative/dir", 1);
    ASSERT_EQ(st_store_open_from_env(&st), -EINVAL);
    ASSERT_NULL(st);
}

TEST(local_contract)
{
    struct st_store *st = open_local();
    contract(st);
    /* the local layout is plain files under STORAGE_DIR; deletes tidy dirs */
    char path[400];
    snprintf(path, sizeof path, "%s/store/files/s1/big", s_tmp);
    ASSERT_EQ(access(path, F_OK), 0);
    ASSERT_EQ(st_delete(st, "files/s10/z"), 0);
    snprintf(path, sizeof path, "%s/store/files/s10", s_tmp);
    ASSERT_NE(access(path, F_OK), 0);
    /* a symlink planted in storage is not followed */
    char link[400];
    snprintf(link, sizeof link, "%s/store/files/s1/evil", s_tmp);
    ASSERT_EQ(symlink("/etc/passwd", link), 0);
    char *data;
    size_t len;
    ASSERT_EQ(st_get(st, "files/s1/evil", 1 << 20, &data, &len), -ENOENT);
    st_store_close(st);
}

TEST(local_session_files)
{
    struct st_store *st = open_local();
    session_files(st);
    st_store_close(st);
}

TEST(s3_contract)
{
    struct st_store *st = open_s3();
    contract(st);
    st_store_close(st);
    s3rver_stop(&s_s3);
}

TEST(s3_session_files)
{
    struct st_store *st = open_s3();
    session_files(st);
    st_store_close(st);
    s3rver_stop(&s_s3);
}

TEST(s3_many_keys_paginate)
{
    struct st_store *st = open_s3();
    char key[64];
    for (int i = 0; i < 1005; i++) { /* s3rver pages at 1000 */
        snprintf(key, sizeof key, "files/many/k%04d", i);
        ASSERT_EQ(st_put(st, key, "x", 1, NULL), 0);
    }
    char **keys;
    size_t n;
    ASSERT_EQ(st_list(st, "files/many/", &keys, &n), 0);
    ASSERT_EQ(n, 1005);
    ASSERT_STR_EQ(keys[1004], "files/many/k1004");
    st_list_free(keys, n);
    st_store_close(st);
    s3rver_stop(&s_s3);
}

/* s3rver checks the access key id of a SigV4 Authorization header (it does
 * not recompute V4 signatures): an unknown key is refused. */
TEST(s3_wrong_key_is_refused)
{
    struct st_store *good = open_s3(), *bad = NULL;
    ASSERT_EQ(st_put(good, "files/s/x", "x", 1, NULL), 0);
    setenv("S3_ACCESS_KEY", "NOT-A-KEY", 1);
    ASSERT_EQ(st_store_open_from_env(&bad), 0);
    char *data;
    size_t len;
    /* the signature is checked by the server: nothing is read or written */
    ASSERT_EQ(st_get(bad, "files/s/x", 10, &data, &len), -EIO);
    ASSERT_EQ(st_put(bad, "files/s/y", "y", 1, NULL), -EIO);
    struct st_object_info info;
    ASSERT_EQ(st_head(good, "files/s/y", &info), -ENOENT);
    st_store_close(bad);
    st_store_close(good);
    s3rver_stop(&s_s3);
}

/* Every request of the contract carries a signature S3 would accept:
 * sigv4_s3.py recomputes each one and refuses a mismatch. */
TEST(s3_sigv4_verified)
{
    make_tmp();
    ASSERT_EQ(s3_sigv4_start(&s_s3, "ci-test"), 0);
    struct st_store *st = NULL, *bad = NULL;
    ASSERT_EQ(st_store_open_from_env(&st), 0);
    contract(st);
    session_files(st);
    /* the right access key with the wrong secret: refused, nothing written */
    setenv("S3_SECRET_KEY", "not-the-secret", 1);
    ASSERT_EQ(st_store_open_from_env(&bad), 0);
    ASSERT_EQ(st_put(bad, "files/s/y", "y", 1, NULL), -EIO);
    char *data;
    size_t len;
    ASSERT_EQ(st_get(bad, "files/s1/big", 1 << 21, &data, &len), -EIO);
    struct st_object_info info;
    ASSERT_EQ(st_head(st, "files/s/y", &info), -ENOENT);
    st_store_close(bad);
    st_store_close(st);
    s3rver_stop(&s_s3);
}

/* A fake S3 that answers 500 to everything. */
static int s_fake_fd;

static void *fake_500(void *arg)
{
    for (;;) {
        int c = accept(s_fake_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[8192];
        ssize_t r = recv(c, buf, sizeof buf, 0);
        (void)r;
        const char *resp = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 21\r\n"
                           "Connection: close\r\n\r\n<Error>boom</Error>\r\n";
        ssize_t w = send(c, resp, strlen(resp), MSG_NOSIGNAL);
        (void)w;
        close(c);
    }
}

TEST(s3_server_errors_are_eio)
{
    s_fake_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    ASSERT_EQ(bind(s_fake_fd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(listen(s_fake_fd, 16), 0);
    ASSERT_EQ(getsockname(s_fake_fd, (struct sockaddr *)&a, &alen), 0);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, fake_500, NULL), 0);
    pthread_detach(t);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", ntohs(a.sin_port));
    setenv("STORAGE_BACKEND", "s3", 1);
    setenv("S3_ENDPOINT", ep, 1);
    setenv("S3_BUCKET", "b", 1);
    setenv("S3_ACCESS_KEY", "k", 1);
    setenv("S3_SECRET_KEY", "s", 1);
    struct st_store *st = NULL;
    ASSERT_EQ(st_store_open_from_env(&st), 0);
    char *data, **keys;
    size_t len, n;
    struct st_object_info info;
    ASSERT_EQ(st_put(st, "files/a/b", "x", 1, NULL), -EIO);
    ASSERT_EQ(st_get(st, "files/a/b", 10, &data, &len), -EIO);
    ASSERT_EQ(st_head(st, "files/a/b", &info), -EIO);
    ASSERT_EQ(st_delete(st, "files/a/b"), -EIO);
    ASSERT_EQ(st_list(st, "files/", &keys, &n), -EIO);
    st_store_close(st);
    /* nobody listening: a transport error, also -EIO */
    close(s_fake_fd);
    ASSERT_EQ(st_store_open_from_env(&st), 0);
    ASSERT_EQ(st_get(st, "files/a/b", 10, &data, &len), -EIO);
    st_store_close(st);
}

TEST_MAIN(key_rules, bad_config, local_contract, local_session_files, s3_contract, s3_session_files,
          s3_many_keys_paginate, s3_wrong_key_is_refused, s3_server_errors_are_eio,
          s3_sigv4_verified)
