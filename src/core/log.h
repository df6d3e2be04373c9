/* Minimal leveled logging to stderr. Level from HOPWIRE_LOG (error|warn|info|debug),
 * default warn. Thread-safe (one fprintf per line). */
#ifndef HOP_CORE_LOG_H
#define HOP_CORE_LOG_H

enum { HOP_LOG_ERROR = 0, HOP_LOG_WARN = 1, HOP_LOG_INFO = 2, HOP_LOG_DEBUG = 3 };

int hop_log_level(void);
void hop_log_set_level(int level);
void hop_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define HOP_LOG(level, ...)                                   \
  do {                                                        \
    if ((level) <= hop_log_level()) hop_log_write(level, __VA_ARGS__); \
  } while (0)
#define hop_log_error(...) HOP_LOG(HOP_LOG_ERROR, __VA_ARGS__)
#define hop_log_warn(...) HOP_LOG(HOP_LOG_WARN, __VA_ARGS__)
#define hop_log_info(...) HOP_LOG(HOP_LOG_INFO, __VA_ARGS__)
#define hop_log_debug(...) HOP_LOG(HOP_LOG_DEBUG, __VA_ARGS__)

#endif
