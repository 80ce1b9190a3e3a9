#include "ing_config.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"

#include <stdio.h>
#include <string.h>

struct ing_config ing_cfg;

static void add_key(const char *k, size_t len)
{
    while (len && (*k == ' ' || *k == '\t'))
        k++, len--;
    while (len && (k[len - 1] == ' ' || k[len - 1] == '\t'))
        len--;
    if (len == 0 || ing_cfg.nkeys >= ING_MAX_KEYS)
        return;
    ing_cfg.keys[ing_cfg.nkeys++] = ci_xstrndup(k, len);
}

static void load_keys(void)
{
    const char *one = ci_env_str("API_KEY", NULL);
    const char *many = ci_env_str("API_KEYS", NULL);
    if (one)
        add_key(one, strlen(one));
    while (many && *many) {
        const char *comma = strchr(many, ',');
        size_t len = comma ? (size_t)(comma - many) : strlen(many);
        add_key(many, len);
        many = comma ? comma + 1 : NULL;
    }
}

int ing_config_load(void)
{
    int n = ci_env_load_dotenv(NULL);
    if (n < 0)
        log_warn("cannot read the .env file: %s", strerror(-n));
    snprintf(ing_cfg.bind, sizeof ing_cfg.bind, "%s", ci_env_str("HOST", "0.0.0.0"));
    ing_cfg.port = (int)ci_env_int("PORT", 8000, 1, 65535);
    /* 8, not the core count: a thread waits out its Redis round trips, so
     * more of them overlap (POST /jobs on 2 cores: 10.5k/s at 4, 13k/s at 8) */
    ing_cfg.threads = (int)ci_env_int("INGRESS_THREADS", 8, 1, 64);
    ing_cfg.max_connections = (int)ci_env_int("INGRESS_MAX_CONNECTIONS", 16384, 16, 262144);
    snprintf(ing_cfg.redis_host, sizeof ing_cfg.redis_host, "%s",
             ci_env_str("REDIS_HOST", "127.0.0.1"));
    ing_cfg.redis_port = (int)ci_env_int("REDIS_PORT", 6379, 1, 65535);
    snprintf(ing_cfg.redis_password, sizeof ing_cfg.redis_password, "%s",
             ci_env_str("REDIS_PASSWORD", ""));
    ing_cfg.job_ttl_s = ci_env_int("JOB_TTL_SECONDS", 86400, 60, 30 * 86400);
    ing_cfg.session_ttl_s = ci_env_int("SESSION_TTL_HOURS", 24, 1, 24 * 30) * 3600;
    ing_cfg.exec_queue_wait_ms = ci_env_int("EXEC_QUEUE_WAIT_SECONDS", 60, 1, 3600) * 1000;
    ing_cfg.max_wait_s = ci_env_int("JOBS_MAX_WAIT_SECONDS", 60, 1, 600);
    ing_cfg.max_queue_depth = ci_env_int("MAX_QUEUE_DEPTH", 100000, 1, INT64_MAX);
    sch_limits_from_env(&ing_cfg.limits);
    load_keys();
    const char *jwt = ci_env_str("CODEAPI_JWT_PUBLIC_KEY_FILE", NULL);
    if (ing_cfg.nkeys == 0 && !(jwt && *jwt)) {
        log_error("no API key configured: set API_KEY (or API_KEYS) in the environment or .env, "
                  "or CODEAPI_JWT_PUBLIC_KEY_FILE for JWT mode");
        return -1;
    }
    return 0;
}
