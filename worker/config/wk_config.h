/*
 * wk_config.h - the worker's configuration, read once at start-up from the
 * environment (and .env).  Read-only afterwards; the worker is one libuv
 * loop, so only that thread reads it.
 */
#ifndef WK_CONFIG_H
#define WK_CONFIG_H

#include "sch_limits.h"
#include "sch_types.h"

#include <stdint.h>

struct wk_config {
    char worker_id[128];     /* WORKER_ID, default <hostname>-<pid> */
    int concurrency;         /* WORKER_CONCURRENCY, jobs at once, default 2 */
    char redis_host[256];    /* REDIS_HOST */
    int redis_port;          /* REDIS_PORT */
    char redis_password[256];
    int64_t lease_ms;        /* LEASE_MS, default 30000 */
    int max_attempts;        /* MAX_ATTEMPTS, default 3 */
    char image_prefix[128];  /* IMAGE_PREFIX, default "code-interpreter/" */
    char image_tag[64];      /* IMAGE_TAG, default "latest" */
    char run_dir[256];       /* RUN_DIR */
    char data_dir[256];      /* DATA_DIR */
    int64_t cpus_nano;       /* CONTAINER_CPUS (e.g. 1.0) as NanoCpus */
    char hostname[64];       /* CONTAINER_GENERIC_HOSTNAME, default "sandbox" */
    uint32_t max_scan_entries; /* MAX_SCAN_ENTRIES: /mnt/data entries looked at per
                                  scan (stage-in, stage-out), default 10000 */
    uint32_t max_output_depth; /* MAX_OUTPUT_DEPTH: components of an output's path
                                  under /mnt/data ("a/b/c.csv" = 3), default 8 */
    struct sch_limits limits;
};

extern struct wk_config wk_cfg;

/* Fills wk_cfg; 0 or -1 after logging. */
int wk_config_load(void);

/* "<prefix><lang>:<tag>" into out. */
void wk_image_of(enum sch_lang lang, char *out, size_t outsz);

#endif
