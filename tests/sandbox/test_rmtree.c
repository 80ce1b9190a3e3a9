/* Unit tests for wk_rmtree: trees past PATH_MAX, wide directories,
 * symlinks never followed. */
#include "ci_test.h"
#include "wk_rmtree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/ci-rmtree-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(root));
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* A chain of `depth` directories named `name` below dir fd `at`, a file
 * in each; returns the total path length below `at`. */
static size_t deep_chain(int at, int depth, const char *name)
{
    int fd = dup(at);
    size_t len = 0;
    for (int i = 0; i < depth; i++) {
        ASSERT_EQ(mkdirat(fd, name, 0755), 0);
        int f = openat(fd, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (f >= 0)
            close(f);
        int next = openat(fd, name, O_RDONLY | O_DIRECTORY);
        ASSERT_GE(next, 0);
        close(fd);
        fd = next;
        len += strlen(name) + 1;
    }
    close(fd);
    return len;
}

TEST(deeper_than_path_max)
{
    make_root();
    char top[128];
    snprintf(top, sizeof top, "%s/tree", root);
    ASSERT_EQ(mkdir(top, 0755), 0);
    int at = open(top, O_RDONLY | O_DIRECTORY);
    size_t len = deep_chain(at, 1200, "dddddd"); /* 8.4 KB of path */
    close(at);
    ASSERT_GT(len, (size_t)PATH_MAX);
    ASSERT_EQ(wk_rmtree(top), 0);
    ASSERT(!exists(top));
    ASSERT_EQ(rmdir(root), 0);
}

TEST(wide_and_deep_mixed)
{
    make_root();
    char top[128], p[256];
    snprintf(top, sizeof top, "%s/tree", root);
    ASSERT_EQ(mkdir(top, 0755), 0);
    for (int i = 0; i < 300; i++) {
        snprintf(p, sizeof p, "%s/w%d", top, i);
        ASSERT_EQ(mkdir(p, 0700), 0);
        snprintf(p, sizeof p, "%s/w%d/file", top, i);
        close(open(p, O_CREAT | O_WRONLY, 0));
        if (i % 50 == 0) {
            snprintf(p, sizeof p, "%s/w%d", top, i);
            int at = open(p, O_RDONLY | O_DIRECTORY);
            deep_chain(at, 400, "x");
            close(at);
        }
    }
    /* names that collide with the remover's own */
    snprintf(p, sizeof p, "%s/.ci-rm-0", top);
    ASSERT_EQ(mkdir(p, 0), 0); /* mode 0: root removes it anyway */
    ASSERT_EQ(wk_rmtree(top), 0);
    ASSERT(!exists(top));
    ASSERT_EQ(rmdir(root), 0);
}

TEST(symlinks_are_not_followed)
{
    make_root();
    char top[128], victim[128], p[256];
    snprintf(top, sizeof top, "%s/tree", root);
    snprintf(victim, sizeof victim, "%s/victim", root);
    ASSERT_EQ(mkdir(top, 0755), 0);
    ASSERT_EQ(mkdir(victim, 0755), 0);
    snprintf(p, sizeof p, "%s/keep", victim);
    close(open(p, O_CREAT | O_WRONLY, 0644));
    snprintf(p, sizeof p, "%s/link", top);
    ASSERT_EQ(symlink(victim, p), 0);
    snprintf(p, sizeof p, "%s/sub", top);
    ASSERT_EQ(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/sub/link2", top);
    ASSERT_EQ(symlink(victim, p), 0);
    ASSERT_EQ(wk_rmtree(top), 0);
    ASSERT(!exists(top));
    snprintf(p, sizeof p, "%s/keep", victim);
    ASSERT(exists(p));
    /* the path itself a symlink: only the link goes */
    ASSERT_EQ(symlink(victim, top), 0);
    ASSERT_EQ(wk_rmtree(top), 0);
    ASSERT(!exists(top) && exists(p));
    ASSERT_EQ(wk_rmtree(victim), 0);
    ASSERT_EQ(wk_rmtree(victim), 0); /* absent: fine */
    ASSERT_EQ(rmdir(root), 0);
}

TEST_MAIN(deeper_than_path_max, wide_and_deep_mixed, symlinks_are_not_followed)
