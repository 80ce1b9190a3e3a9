/*
 * s3rver.h - a real S3-compatible server (s3rver from npm, installed in
 * ops/s3/ by `npm ci`, see ops/s3/install.sh) for one test process.
 *
 * s3rver_start() starts `node ops/s3/node_modules/.bin/s3rver` on a free
 * loopback port with a fresh temp directory and one bucket, waits until it
 * accepts connections and sets STORAGE_BACKEND=s3 and the S3_* variables in
 * the environment (access key and secret "S3RVER").  The child dies with the
 * test (PR_SET_PDEATHSIG) and is killed at exit.  Main thread only.
 */
#ifndef TESTS_S3RVER_H
#define TESTS_S3RVER_H

#include <sys/types.h>

struct s3rver {
    pid_t pid;
    int port;
    char dir[256];
    char endpoint[64];
};

/* 0, -ENOENT when s3rver is not installed, or another negative errno. */
int s3rver_start(struct s3rver *s, const char *bucket);
/* The same environment, served by tests/storage/sigv4_s3.py instead: an
 * in-memory S3 that recomputes every request's SigV4 signature and answers
 * 403 when it differs (s3rver checks only the access key of V4 requests). */
int s3_sigv4_start(struct s3rver *s, const char *bucket);
void s3rver_stop(struct s3rver *s);

#endif
