/*
 * sch_explain.h - the one plain line a result's stderr gets when the
 * outcome would otherwise be invisible to a caller that reads only stdout
 * and stderr (LibreChat never reads `status` or `exit_code`):
 *
 *   status TIMEOUT                       "Execution timed out after 15 s"
 *   status OOM                           "Out of memory (limit 512 MB)"
 *   status FAILED, exit code != 0, and   "Process exited with code 3"
 *     stderr empty (or only whitespace)
 *
 * The line is appended after what the program wrote (a '\n' is put between
 * them when needed) and ends with '\n'; an stderr that already ends with
 * that line is left alone, so explaining twice changes nothing.  Other
 * outcomes are untouched.  Pure, any thread.
 */
#ifndef SCH_EXPLAIN_H
#define SCH_EXPLAIN_H

#include "sch_types.h"

#include <stddef.h>
#include <stdint.h>

/* The line for res (without '\n') into out; 0 when there is none. */
size_t sch_explain_line(const struct sch_result *res, uint32_t timeout_ms, uint32_t memory_mb,
                        char *out, size_t outsz);

/* Appends the line to res->stderr_buf (reallocated).  0 or -ENOMEM. */
int sch_result_explain(struct sch_result *res, uint32_t timeout_ms, uint32_t memory_mb);

#endif
