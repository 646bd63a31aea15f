/*
 * log.h — leveled logging to stderr: "2026-11-22T03:04:05.123Z INFO  ternd: message".
 * The level is process-wide (tern_log_set_level); messages below it cost one compare.
 */
#ifndef TERN_CORE_LOG_H
#define TERN_CORE_LOG_H

enum { TERN_LOG_DEBUG = 0, TERN_LOG_INFO, TERN_LOG_WARN, TERN_LOG_ERROR, TERN_LOG_OFF };

extern int tern_log_level;
void tern_log_set_level(int level);
/* Parses "debug|info|warn|error|off"; returns -1 if unknown. */
int tern_log_parse_level(const char *s);
void tern_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define TLOG(level, ...)                                                                                               \
    do {                                                                                                               \
        if ((level) >= tern_log_level)                                                                                 \
            tern_log_write((level), __VA_ARGS__);                                                                      \
    } while (0)
#define LOG_DEBUG(...) TLOG(TERN_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) TLOG(TERN_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) TLOG(TERN_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) TLOG(TERN_LOG_ERROR, __VA_ARGS__)

#endif
