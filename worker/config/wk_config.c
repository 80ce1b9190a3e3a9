#include "wk_config.h"

#include "ci_env.h"
#include "ci_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct wk_config wk_cfg;

static void copy_env(char *dst, size_t dstsz, const char *name, const char *def)
{
    snprintf(dst, dstsz, "%s", ci_env_str(name, def));
}

int wk_config_load(void)
{
    int n = ci_env_load_dotenv(NULL);
    if (n < 0)
        log_warn("cannot read the .env file");
    char host[64] = "worker";
    gethostname(host, sizeof host - 1);
    char def_id[128];
    snprintf(def_id, sizeof def_id, "%s-%d", host, (int)getpid());
    copy_env(wk_cfg.worker_id, sizeof wk_cfg.worker_id, "WORKER_ID", def_id);
    wk_cfg.concurrency = (int)ci_env_int("WORKER_CONCURRENCY", 2, 1, 256);
    copy_env(wk_cfg.redis_host, sizeof wk_cfg.redis_host, "REDIS_HOST", "127.0.0.1");
    wk_cfg.redis_port = (int)ci_env_int("REDIS_PORT", 6379, 1, 65535);
    copy_env(wk_cfg.redis_password, sizeof wk_cfg.redis_password, "REDIS_PASSWORD", "");
    wk_cfg.lease_ms = ci_env_int("LEASE_MS", 30000, 1000, 3600 * 1000);
    wk_cfg.max_attempts = (int)ci_env_int("MAX_ATTEMPTS", 3, 1, 100);
    copy_env(wk_cfg.image_prefix, sizeof wk_cfg.image_prefix, "IMAGE_PREFIX",
             "code-interpreter/");
    copy_env(wk_cfg.image_tag, sizeof wk_cfg.image_tag, "IMAGE_TAG", "latest");
    copy_env(wk_cfg.run_dir, sizeof wk_cfg.run_dir, "RUN_DIR", "/var/lib/code-interpreter/run");
    copy_env(wk_cfg.data_dir, sizeof wk_cfg.data_dir, "DATA_DIR",
             "/var/lib/code-interpreter/data");
    copy_env(wk_cfg.hostname, sizeof wk_cfg.hostname, "CONTAINER_GENERIC_HOSTNAME", "sandbox");
    const char *cpus = ci_env_str("CONTAINER_CPUS", "1");
    double c = strtod(cpus, NULL);
    if (!(c > 0.01 && c <= 64))
        c = 1;
    wk_cfg.cpus_nano = (int64_t)(c * 1e9);
    wk_cfg.max_scan_entries = (uint32_t)ci_env_int("MAX_SCAN_ENTRIES", 10000, 10, 1000000);
    wk_cfg.max_output_depth = (uint32_t)ci_env_int("MAX_OUTPUT_DEPTH", SCH_FILEPATH_DEPTH, 1, SCH_FILEPATH_DEPTH);
    sch_limits_from_env(&wk_cfg.limits);
    return 0;
}

void wk_image_of(enum sch_lang lang, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s%s:%s", wk_cfg.image_prefix, sch_lang_name(lang), wk_cfg.image_tag);
}
