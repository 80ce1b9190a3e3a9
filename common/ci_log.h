/*
 * ci_log.h - structured logging: one JSON object per line on stderr.
 *
 *   {"ts":"2026-11-27T22:50:01.123Z","level":"info","component":"worker",
 *    "msg":"job done","request_id":"..."}
 *
 * The level is checked before anything is formatted.  ci_log_init() is called
 * once from main(); the log functions are thread-safe (one write(2) per line).
 */
#ifndef CI_LOG_H
#define CI_LOG_H

enum ci_log_level { CI_LOG_DEBUG = 0, CI_LOG_INFO, CI_LOG_WARN, CI_LOG_ERROR };

/* `component` must outlive the process (a string literal).  The level comes
 * from LOG_LEVEL (debug|info|warn|error, default info). */
void ci_log_init(const char *component);
extern enum ci_log_level ci_log_min_level;

/* Writes text and a newline to fd in one write(2), so lines of concurrent
 * writers never interleave (the log, the audit log, the state archive log).
 * 0 or a negative errno. */
int ci_write_line(int fd, const char *text);

/* Log `fmt` at `level`; `request_id` may be NULL. */
void ci_log_at(enum ci_log_level level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CI_LOG_(lvl, rid, ...)                                                                     \
    do {                                                                                           \
        if ((lvl) >= ci_log_min_level)                                                             \
            ci_log_at((lvl), (rid), __VA_ARGS__);                                                  \
    } while (0)
#define log_debug(...) CI_LOG_(CI_LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) CI_LOG_(CI_LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) CI_LOG_(CI_LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) CI_LOG_(CI_LOG_ERROR, NULL, __VA_ARGS__)
/* Same, tagged with a request id carried from the ingress. */
#define rlog_info(rid, ...) CI_LOG_(CI_LOG_INFO, (rid), __VA_ARGS__)
#define rlog_warn(rid, ...) CI_LOG_(CI_LOG_WARN, (rid), __VA_ARGS__)
#define rlog_error(rid, ...) CI_LOG_(CI_LOG_ERROR, (rid), __VA_ARGS__)

#endif
