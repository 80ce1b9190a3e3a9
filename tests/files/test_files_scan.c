/*
 * test_files_scan.c - the bounded walk of a sandbox's data dir
 * (worker/files/private/wk_files_int.h): entries sorted and found, MAX_SCAN_ENTRIES and
 * MAX_OUTPUT_DEPTH, symlinks never followed, unchanged-ness decided without
 * hashing yet blind to no rewrite.
 */
#include "ci_test.h"
#include "wk_config.h"
#include "wk_files_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[256];

/* A fresh temporary data dir; returns its fd. */
static int data_dir(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/ci-scan-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(s_dir));
    int fd = open(s_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    wk_cfg.max_scan_entries = 10000;
    wk_cfg.max_output_depth = 8;
    return fd;
}

static void put(int dfd, const char *rel, const char *text)
{
    int fd = openat(dfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void cleanup(int dfd)
{
    char cmd[300];
    close(dfd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    ASSERT_EQ(system(cmd), 0);
}

TEST(sorted_and_found)
{
    int dfd = data_dir();
    struct wk_files_seen s;
    ASSERT_EQ(mkdirat(dfd, "sub", 0755), 0);
    put(dfd, "zeta.txt", "z");
    put(dfd, "sub/inner.csv", "1,2");
    put(dfd, "alpha.txt", "a");
    ASSERT_EQ(wk_files_scan(dfd, &s), 0);
    ASSERT_EQ(s.n, 3);
    ASSERT_STR_EQ(s.e[0].name, "alpha.txt");
    ASSERT_STR_EQ(s.e[1].name, "sub/inner.csv");
    ASSERT_STR_EQ(s.e[2].name, "zeta.txt");
    ASSERT_EQ(s.e[1].size, 3);
    ASSERT_NOT_NULL(wk_files_find(&s, "sub/inner.csv"));
    ASSERT_NULL(wk_files_find(&s, "sub"));
    ASSERT_NULL(wk_files_find(&s, "inner.csv"));
    ASSERT_EQ(s.truncated, 0);
    wk_files_seen_release(&s);
    cleanup(dfd);
}

TEST(entries_bounded)
{
    int dfd = data_dir();
    struct wk_files_seen s;
    char name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "f%03d", i);
        put(dfd, name, "");
    }
    wk_cfg.max_scan_entries = 50;
    ASSERT_EQ(wk_files_scan(dfd, &s), 0);
    ASSERT_EQ(s.n, 50);
    ASSERT_EQ(s.truncated, 1);
    wk_files_seen_release(&s);
    cleanup(dfd);
}

TEST(depth_bounded)
{
    int dfd = data_dir();
    struct wk_files_seen s;
    ASSERT_EQ(mkdirat(dfd, "a", 0755), 0);
    ASSERT_EQ(mkdirat(dfd, "a/b", 0755), 0);
    ASSERT_EQ(mkdirat(dfd, "a/b/c", 0755), 0);
    put(dfd, "a/b/ok.txt", "3 components");
    put(dfd, "a/b/c/deep.txt", "4 components");
    wk_cfg.max_output_depth = 3;
    ASSERT_EQ(wk_files_scan(dfd, &s), 0);
    ASSERT_EQ(s.n, 1);
    ASSERT_STR_EQ(s.e[0].name, "a/b/ok.txt");
    ASSERT_EQ(s.ndeep, 1);
    ASSERT_STR_EQ(s.deep[0], "a/b/c");
    wk_files_seen_release(&s);
    cleanup(dfd);
}

TEST(symlinks_never_followed)
{
    int dfd = data_dir();
    struct wk_files_seen s;
    struct stat sb;
    int pfd = -1;
    const char *base = NULL;
    ASSERT_EQ(symlinkat("/etc", dfd, "etc"), 0);
    ASSERT_EQ(symlinkat("/etc/passwd", dfd, "passwd.txt"), 0);
    ASSERT_EQ(mkdirat(dfd, "real", 0755), 0);
    ASSERT_EQ(symlinkat("/etc", dfd, "real/up"), 0);
    put(dfd, "real/x.txt", "x");
    ASSERT_EQ(wk_files_scan(dfd, &s), 0);
    ASSERT_EQ(s.n, 1); /* only real/x.txt: no link, nothing behind a link */
    ASSERT_STR_EQ(s.e[0].name, "real/x.txt");
    wk_files_seen_release(&s);
    /* resolving a path through a link: refused, for reading and creating */
    ASSERT_EQ(wk_files_stat_rel(dfd, "etc/passwd", &sb), -ELOOP);
    ASSERT_EQ(wk_files_stat_rel(dfd, "real/up/hostname", &sb), -ELOOP);
    ASSERT_EQ(wk_files_open_parent(dfd, "etc/new.csv", 1, &pfd, &base), -ELOOP);
    ASSERT_EQ(wk_files_open_parent(dfd, "passwd.txt/x", 1, &pfd, &base), -ELOOP);
    /* the link itself is seen as what it is */
    ASSERT_EQ(wk_files_stat_rel(dfd, "passwd.txt", &sb), 0);
    ASSERT(S_ISLNK(sb.st_mode));
    cleanup(dfd);
}

TEST(rewrite_with_old_mtime_is_seen)
{
    int dfd = data_dir();
    struct wk_files_entry e = {.name = "in.csv"};
    struct stat sb;
    put(dfd, "in.csv", "1,2\n");
    ASSERT_EQ(wk_files_stat_rel(dfd, "in.csv", &sb), 0);
    wk_files_record(&e, &sb);
    ASSERT(wk_files_same(&e, &sb));
    /* same size, old mtime put back: ctime still moves */
    struct timespec old[2] = {sb.st_atim, sb.st_mtim};
    put(dfd, "in.csv", "9,9\n");
    ASSERT_EQ(utimensat(dfd, "in.csv", old, AT_SYMLINK_NOFOLLOW), 0);
    ASSERT_EQ(wk_files_stat_rel(dfd, "in.csv", &sb), 0);
    ASSERT_EQ(sb.st_size, e.size);
    ASSERT_EQ(sb.st_mtim.tv_nsec, e.mtime.tv_nsec);
    ASSERT(!wk_files_same(&e, &sb));
    /* replaced by another file of the same size: another inode */
    wk_files_record(&e, &sb);
    put(dfd, "other", "5,5\n");
    ASSERT_EQ(renameat(dfd, "other", dfd, "in.csv"), 0);
    ASSERT_EQ(wk_files_stat_rel(dfd, "in.csv", &sb), 0);
    ASSERT(!wk_files_same(&e, &sb));
    cleanup(dfd);
}

TEST(parent_refuses_bad_paths)
{
    int dfd = data_dir();
    int pfd = -1;
    const char *base = NULL;
    static const char *const bad[] = {"", "/etc/passwd", "a//b", "../x", "a/../b", "./x", "a/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ(wk_files_open_parent(dfd, bad[i], 1, &pfd, &base), -EINVAL);
    ASSERT_EQ(wk_files_open_parent(dfd, "missing/x.csv", 0, &pfd, &base), -ENOENT);
    ASSERT_EQ(wk_files_open_parent(dfd, "top.csv", 0, &pfd, &base), 0);
    ASSERT_STR_EQ(base, "top.csv");
    close(pfd);
    cleanup(dfd);
}

TEST(parent_creates_dirs)
{
    int dfd = data_dir();
    int pfd = -1;
    const char *base = NULL;
    struct stat sb;
    int rc = wk_files_open_parent(dfd, "a/b/c.csv", 1, &pfd, &base);
    if (geteuid() != 0) { /* chown to the sandbox user needs root, as the worker has */
        ASSERT_EQ(rc, -EPERM);
        cleanup(dfd);
        return;
    }
    ASSERT_EQ(rc, 0);
    ASSERT_STR_EQ(base, "c.csv");
    close(pfd);
    ASSERT_EQ(fstatat(dfd, "a/b", &sb, AT_SYMLINK_NOFOLLOW), 0);
    ASSERT(S_ISDIR(sb.st_mode));
    ASSERT_EQ(sb.st_uid, WK_FILES_UID);
    ASSERT_EQ(sb.st_mode & 0777, 0755);
    cleanup(dfd);
}

TEST_MAIN(sorted_and_found, entries_bounded, depth_bounded, symlinks_never_followed,
          rewrite_with_old_mtime_is_seen, parent_refuses_bad_paths, parent_creates_dirs)
