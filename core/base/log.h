/* SPDX-License-Identifier: Apache-2.0 */
/* Process logging: one JSON object per line on stderr (or text for people). */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

#include "sluice/operator.h"

typedef enum sl_log_format { SL_LOG_JSON = 0, SL_LOG_TEXT } sl_log_format;

void sl_log_configure(sl_log_format format, sl_log_level min_level);
/* `component` names the emitter ("runtime", "kafka_source#0"); may be NULL. */
void sl_log(sl_log_level level, const char *component, const char *fmt, ...) SL_PRINTF(3, 4);
void sl_logv(sl_log_level level, const char *component, const char *fmt, va_list ap);
/* Like sl_log, but at most `per_minute` lines per `key` per minute; the next
 * line after a pause reports how many were suppressed. */
void sl_log_limited(const char *key, int per_minute, sl_log_level level, const char *component,
                    const char *fmt, ...) SL_PRINTF(5, 6);
sl_log_level sl_log_level_parse(const char *s, sl_log_level def);

#endif
