/*
 * st_s3_int.h - shared between st_s3.c (requests) and st_s3_list.c
 * (ListObjectsV2).  Private to common/storage/.
 */
#ifndef ST_S3_INT_H
#define ST_S3_INT_H

#include "st_int.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>

struct st_s3 {
    struct st_store base;
    char endpoint[512]; /* no trailing '/' */
    char bucket[64];
    char sigv4[64];    /* "aws:amz:<region>:s3" */
    char userpwd[512]; /* "<access>:<secret>" */
};

/* One request's buffers.  Body goes to fd when fd >= 0, else to buf. */
struct st_s3_xfer {
    CURL *h;
    long status;
    int fd;
    int64_t max, got; /* max < 0: unlimited */
    int too_big, write_failed;
    char *buf;
    size_t len, cap;
    char errbody[512];
    size_t errlen;
    char etag[80];
    int64_t head_size, head_mtime_ms;
    /* upload: from up_file, else from up[0..up_len] */
    FILE *up_file;
    const char *up;
    size_t up_len, up_off;
    const char *content_type;
};

void st__s3_xfer_init(struct st_s3_xfer *x);
void st__s3_xfer_release(struct st_s3_xfer *x);

/* Runs one request on <endpoint>/<bucket>/<path_and_query> (or
 * <endpoint>/<bucket>?query when path_and_query starts with '?').
 * Returns 0 (2xx), -ENOENT (404), -EFBIG (x->max exceeded), -EIO. */
int st__s3_perform(struct st_s3 *s, const char *method, const char *path_and_query,
                   struct st_s3_xfer *x);

int st__s3_list(struct st_store *st, const char *prefix, char ***keys, size_t *n, size_t *cap);

#endif
