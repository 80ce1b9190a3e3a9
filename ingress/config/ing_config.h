/*
 * ing_config.h - the ingress configuration, read once from the environment
 * (and .env) at start-up.
 *
 * Filled by ing_config_load() in main() before any thread starts; read-only
 * afterwards, so every thread may read the one global `ing_cfg` freely.
 */
#ifndef ING_CONFIG_H
#define ING_CONFIG_H

#include "sch_limits.h"

#include <stddef.h>
#include <stdint.h>

#define ING_VERSION "0.1.0"
#define ING_MAX_KEYS 64

struct ing_config {
    char bind[64];         /* HOST, default 0.0.0.0 */
    int port;              /* PORT, default 8000 */
    int threads;           /* INGRESS_THREADS, default 8 */
    int max_connections;   /* INGRESS_MAX_CONNECTIONS, default 16384 (lowered to the fd limit) */
    char redis_host[256];  /* REDIS_HOST, default 127.0.0.1 */
    int redis_port;        /* REDIS_PORT, default 6379 */
    char redis_password[256]; /* REDIS_PASSWORD, optional */
    int64_t job_ttl_s;     /* JOB_TTL_SECONDS, default 86400 */
    int64_t session_ttl_s; /* SESSION_TTL_HOURS * 3600, default 24 h */
    int64_t exec_queue_wait_ms; /* EXEC_QUEUE_WAIT_SECONDS: how long /exec waits on
                                   top of the execution time, default 60 s */
    int64_t max_wait_s;    /* JOBS_MAX_WAIT_SECONDS: cap of ?wait=, default 60 */
    int64_t max_queue_depth; /* MAX_QUEUE_DEPTH: 503 above it, default 100000 */
    size_t nkeys;          /* API_KEY plus API_KEYS (comma separated) */
    char *keys[ING_MAX_KEYS];
    struct sch_limits limits;
};

extern struct ing_config ing_cfg;

/* Reads .env and the environment into ing_cfg.  Returns 0, or -1 after
 * logging why the configuration is unusable (no API key, bad port). */
int ing_config_load(void);

#endif
