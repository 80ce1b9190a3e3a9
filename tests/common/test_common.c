/*
 * test_common.c - the helpers every component shares (common/ci_util.h,
 * ci_cidr.h, ci_file.h, ci_log.h's ci_write_line), each against known
 * values or the file system of a private temporary directory.
 */
#include "ci_test.h"

#include "ci_cidr.h"
#include "ci_file.h"
#include "ci_log.h"
#include "ci_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[64];

static void tmpdir_up(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/ci-common-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(s_dir));
}

static void path_in(char *out, size_t outsz, const char *rel)
{
    snprintf(out, outsz, "%s/%s", s_dir, rel);
}

/* Removes s_dir's entries named in rels (in order) and s_dir itself. */
static void tmpdir_down(const char *const *rels, size_t n)
{
    char p[256];
    for (size_t i = 0; i < n; i++) {
        path_in(p, sizeof p, rels[i]);
        ASSERT_EQ(remove(p), 0);
    }
    ASSERT_EQ(rmdir(s_dir), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs(text, f);
    fclose(f);
}

TEST(hex_and_sha256)
{
    static const unsigned char bytes[] = {0x00, 0xff, 0x1a, 0x80};
    char out[65];
    ci_hex_encode(bytes, sizeof bytes, out);
    ASSERT_STR_EQ(out, "00ff1a80");
    ci_hex_encode(bytes, 0, out);
    ASSERT_STR_EQ(out, "");
    /* FIPS 180-2 test vector */
    ci_sha256_hex("abc", 3, 32, out);
    ASSERT_STR_EQ(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ci_sha256_hex("abc", 3, 8, out); /* a prefix: the owner / user tag length */
    ASSERT_STR_EQ(out, "ba7816bf8f01cfea");
    char tag[CI_USER_TAG_LEN + 1];
    ci_user_tag("abc", tag);
    ASSERT_STR_EQ(tag, "ba7816bf8f01cfea");
    ci_user_tag("", tag);
    ASSERT_STR_EQ(tag, "");
    ASSERT_EQ(ci_random_hex(out, 16), 0);
    ASSERT_EQ(strlen(out), 32);
    ASSERT_EQ(strspn(out, "0123456789abcdef"), 32);
}

TEST(fnv1a_vectors)
{
    /* the reference values of the FNV-1a 32-bit test suite */
    ASSERT_EQ(ci_fnv1a("", 0), 0x811c9dc5u);
    ASSERT_EQ(ci_fnv1a("a", 1), 0xe40c292cu);
    ASSERT_EQ(ci_fnv1a("foobar", 6), 0xbf9cf968u);
}

static int in(const char *range, const char *addr)
{
    struct ci_cidr c;
    unsigned char a[16];
    int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    ASSERT_EQ(ci_cidr_parse(range, strlen(range), &c), 0);
    ASSERT_EQ(inet_pton(family, addr, a), 1);
    return ci_cidr_match(&c, family, a);
}

TEST(cidr_parse_and_match)
{
    ASSERT_EQ(in("10.0.0.0/8", "10.255.1.2"), 1);
    ASSERT_EQ(in("10.0.0.0/8", "11.0.0.1"), 0);
    ASSERT_EQ(in("172.16.0.0/12", "172.31.255.255"), 1);
    ASSERT_EQ(in("172.16.0.0/12", "172.32.0.0"), 0); /* the bit past a byte boundary */
    ASSERT_EQ(in("192.0.2.7", "192.0.2.7"), 1);      /* a host: /32 */
    ASSERT_EQ(in("192.0.2.7", "192.0.2.8"), 0);
    ASSERT_EQ(in("0.0.0.0/0", "203.0.113.9"), 1);
    ASSERT_EQ(in("0.0.0.0/0", "::1"), 0); /* never across families */
    ASSERT_EQ(in("::1", "::1"), 1);
    ASSERT_EQ(in("2001:db8::/33", "2001:db8:7fff::1"), 1);
    ASSERT_EQ(in("2001:db8::/33", "2001:db8:8000::1"), 0);
    struct ci_cidr c;
    static const char *const bad[] = {"",         "x",          "10.0.0.0/33", "::/129",
                                      "1.2.3.4/", "1.2.3.4/8x", "1.2.3.4/-1",  "1.2.3/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ(ci_cidr_parse(bad[i], strlen(bad[i]), &c), -EINVAL);
    char longer[200];
    memset(longer, '1', sizeof longer);
    ASSERT_EQ(ci_cidr_parse(longer, sizeof longer, &c), -EINVAL);
    /* only len bytes are read: "10.0.0.0/8" out of a longer string */
    ASSERT_EQ(ci_cidr_parse("10.0.0.0/8,11.0.0.0/8", 10, &c), 0);
    ASSERT_EQ(c.bits, 8);
}

TEST(buf_append_grows)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[700];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 5; i++)
        ci_buf_append(&buf, &len, &cap, chunk, sizeof chunk);
    ci_buf_append(&buf, &len, &cap, "end", 3);
    ASSERT_EQ(len, 5 * sizeof chunk + 3);
    ASSERT(cap > len);
    ASSERT_EQ(buf[len], '\0');
    ASSERT_STR_EQ(buf + 5 * sizeof chunk, "end");
    ASSERT_EQ(strspn(buf, "x"), 5 * sizeof chunk);
    free(buf);
}

TEST(write_line_is_one_write)
{
    int fds[2];
    char got[64] = "";
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_EQ(ci_write_line(fds[1], "{\"a\":1}"), 0);
    ASSERT_EQ(ci_write_line(fds[1], ""), 0);
    close(fds[1]);
    ssize_t n = read(fds[0], got, sizeof got - 1);
    ASSERT_EQ(n, 9);
    ASSERT_STR_EQ(got, "{\"a\":1}\n\n");
    close(fds[0]);
    ASSERT(ci_write_line(-1, "x") < 0);
}

TEST(mkdir_p_nested_and_errors)
{
    char p[256], f[256];
    struct stat st;
    tmpdir_up();
    path_in(p, sizeof p, "a/b/c");
    ASSERT_EQ(ci_mkdir_p(p, 0700), 0);
    ASSERT_EQ(stat(p, &st), 0);
    ASSERT(S_ISDIR(st.st_mode));
    ASSERT_EQ(st.st_mode & 0777, 0700);
    ASSERT_EQ(ci_mkdir_p(p, 0700), 0); /* exists: fine */
    path_in(f, sizeof f, "a/file");
    write_file(f, "x");
    path_in(p, sizeof p, "a/file/d");
    ASSERT_EQ(ci_mkdir_p(p, 0700), -ENOTDIR);
    char huge[5000];
    memset(huge, 'a', sizeof huge - 1);
    huge[0] = '/';
    huge[sizeof huge - 1] = '\0';
    ASSERT_EQ(ci_mkdir_p(huge, 0700), -ENAMETOOLONG);
    static const char *const made[] = {"a/b/c", "a/b", "a/file", "a"};
    tmpdir_down(made, 4);
}

TEST(file_read_bounded_and_refusing)
{
    char p[256], l[256], fifo[256], *data = NULL;
    size_t len = 0;
    tmpdir_up();
    path_in(p, sizeof p, "f.txt");
    write_file(p, "hello");
    ASSERT_EQ(ci_file_read(p, 5, &data, &len), 0);
    ASSERT_EQ(len, 5);
    ASSERT_STR_EQ(data, "hello"); /* NUL-terminated */
    free(data);
    data = NULL;
    ASSERT_EQ(ci_file_read(p, 4, &data, &len), -EFBIG);
    ASSERT_EQ(len, 5);
    ASSERT_NULL(data);
    path_in(l, sizeof l, "link");
    ASSERT_EQ(symlink(p, l), 0);
    ASSERT_EQ(ci_file_read(l, 100, &data, &len), -ELOOP); /* never followed */
    path_in(fifo, sizeof fifo, "fifo");
    ASSERT_EQ(mkfifo(fifo, 0600), 0);
    ASSERT_EQ(ci_file_read(fifo, 100, &data, &len), -EINVAL); /* and never blocks */
    ASSERT_EQ(ci_file_read(s_dir, 100, &data, &len), -EINVAL);
    path_in(p, sizeof p, "missing");
    ASSERT_EQ(ci_file_read(p, 100, &data, &len), -ENOENT);
    ASSERT_NULL(data);
    static const char *const made[] = {"f.txt", "link", "fifo"};
    tmpdir_down(made, 3);
}

TEST_MAIN(hex_and_sha256, fnv1a_vectors, cidr_parse_and_match, buf_append_grows,
          write_line_is_one_write, mkdir_p_nested_and_errors, file_read_bounded_and_refusing)
