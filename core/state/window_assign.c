/* SPDX-License-Identifier: Apache-2.0 */
/* Event-time extraction for windows: RFC 3339 parsing by hand (no locale,
 * no timezone database, no libc time functions) and range checks. */
#include <math.h>

#include "state/window_assign.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int digits(const char *s, size_t len, size_t *pos, int n, int64_t *out) {
  int64_t v = 0;
  for (int i = 0; i < n; i++) {
    if (*pos >= len || s[*pos] < '0' || s[*pos] > '9')
      return -1;
    v = v * 10 + (s[(*pos)++] - '0');
  }
  *out = v;
  return 0;
}

static int expect(const char *s, size_t len, size_t *pos, char c) {
  if (*pos >= len || s[*pos] != c)
    return -1;
  (*pos)++;
  return 0;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int sl_rfc3339_parse(const char *s, size_t len, int64_t *ms) {
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  size_t pos = 0;
  int64_t y, mo, d, h, mi, sec, frac_ms = 0;
  if (digits(s, len, &pos, 4, &y) || expect(s, len, &pos, '-') || digits(s, len, &pos, 2, &mo) ||
      expect(s, len, &pos, '-') || digits(s, len, &pos, 2, &d))
    return SL_ERR_PARSE;
  if (pos >= len || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' '))
    return SL_ERR_PARSE;
  pos++;
  if (digits(s, len, &pos, 2, &h) || expect(s, len, &pos, ':') || digits(s, len, &pos, 2, &mi) ||
      expect(s, len, &pos, ':') || digits(s, len, &pos, 2, &sec))
    return SL_ERR_PARSE;
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 ||
      mi > 59 || sec > 60) /* 60: a leap second, folded into the next minute */
    return SL_ERR_PARSE;
  if (pos < len && s[pos] == '.') {
    pos++;
    int n = 0;
    while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 3)
        frac_ms = frac_ms * 10 + (s[pos] - '0');
      n++;
      pos++;
    }
    if (n == 0)
      return SL_ERR_PARSE;
    for (; n < 3; n++)
      frac_ms *= 10;
  }
  int64_t offset_min = 0;
  if (pos < len && (s[pos] == 'Z' || s[pos] == 'z')) {
    pos++;
  } else if (pos < len && (s[pos] == '+' || s[pos] == '-')) {
    int sign = s[pos++] == '-' ? -1 : 1;
    int64_t oh, om;
    if (digits(s, len, &pos, 2, &oh) || expect(s, len, &pos, ':') ||
        digits(s, len, &pos, 2, &om) || oh > 23 || om > 59)
      return SL_ERR_PARSE;
    offset_min = sign * (oh * 60 + om);
  } else {
    return SL_ERR_PARSE;
  }
  if (pos != len)
    return SL_ERR_PARSE;
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
  *ms = secs * 1000 + frac_ms;
  return SL_OK;
}

int sl_event_time_of(const sl_value *v, int64_t *ms) {
  int64_t t;
  if (!v)
    return SL_ERR_TYPE;
  switch (v->type) {
  case SL_TYPE_INT:
    t = v->as.i;
    break;
  case SL_TYPE_DOUBLE:
    if (!isfinite(v->as.d))
      return SL_ERR_TYPE;
    if (v->as.d < (double)SL_EVENT_TIME_MIN || v->as.d > (double)SL_EVENT_TIME_MAX)
      return SL_ERR_LIMIT;
    t = (int64_t)floor(v->as.d);
    break;
  case SL_TYPE_STRING:
    if (sl_rfc3339_parse(v->as.str.ptr, v->as.str.len, &t) != SL_OK)
      return SL_ERR_PARSE;
    break;
  default:
    return SL_ERR_TYPE;
  }
  if (t < SL_EVENT_TIME_MIN || t > SL_EVENT_TIME_MAX)
    return SL_ERR_LIMIT;
  *ms = t;
  return SL_OK;
}

const char *sl_event_time_problem(const sl_value *v, int rc) {
  return !v || v->type == SL_TYPE_NULL ? "missing or null"
         : rc == SL_ERR_LIMIT          ? "out of range (|t| > 2^62 ms)"
         : v->type == SL_TYPE_STRING   ? "not an RFC 3339 timestamp"
                                       : "not a time (int/double ms or RFC 3339 string)";
}
