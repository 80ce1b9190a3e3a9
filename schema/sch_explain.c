/*
 * sch_explain.c - the stderr line for invisible outcomes (sch_explain.h).
 */
#include "sch_explain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* "15", "1.5", "0.25": seconds without trailing zeros. */
static void seconds(uint32_t ms, char *out, size_t outsz)
{
    if (ms % 1000 == 0)
        snprintf(out, outsz, "%u", ms / 1000);
    else if (ms % 100 == 0)
        snprintf(out, outsz, "%u.%u", ms / 1000, (ms % 1000) / 100);
    else if (ms % 10 == 0)
        snprintf(out, outsz, "%u.%02u", ms / 1000, (ms % 1000) / 10);
    else
        snprintf(out, outsz, "%u.%03u", ms / 1000, ms % 1000);
}

size_t sch_explain_line(const struct sch_result *res, uint32_t timeout_ms, uint32_t memory_mb,
                        char *out, size_t outsz)
{
    char secs[32];
    int n = 0;
    if (!res || !out || outsz == 0)
        return 0;
    out[0] = '\0';
    switch (res->status) {
    case SCH_STATUS_TIMEOUT:
        seconds(timeout_ms, secs, sizeof secs);
        n = snprintf(out, outsz, "Execution timed out after %s s", secs);
        break;
    case SCH_STATUS_OOM:
        n = snprintf(out, outsz, "Out of memory (limit %u MB)", memory_mb);
        break;
    case SCH_STATUS_FAILED:
        if (res->exit_code != 0 && blank(res->stderr_buf, res->stderr_len))
            n = snprintf(out, outsz, "Process exited with code %d", res->exit_code);
        break;
    default:
        break;
    }
    if (n <= 0 || (size_t)n >= outsz) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

/* 1 when buf[0..len) ends with line + optional '\n'. */
static int ends_with_line(const char *buf, size_t len, const char *line, size_t n)
{
    if (len && buf[len - 1] == '\n')
        len--;
    return len >= n && memcmp(buf + len - n, line, n) == 0 &&
           (len == n || buf[len - n - 1] == '\n');
}

int sch_result_explain(struct sch_result *res, uint32_t timeout_ms, uint32_t memory_mb)
{
    char line[128];
    size_t n = sch_explain_line(res, timeout_ms, memory_mb, line, sizeof line);
    if (n == 0)
        return 0;
    size_t len = res->stderr_buf ? res->stderr_len : 0;
    if (len && ends_with_line(res->stderr_buf, len, line, n))
        return 0;
    int sep = len && res->stderr_buf[len - 1] != '\n';
    char *buf = realloc(res->stderr_buf, len + (size_t)sep + n + 2);
    if (!buf)
        return -ENOMEM;
    if (sep)
        buf[len++] = '\n';
    memcpy(buf + len, line, n);
    len += n;
    buf[len++] = '\n';
    buf[len] = '\0';
    res->stderr_buf = buf;
    res->stderr_len = len;
    return 0;
}
