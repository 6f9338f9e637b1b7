/* SPDX-License-Identifier: Apache-2.0 */
/* Structured logs on stderr. JSON lines by default, so log shippers need no
 * parsing rules; `--log-format text` for people at a terminal. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"

static sl_log_format log_format = SL_LOG_JSON;
static sl_log_level log_min = SL_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *level_name(sl_log_level l) {
  switch (l) {
  case SL_LOG_DEBUG: return "debug";
  case SL_LOG_INFO: return "info";
  case SL_LOG_WARN: return "warn";
  default: return "error";
  }
}

void sl_log_configure(sl_log_format format, sl_log_level min_level) {
  log_format = format;
  log_min = min_level;
}

sl_log_level sl_log_level_parse(const char *s, sl_log_level def) {
  if (!s)
    return def;
  for (int l = SL_LOG_DEBUG; l <= SL_LOG_ERROR; l++)
    if (strcmp(s, level_name((sl_log_level)l)) == 0)
      return (sl_log_level)l;
  return def;
}

void sl_logv(sl_log_level level, const char *component, const char *fmt, va_list ap) {
  if (level < log_min)
    return;
  char msg[2048];
  vsnprintf(msg, sizeof msg, fmt, ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[96];
  snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  sl_buf b = SL_BUF_INIT;
  if (log_format == SL_LOG_TEXT) {
    sl_buf_printf(&b, "%s %-5s %s%s%s\n", when, level_name(level), component ? component : "",
                  component ? ": " : "", msg);
  } else {
    sl_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\"", when, level_name(level));
    if (component) {
      sl_buf_puts(&b, ",\"component\":");
      sl_buf_json_string(&b, component, strlen(component));
    }
    sl_buf_puts(&b, ",\"msg\":");
    sl_buf_json_string(&b, msg, strlen(msg));
    sl_buf_puts(&b, "}\n");
  }
  if (b.data) {
    pthread_mutex_lock(&log_lock);
    fwrite(b.data, 1, b.len, stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
  }
  sl_buf_free(&b);
}

void sl_log(sl_log_level level, const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl_logv(level, component, fmt, ap);
  va_end(ap);
}

typedef struct limit_slot {
  char key[64];
  time_t minute;
  int count;
  int suppressed;
} limit_slot;

void sl_log_limited(const char *key, int per_minute, sl_log_level level, const char *component,
                    const char *fmt, ...) {
  static limit_slot slots[32];
  time_t minute = time(NULL) / 60;
  int suppressed = 0, emit = 1;
  pthread_mutex_lock(&log_lock);
  limit_slot *s = NULL;
  for (int i = 0; i < 32 && !s; i++)
    if (strncmp(slots[i].key, key, sizeof slots[i].key - 1) == 0 || slots[i].key[0] == '\0')
      s = &slots[i];
  if (!s)
    s = &slots[0];
  if (strncmp(s->key, key, sizeof s->key - 1) != 0) {
    snprintf(s->key, sizeof s->key, "%s", key);
    s->count = s->suppressed = 0;
    s->minute = minute;
  }
  if (s->minute != minute) {
    suppressed = s->suppressed;
    s->minute = minute;
    s->count = s->suppressed = 0;
  }
  if (s->count >= per_minute) {
    s->suppressed++;
    emit = 0;
  } else {
    s->count++;
  }
  pthread_mutex_unlock(&log_lock);
  if (suppressed)
    sl_log(level, component, "%d similar messages suppressed in the last minute", suppressed);
  if (!emit)
    return;
  va_list ap;
  va_start(ap, fmt);
  sl_logv(level, component, fmt, ap);
  va_end(ap);
}
