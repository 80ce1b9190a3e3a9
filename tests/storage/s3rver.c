#include "s3rver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CI_SOURCE_DIR
#error CI_SOURCE_DIR must be defined
#endif

static pid_t s_child;

static void kill_child(void)
{
    if (s_child > 0) {
        kill(s_child, SIGKILL);
        waitpid(s_child, NULL, 0);
        s_child = 0;
    }
}

/* A loopback port that binds now, drawn below the kernel's ephemeral range
 * (32768+): a bind(0) port is ephemeral, and the outgoing connections of
 * the tests running in parallel could take it before the server binds it.
 * spawn_server() still retries when the server loses the race. */
static int free_port(void)
{
    static int seeded;
    if (!seeded) {
        srand((unsigned)getpid() ^ (unsigned)time(NULL));
        seeded = 1;
    }
    for (int i = 0; i < 200; i++) {
        int port = 20000 + rand() % 12000, one = 1;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (fd < 0)
            return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    return -1;
}

static int can_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Forks argv (argv[0] looked up in PATH) with "@PORT@" replaced by a free
 * port, waits until it accepts connections, then points the S3_*
 * variables at it. */
/* One start of argv on s->port; 0 once it accepts connections, -ECHILD
 * when it exited first (e.g. its port was taken meanwhile). */
static int spawn_once(struct s3rver *s, char *const *argv)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execvp(argv[0], argv);
        _exit(127);
    }
    s->pid = s_child = pid;
    for (int i = 0; i < 300 && !can_connect(s->port); i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            s->pid = s_child = 0;
            return -ECHILD;
        }
    }
    return 0;
}

static int spawn_server(struct s3rver *s, const char *bucket, char **argv)
{
    char port[16];
    char **args = NULL;
    int n = 0, rc = -ECHILD;
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/ci-s3rver-XXXXXX");
    if (!mkdtemp(s->dir))
        return -errno;
    atexit(kill_child);
    while (argv[n])
        n++;
    args = calloc((size_t)n + 1, sizeof *args);
    if (!args)
        return -ENOMEM;
    for (int attempt = 0; attempt < 3 && rc == -ECHILD; attempt++) {
        s->port = free_port();
        snprintf(port, sizeof port, "%d", s->port);
        for (int i = 0; i < n; i++)
            args[i] = strcmp(argv[i], "@PORT@") == 0  ? port
                      : strcmp(argv[i], "@DIR@") == 0 ? s->dir
                                                      : argv[i];
        rc = spawn_once(s, args);
    }
    free(args);
    if (rc != 0)
        return rc;
    snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", s->port);
    setenv("STORAGE_BACKEND", "s3", 1);
    setenv("S3_ENDPOINT", s->endpoint, 1);
    setenv("S3_BUCKET", bucket, 1);
    setenv("S3_ACCESS_KEY", "S3RVER", 1);
    setenv("S3_SECRET_KEY", "S3RVER", 1);
    setenv("S3_REGION", "us-east-1", 1);
    return 0;
}

int s3rver_start(struct s3rver *s, const char *bucket)
{
    char bin[512];
    snprintf(bin, sizeof bin, "%s/ops/s3/node_modules/.bin/s3rver", CI_SOURCE_DIR);
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "s3rver is not installed: run bash ops/s3/install.sh\n");
        return -ENOENT;
    }
    /* s3rver encrypts continuation tokens with a cipher OpenSSL 3 keeps in
     * its legacy provider */
    char *argv[] = {"node", "--openssl-legacy-provider", bin, "-d", "@DIR@", "-a", "127.0.0.1",
                    "-p", "@PORT@", "-s", "--configure-bucket", (char *)bucket, NULL};
    return spawn_server(s, bucket, argv);
}

int s3_sigv4_start(struct s3rver *s, const char *bucket)
{
    char script[512];
    snprintf(script, sizeof script, "%s/tests/storage/sigv4_s3.py", CI_SOURCE_DIR);
    char *argv[] = {"python3", script, "@PORT@", (char *)bucket, "S3RVER", "S3RVER", "us-east-1",
                    NULL};
    return spawn_server(s, bucket, argv);
}

void s3rver_stop(struct s3rver *s)
{
    kill_child();
    s->pid = 0;
    if (s->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", s->dir);
    }
}
