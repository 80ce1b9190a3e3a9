/*
 * sch_limits.c - limits from the environment (table-driven).
 */
#include "sch_limits.h"

#include "ci_env.h"

#include <stddef.h>

#define KIB ((int64_t)1024)
#define MIB (KIB * 1024)

enum sch_lim_kind { SCH_LIM_U32, SCH_LIM_SIZE };

struct sch_lim_def {
    const char *env;
    size_t offset;
    enum sch_lim_kind kind;
    int64_t def, min, max;
};

#define U32(env, field, d, lo, hi)                                                                 \
    {                                                                                              \
        env, offsetof(struct sch_limits, field), SCH_LIM_U32, d, lo, hi                            \
    }
#define SZ(env, field, d, lo, hi)                                                                  \
    {                                                                                              \
        env, offsetof(struct sch_limits, field), SCH_LIM_SIZE, d, lo, hi                           \
    }

static const struct sch_lim_def sch_lim_table[] = {
    U32("MAX_EXECUTION_TIME", max_execution_time_s, 30, 1, 3600),
    U32("MAX_MEMORY_MB", max_memory_mb, 512, 16, 65536),
    U32("MAX_FILE_SIZE_MB", max_file_size_mb, 10, 1, 4096),
    U32("MAX_FILES_PER_SESSION", max_files_per_session, 50, 1, 10000),
    U32("MAX_OUTPUT_FILES", max_output_files, 10, 0, 1000),
    SZ("MAX_CODE_BYTES", max_code_bytes, 1 * MIB, 1, 32 * MIB),
    SZ("MAX_OUTPUT_BYTES", max_output_bytes, 65536, 1 * KIB, 32 * MIB),
    U32("MAX_PIDS", max_pids, 128, 8, 65536),
    U32("MAX_ARGS", max_args, 64, 0, 4096),
    SZ("MAX_ARG_BYTES", max_arg_bytes, 4096, 1, 1 * MIB),
    SZ("MAX_BODY_BYTES", max_body_bytes, 2 * MIB, 1 * KIB, 64 * MIB),
    U32("MAX_BATCH_JOBS", max_batch_jobs, 1000, 1, 100000),
};

static void sch_lim_set(struct sch_limits *l, const struct sch_lim_def *d, int64_t v)
{
    char *p = (char *)l + d->offset;
    if (d->kind == SCH_LIM_U32)
        *(uint32_t *)(void *)p = (uint32_t)v;
    else
        *(size_t *)(void *)p = (size_t)v;
}

void sch_limits_default(struct sch_limits *l)
{
    for (size_t i = 0; i < sizeof sch_lim_table / sizeof sch_lim_table[0]; i++)
        sch_lim_set(l, &sch_lim_table[i], sch_lim_table[i].def);
}

void sch_limits_from_env(struct sch_limits *l)
{
    for (size_t i = 0; i < sizeof sch_lim_table / sizeof sch_lim_table[0]; i++) {
        const struct sch_lim_def *d = &sch_lim_table[i];
        sch_lim_set(l, d, ci_env_int(d->env, d->def, d->min, d->max));
    }
}
