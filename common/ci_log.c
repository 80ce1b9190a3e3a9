#include "ci_log.h"

#include "ci_util.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum ci_log_level ci_log_min_level = CI_LOG_INFO;
static const char *log_component = "ci";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ci_log_init(const char *component)
{
    const char *lvl = getenv("LOG_LEVEL");
    log_component = component;
    if (!lvl)
        return;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(lvl, level_names[i]) == 0)
            ci_log_min_level = (enum ci_log_level)i;
}

void ci_log_at(enum ci_log_level level, const char *request_id, const char *fmt, ...)
{
    char msg[2048], ts[40];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "ts", ts, "level", level_names[level & 3],
                          "component", log_component, "msg", msg);
    if (!o)
        return;
    if (request_id)
        json_object_set_new(o, "request_id", json_string(request_id));
    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!line)
        return;
    ci_write_line(STDERR_FILENO, line);
    free(line);
}

int ci_write_line(int fd, const char *text)
{
    size_t n = strlen(text);
    char *buf = ci_xmalloc(n + 1);
    memcpy(buf, text, n);
    buf[n] = '\n';
    ssize_t w = write(fd, buf, n + 1);
    int rc = w == (ssize_t)(n + 1) ? 0 : w < 0 ? -errno : -EIO;
    free(buf);
    return rc;
}
