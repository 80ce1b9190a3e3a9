/*
 * sch_limits.h - the size and count limits every component enforces, read
 * once from the environment.
 *
 * Each limit has a default and a clamp range; a value outside the range is
 * clamped, a value that is not a whole number falls back to the default (see
 * ci_env_int()).  The struct is plain data: fill it once at start-up (after
 * ci_env_load_dotenv()) and share it read-only between threads.
 *
 *   variable                unit    default   range
 *   MAX_EXECUTION_TIME      s       30        1 .. 3600
 *   MAX_MEMORY_MB           MiB     512       16 .. 65536
 *   MAX_FILE_SIZE_MB        MiB     10        1 .. 4096
 *   MAX_FILES_PER_SESSION   count   50        1 .. 10000
 *   MAX_OUTPUT_FILES        count   10        0 .. 1000
 *   MAX_CODE_BYTES          bytes   1 MiB     1 .. 32 MiB
 *   MAX_OUTPUT_BYTES        bytes   65536     1024 .. 32 MiB   (per stream)
 *   MAX_PIDS                count   128       8 .. 65536
 *   MAX_ARGS                count   64        0 .. 4096
 *   MAX_ARG_BYTES           bytes   4096      1 .. 1 MiB
 *   MAX_BODY_BYTES          bytes   2 MiB     1 KiB .. 64 MiB
 *   MAX_BATCH_JOBS          count   1000      1 .. 100000
 */
#ifndef SCH_LIMITS_H
#define SCH_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct sch_limits {
    uint32_t max_execution_time_s;
    uint32_t max_memory_mb;
    uint32_t max_file_size_mb;
    uint32_t max_files_per_session;
    uint32_t max_output_files;
    size_t max_code_bytes;
    size_t max_output_bytes;
    uint32_t max_pids;
    uint32_t max_args;
    size_t max_arg_bytes;
    size_t max_body_bytes;
    uint32_t max_batch_jobs;
};

/* The built-in defaults, ignoring the environment. */
void sch_limits_default(struct sch_limits *l);

/* Defaults overridden by the environment variables listed above. */
void sch_limits_from_env(struct sch_limits *l);

#endif
