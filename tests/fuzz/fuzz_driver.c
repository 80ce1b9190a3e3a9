/*
 * fuzz_driver.c - a plain main() for libFuzzer-style targets, so every
 * target builds with gcc and runs under ctest without clang.
 *
 *   target [DIR|FILE]...
 *
 * Only FILE arguments: reproduce mode, each file is run once.  Otherwise
 * every file of every DIR (the seed corpus) is run once, then random
 * mutations of the corpus (bit flips, interesting values, inserts, deletes,
 * copies, splices, dictionary tokens) run until FUZZ_SECONDS (default 10)
 * have passed or FUZZ_RUNS inputs were tried.  FUZZ_SEED fixes the random
 * seed (printed at start), FUZZ_MAX_LEN bounds input size (default 8192).
 *
 * There is no coverage feedback: this is a smoke fuzzer that makes every
 * target run on every build; long sessions use the real libFuzzer binary
 * (<target>-libfuzzer, see README.md).  When an input kills the process
 * (sanitizer report, or a signal in plain builds) it is first written to
 * $FUZZ_ARTIFACT_DIR (default .) as crash-<pid>.bin for reproduction.
 *
 * A target may define `const char *const ci_fuzz_dict[]` (NULL-terminated)
 * with tokens worth inserting, like libFuzzer's -dict.  A target returns -1
 * for inputs not worth mutating further (e.g. not even parseable), as
 * libFuzzer allows; the driver then keeps no mutants of them.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));
extern const char *const ci_fuzz_dict[] __attribute__((weak));

#define FZ_POOL_MAX 512
#define FZ_FILE_MAX (1u << 20)

struct fz_input {
    uint8_t *data;
    size_t len;
};

static struct fz_input fz_pool[FZ_POOL_MAX];
static size_t fz_npool, fz_nseeds;
static uint64_t fz_rng;
static const uint8_t *volatile fz_cur;
static volatile size_t fz_cur_len;
static char fz_crash_path[512];

static uint64_t fz_rand(void)
{
    fz_rng ^= fz_rng << 13;
    fz_rng ^= fz_rng >> 7;
    fz_rng ^= fz_rng << 17;
    return fz_rng;
}

static size_t fz_below(size_t n)
{
    return n ? (size_t)(fz_rand() % n) : 0;
}

/* Save the input being run; async-signal-safe (open/write/close only). */
static void fz_save_current(void)
{
    const uint8_t *p = fz_cur;
    size_t n = fz_cur_len;
    int fd = open(fz_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            break;
        p += w;
        n -= (size_t)w;
    }
    close(fd);
    static const char msg[] = "fuzz_driver: crashing input saved to ";
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, fz_crash_path, strlen(fz_crash_path));
    (void)!write(2, "\n", 1);
}

static void fz_on_signal(int sig)
{
    fz_save_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void fz_install_crash_hooks(void)
{
    const char *dir = getenv("FUZZ_ARTIFACT_DIR");
    snprintf(fz_crash_path, sizeof fz_crash_path, "%s/crash-%ld.bin", dir && *dir ? dir : ".",
             (long)getpid());
    if (__sanitizer_set_death_callback) {
        __sanitizer_set_death_callback(fz_save_current);
        return; /* the sanitizer owns the signal handlers */
    }
    int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], fz_on_signal);
}

static int fz_run(const uint8_t *data, size_t len)
{
    /* an exact-size heap copy, so ASan catches any read past the end */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    if (len)
        memcpy(copy, data, len);
    fz_cur = copy;
    fz_cur_len = len;
    int rc = LLVMFuzzerTestOneInput(copy, len);
    fz_cur = NULL;
    free(copy);
    return rc;
}

static int fz_read_file(const char *path, struct fz_input *in)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    in->data = malloc(FZ_FILE_MAX);
    in->len = in->data ? fread(in->data, 1, FZ_FILE_MAX, f) : 0;
    fclose(f);
    return in->data ? 0 : -1;
}

static void fz_add_seed(const char *path)
{
    struct fz_input in;
    if (fz_npool >= FZ_POOL_MAX / 2 || fz_read_file(path, &in) < 0)
        return;
    fz_pool[fz_npool++] = in;
}

static void fz_load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    struct stat st;
    if (!d) {
        fprintf(stderr, "fuzz_driver: cannot open %s\n", dir);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            fz_add_seed(path);
    }
    closedir(d);
}

static size_t fz_dict_size(void)
{
    size_t n = 0;
    if (ci_fuzz_dict)
        while (ci_fuzz_dict[n])
            n++;
    return n;
}

/* Mutate buf[0..*len) in place (capacity cap); 1..4 stacked edits. */
static void fz_mutate(uint8_t *buf, size_t *len, size_t cap)
{
    static const uint32_t interesting[] = {0,          1,           0x7f,        0x80,   0xff,
                                           0x100,      0x7fff,      0x8000,      0xffff, 0x10000,
                                           0x7fffffff, 0x80000000u, 0xffffffffu, 0x186a1};
    size_t ndict = fz_dict_size();
    int edits = fz_below(2) ? 1 : 2 + (int)fz_below(3);
    for (int k = 0; k < edits; k++) {
        size_t n = *len, pos = fz_below(n + 1), m;
        switch (fz_below(9)) {
        case 0: /* flip a bit */
            if (n)
                buf[fz_below(n)] ^= (uint8_t)(1u << fz_below(8));
            break;
        case 1: /* random byte */
            if (n)
                buf[fz_below(n)] = (uint8_t)fz_rand();
            break;
        case 2: { /* interesting value, 1/2/4 bytes big-endian */
            uint32_t v = interesting[fz_below(sizeof interesting / sizeof interesting[0])];
            size_t w = (size_t)1 << fz_below(3);
            for (size_t i = 0; i < w && pos + i < n; i++)
                buf[pos + i] = (uint8_t)(v >> (8 * (w - 1 - i)));
            break;
        }
        case 3: /* insert random bytes */
            m = 1 + fz_below(8);
            if (n + m <= cap) {
                memmove(buf + pos + m, buf + pos, n - pos);
                for (size_t i = 0; i < m; i++)
                    buf[pos + i] = (uint8_t)fz_rand();
                *len = n + m;
            }
            break;
        case 4: /* delete a range */
            if (n) {
                m = 1 + fz_below(n - pos < 16 ? n - pos : 16);
                if (pos + m <= n) {
                    memmove(buf + pos, buf + pos + m, n - pos - m);
                    *len = n - m;
                }
            }
            break;
        case 5: { /* copy a range elsewhere (overwrite) */
            if (n < 2)
                break;
            size_t src = fz_below(n), dst = fz_below(n);
            m = 1 + fz_below(n - (src > dst ? src : dst));
            memmove(buf + dst, buf + src, m);
            break;
        }
        case 6: { /* splice: our head + another input's tail */
            const struct fz_input *o = &fz_pool[fz_below(fz_npool)];
            if (!fz_npool || !o->len)
                break;
            size_t from = fz_below(o->len);
            m = o->len - from;
            if (pos + m > cap)
                m = cap - pos;
            memcpy(buf + pos, o->data + from, m);
            *len = pos + m;
            break;
        }
        case 7: /* truncate */
            *len = pos;
            break;
        case 8: /* dictionary token */
            if (ndict) {
                const char *t = ci_fuzz_dict[fz_below(ndict)];
                m = strlen(t);
                if (n + m <= cap) {
                    memmove(buf + pos + m, buf + pos, n - pos);
                    memcpy(buf + pos, t, m);
                    *len = n + m;
                }
            }
            break;
        }
    }
}

static double fz_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long fz_env_long(const char *name, long def)
{
    const char *v = getenv(name);
    char *end;
    if (!v || !*v)
        return def;
    long x = strtol(v, &end, 10);
    return *end ? def : x;
}

int main(int argc, char **argv)
{
    struct stat st;
    int only_files = argc > 1;
    double seconds = (double)fz_env_long("FUZZ_SECONDS", 10);
    long max_runs = fz_env_long("FUZZ_RUNS", 0);
    size_t max_len = (size_t)fz_env_long("FUZZ_MAX_LEN", 8192);
    uint64_t runs = 0;

    fz_rng = (uint64_t)fz_env_long("FUZZ_SEED", 0);
    if (!fz_rng)
        fz_rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    fz_install_crash_hooks();
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            only_files = 0;
            fz_load_dir(argv[i]);
        } else {
            fz_add_seed(argv[i]);
        }
    }
    fz_nseeds = fz_npool;
    fprintf(stderr, "fuzz_driver: %zu seed inputs, %.0f s, seed %llu\n", fz_nseeds, seconds,
            (unsigned long long)fz_rng);
    fz_run((const uint8_t *)"", 0);
    for (size_t i = 0; i < fz_nseeds; i++, runs++)
        fz_run(fz_pool[i].data, fz_pool[i].len);
    if (only_files)
        goto out;

    uint8_t *buf = malloc(max_len);
    if (!buf)
        return 1;
    double end = fz_now() + seconds;
    while (max_runs == 0 || (long)runs < max_runs) {
        if ((runs & 63) == 0 && fz_now() >= end)
            break;
        size_t len = 0;
        if (fz_npool) {
            const struct fz_input *base = &fz_pool[fz_below(fz_npool)];
            len = base->len < max_len ? base->len : max_len;
            memcpy(buf, base->data, len);
        }
        fz_mutate(buf, &len, max_len);
        int rc = fz_run(buf, len);
        runs++;
        /* keep some mutants the target did not reject (-1, as in libFuzzer)
         * so edits can stack over generations */
        if (rc == 0 && fz_below(4) == 0) {
            size_t slot =
                fz_npool < FZ_POOL_MAX ? fz_npool++ : fz_nseeds + fz_below(FZ_POOL_MAX - fz_nseeds);
            free(fz_pool[slot].data); /* NULL for a fresh slot (static storage) */
            fz_pool[slot].data = malloc(len ? len : 1);
            if (!fz_pool[slot].data)
                abort();
            memcpy(fz_pool[slot].data, buf, len);
            fz_pool[slot].len = len;
        }
    }
    free(buf);
out:
    fprintf(stderr, "fuzz_driver: done, %llu inputs run, no crash\n", (unsigned long long)runs);
    for (size_t i = 0; i < fz_npool; i++)
        free(fz_pool[i].data);
    return 0;
}
