/* SPDX-License-Identifier: Apache-2.0 */
/* Pure time arithmetic of windows: event-time extraction (ms, RFC 3339),
 * floor division, and which tumbling/hopping windows contain a time. */
#ifndef SLUICE_WINDOW_ASSIGN_H
#define SLUICE_WINDOW_ASSIGN_H

#include <stdint.h>

#include "sluice/record.h"

/* Event times are accepted in [-2^62, 2^62] ms (about +-146 million years),
 * so window bounds, `e - 1 + lateness` and `last + gap` never overflow int64
 * while durations are limited to SL_WINDOW_MAX_DURATION. */
#define SL_EVENT_TIME_MIN (-(INT64_C(1) << 62))
#define SL_EVENT_TIME_MAX (INT64_C(1) << 62)
#define SL_WINDOW_MAX_DURATION (INT64_C(1) << 59)

/* floor(a / b) for b > 0, exact for negative a. */
static inline int64_t sl_floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b) != 0 && (a < 0))
    q--;
  return q;
}

/* a + b saturating at the int64 limits. */
static inline int64_t sl_sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

/* Start of the tumbling window of size `size` containing t. */
static inline int64_t sl_tumbling_start(int64_t t, int64_t size) {
  return sl_floor_div(t, size) * size;
}

/* Hopping windows [k*every, k*every + size) containing t are those with
 * k in [*k_first, *k_last] (ascending k = ascending window end). */
static inline void sl_hopping_range(int64_t t, int64_t size, int64_t every, int64_t *k_first,
                                    int64_t *k_last) {
  *k_last = sl_floor_div(t, every);
  *k_first = sl_floor_div(t - size, every) + 1;
}

/* Parse an RFC 3339 timestamp ("2026-11-27T10:00:00Z", fractional seconds,
 * "+hh:mm"/"-hh:mm" offsets, 't'/' ' separator accepted) into ms since the
 * epoch (fraction truncated toward the past). SL_OK or SL_ERR_PARSE. */
int sl_rfc3339_parse(const char *s, size_t len, int64_t *ms);

/* Event time of a field value: INT ms, DOUBLE ms (floored), or an RFC 3339
 * string. SL_OK, SL_ERR_TYPE (null/other types/NaN) or SL_ERR_PARSE, and
 * SL_ERR_LIMIT outside [SL_EVENT_TIME_MIN, SL_EVENT_TIME_MAX]. */
int sl_event_time_of(const sl_value *v, int64_t *ms);
/* Why sl_event_time_of refused `v` (rc: what it returned), for dead-letter
 * messages: "missing or null", "not an RFC 3339 timestamp", ... */
const char *sl_event_time_problem(const sl_value *v, int rc);

#endif
