/* SPDX-License-Identifier: Apache-2.0 */
/* Expected versus produced records for `sluice test` (test_compare.h).
 * Matching is two passes: first exact matches, each expected record taking
 * the earliest equal output not taken yet; then the remaining ones are
 * paired by the most equal fields, so that a window result with one wrong
 * aggregate reads as "changed: avg_temp" instead of one missing and one
 * unexpected record. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/test_compare.h"

#define REL_TOLERANCE 1e-9

static int numbers_equal(const json_t *e, const json_t *g) {
  if (json_is_integer(e) && json_is_integer(g))
    return json_integer_value(e) == json_integer_value(g);
  double a = json_number_value(e), b = json_number_value(g);
  if (a == b)
    return 1;
  double scale = fmax(fabs(a), fabs(b));
  return fabs(a - b) <= REL_TOLERANCE * scale;
}

static int objects_equal(const json_t *e, const json_t *g, int top) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)e, k, v) {
    json_t *w = json_object_get(g, k);
    if (!w || !sl_test_json_equal(v, w, 0))
      return 0;
  }
  json_object_foreach((json_t *)g, k, v) {
    if (top && strcmp(k, "_id") == 0 && !json_object_get(e, "_id"))
      continue;
    if (!json_object_get(e, k))
      return 0;
  }
  return 1;
}

int sl_test_json_equal(const json_t *e, const json_t *g, int top) {
  if (json_is_number(e) && json_is_number(g))
    return numbers_equal(e, g);
  if (json_typeof(e) != json_typeof(g))
    return 0;
  if (json_is_object(e))
    return objects_equal(e, g, top);
  if (json_is_array(e)) {
    if (json_array_size(e) != json_array_size(g))
      return 0;
    for (size_t i = 0; i < json_array_size(e); i++)
      if (!sl_test_json_equal(json_array_get(e, i), json_array_get(g, i), 0))
        return 0;
    return 1;
  }
  return json_equal((json_t *)e, (json_t *)g);
}

void sl_test_json_put(sl_buf *out, const json_t *j) {
  char *s =
      json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
  sl_buf_puts(out, s ? s : "(out of memory)");
  free(s);
}

/* Top-level fields of `e` that `g` has with an equal value. */
static size_t equal_fields(const json_t *e, const json_t *g) {
  size_t n = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)e, k, v) {
    json_t *w = json_object_get(g, k);
    n += w && sl_test_json_equal(v, w, 0);
  }
  return n;
}

static void put_field_diffs(sl_buf *diff, const json_t *e, const json_t *g) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)e, k, v) {
    json_t *w = json_object_get(g, k);
    if (w && sl_test_json_equal(v, w, 0))
      continue;
    sl_buf_printf(diff, "      %s: expected ", k);
    sl_test_json_put(diff, v);
    if (w) {
      sl_buf_puts(diff, ", got ");
      sl_test_json_put(diff, w);
    } else {
      sl_buf_puts(diff, ", missing in the output");
    }
    sl_buf_putc(diff, '\n');
  }
  json_object_foreach((json_t *)g, k, v) {
    if (json_object_get(e, k) || strcmp(k, "_id") == 0)
      continue;
    sl_buf_printf(diff, "      %s: not expected, got ", k);
    sl_test_json_put(diff, v);
    sl_buf_putc(diff, '\n');
  }
}

/* Second pass: unmatched expected records paired with the unmatched output
 * sharing the most field values (at least half of the expected fields). */
static size_t report_changed(const sl_test_rec *expect, size_t ne, const sl_test_rec *got,
                             size_t ng, long *match, unsigned char *taken, sl_buf *diff) {
  size_t problems = 0;
  for (size_t i = 0; i < ne; i++) {
    if (match[i] >= 0)
      continue;
    size_t need = (json_object_size(expect[i].json) + 1) / 2, best_score = 0;
    long best = -1;
    for (size_t j = 0; j < ng; j++) {
      if (taken[j])
        continue;
      size_t s = equal_fields(expect[i].json, got[j].json);
      if (s > best_score && s >= need && s > 0) {
        best = (long)j;
        best_score = s;
      }
    }
    if (best < 0)
      continue;
    taken[best] = 1;
    match[i] = -2 - best; /* paired, not equal */
    problems++;
    sl_buf_printf(diff, "  changed (expected line %ld, output record %ld): ", expect[i].line,
                  got[best].line);
    sl_test_json_put(diff, expect[i].json);
    sl_buf_putc(diff, '\n');
    put_field_diffs(diff, expect[i].json, got[best].json);
  }
  return problems;
}

size_t sl_test_compare(const sl_test_rec *expect, size_t ne, const sl_test_rec *got, size_t ng,
                       sl_buf *diff) {
  long *match = malloc((ne ? ne : 1) * sizeof *match);
  unsigned char *taken = calloc(ng ? ng : 1, 1);
  if (!match || !taken) {
    free(match);
    free(taken);
    sl_buf_puts(diff, "  out of memory comparing\n");
    return 1;
  }
  /* Outputs before `first` are all taken: an expectation listed in output
   * order (what --update writes) matches in one pass, not n^2 / 2. */
  size_t first = 0;
  for (size_t i = 0; i < ne; i++) {
    match[i] = -1;
    for (size_t j = first; j < ng && match[i] < 0; j++)
      if (!taken[j] && sl_test_json_equal(expect[i].json, got[j].json, 1)) {
        match[i] = (long)j;
        taken[j] = 1;
      }
    while (first < ng && taken[first])
      first++;
  }
  size_t problems = 0;
  /* Order across watermark advances: following the expect file, the
   * advances of the matched outputs must never go back. */
  long latest = -1;
  size_t latest_line = 0;
  for (size_t i = 0; i < ne; i++) {
    if (match[i] < 0)
      continue;
    const sl_test_rec *g = &got[match[i]];
    if (g->group < latest) {
      problems++;
      sl_buf_printf(diff,
                    "  out of order (expected line %ld, output record %ld): it came out of an "
                    "earlier watermark advance than expected line %zu: ",
                    expect[i].line, g->line, latest_line);
      sl_test_json_put(diff, expect[i].json);
      sl_buf_putc(diff, '\n');
    } else {
      latest = g->group;
      latest_line = (size_t)expect[i].line;
    }
  }
  problems += report_changed(expect, ne, got, ng, match, taken, diff);
  for (size_t i = 0; i < ne; i++) {
    if (match[i] != -1)
      continue;
    problems++;
    sl_buf_printf(diff, "  missing (expected line %ld): ", expect[i].line);
    sl_test_json_put(diff, expect[i].json);
    sl_buf_putc(diff, '\n');
  }
  for (size_t j = 0; j < ng; j++) {
    if (taken[j])
      continue;
    problems++;
    sl_buf_printf(diff, "  unexpected (output record %ld): ", got[j].line);
    sl_test_json_put(diff, got[j].json);
    sl_buf_putc(diff, '\n');
  }
  free(match);
  free(taken);
  return problems;
}
