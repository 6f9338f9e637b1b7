/* SPDX-License-Identifier: Apache-2.0 */
/* sl_config: options tables copied out of Lua so that no Lua state is needed
 * after the graph is built, plus their validation against config maps. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/config.h"

typedef struct cfg_item {
  char *key;
  sl_config_kind kind;
  char *str;     /* STRING */
  double num;    /* NUMBER */
  int b;         /* BOOL */
  char **list;   /* LIST */
  size_t list_len;
  sl_config *table; /* TABLE */
  sl_lua_fn *fn;    /* FUNCTION */
  void (*free_fn)(sl_lua_fn *);
} cfg_item;

struct sl_config {
  char *file;
  int line;
  cfg_item *items; /* sorted by key */
  size_t count, cap;
};

sl_config *sl_config_new(const char *file, int line) {
  sl_config *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->file = strdup(file ? file : "");
  if (!c->file) {
    free(c);
    return NULL;
  }
  c->line = line;
  return c;
}

static void item_clear(cfg_item *it) {
  free(it->str);
  for (size_t i = 0; i < it->list_len; i++)
    free(it->list[i]);
  free(it->list);
  sl_config_destroy(it->table);
  if (it->fn && it->free_fn)
    it->free_fn(it->fn);
  char *key = it->key;
  memset(it, 0, sizeof *it);
  it->key = key;
}

void sl_config_destroy(sl_config *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->count; i++) {
    item_clear(&c->items[i]);
    free(c->items[i].key);
  }
  free(c->items);
  free(c->file);
  free(c);
}

static cfg_item *find(const sl_config *c, const char *key) {
  size_t lo = 0, hi = c->count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int cmp = strcmp(c->items[mid].key, key);
    if (cmp == 0)
      return &c->items[mid];
    if (cmp < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* The item for `key`, cleared, created in sorted position if new. */
static cfg_item *slot(sl_config *c, const char *key) {
  cfg_item *it = find(c, key);
  if (it) {
    item_clear(it);
    return it;
  }
  if (c->count == c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 8;
    cfg_item *ni = realloc(c->items, ncap * sizeof *ni);
    if (!ni)
      return NULL;
    c->items = ni;
    c->cap = ncap;
  }
  size_t pos = 0;
  while (pos < c->count && strcmp(c->items[pos].key, key) < 0)
    pos++;
  char *k = strdup(key);
  if (!k)
    return NULL;
  memmove(&c->items[pos + 1], &c->items[pos], (c->count - pos) * sizeof *c->items);
  c->count++;
  memset(&c->items[pos], 0, sizeof c->items[pos]);
  c->items[pos].key = k;
  return &c->items[pos];
}

int sl_config_put_string(sl_config *c, const char *key, const char *val) {
  cfg_item *it = slot(c, key);
  if (!it || !(it->str = strdup(val)))
    return SL_ERR_NOMEM;
  it->kind = SL_CV_STRING;
  return SL_OK;
}

int sl_config_put_number(sl_config *c, const char *key, double val) {
  cfg_item *it = slot(c, key);
  if (!it)
    return SL_ERR_NOMEM;
  it->kind = SL_CV_NUMBER;
  it->num = val;
  return SL_OK;
}

int sl_config_put_bool(sl_config *c, const char *key, int val) {
  cfg_item *it = slot(c, key);
  if (!it)
    return SL_ERR_NOMEM;
  it->kind = SL_CV_BOOL;
  it->b = val != 0;
  return SL_OK;
}

int sl_config_put_list(sl_config *c, const char *key, const char *const *items, size_t n) {
  cfg_item *it = slot(c, key);
  if (!it)
    return SL_ERR_NOMEM;
  it->kind = SL_CV_LIST;
  it->list = calloc(n ? n : 1, sizeof *it->list);
  if (!it->list)
    return SL_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    if (!(it->list[i] = strdup(items[i])))
      return SL_ERR_NOMEM;
    it->list_len = i + 1;
  }
  return SL_OK;
}

int sl_config_put_table(sl_config *c, const char *key, sl_config *child) {
  cfg_item *it = slot(c, key);
  if (!it) {
    sl_config_destroy(child);
    return SL_ERR_NOMEM;
  }
  it->kind = SL_CV_TABLE;
  it->table = child;
  return SL_OK;
}

int sl_config_put_function(sl_config *c, const char *key, sl_lua_fn *fn,
                           void (*free_fn)(sl_lua_fn *)) {
  cfg_item *it = slot(c, key);
  if (!it) {
    if (free_fn)
      free_fn(fn);
    return SL_ERR_NOMEM;
  }
  it->kind = SL_CV_FUNCTION;
  it->fn = fn;
  it->free_fn = free_fn;
  return SL_OK;
}

int sl_config_kind_of(const sl_config *c, const char *key) {
  const cfg_item *it = c ? find(c, key) : NULL;
  return it ? (int)it->kind : -1;
}

int sl_config_number(const sl_config *c, const char *key, double *out) {
  const cfg_item *it = c ? find(c, key) : NULL;
  if (!it || it->kind != SL_CV_NUMBER)
    return SL_ERR_NOT_FOUND;
  *out = it->num;
  return SL_OK;
}

int sl_config_has(const sl_config *c, const char *key) { return c && find(c, key) != NULL; }

const char *sl_config_string(const sl_config *c, const char *key, const char *def) {
  const cfg_item *it = c ? find(c, key) : NULL;
  if (!it)
    return def;
  if (it->kind == SL_CV_STRING)
    return it->str;
  if (it->kind == SL_CV_LIST && it->list_len == 1)
    return it->list[0];
  return def;
}

/* Lua numbers are doubles: 1e300, 1e19, NaN and inf have no int64 value, and casting them
 * is undefined behaviour. sl_config_validate reports them with the file and line; options
 * read without validation (free keys) still get a defined value: NaN the default, the rest
 * clamped. */
#define CFG_I64_BOUND 9223372036854775808.0 /* 2^63: the doubles below it fit int64_t */

static int fits_i64(double v) { return v >= -CFG_I64_BOUND && v < CFG_I64_BOUND; }

static int64_t num_to_i64(double v, int64_t def) {
  if (v != v)
    return def;
  if (!fits_i64(v))
    return v > 0 ? INT64_MAX : INT64_MIN;
  return (int64_t)v;
}

int64_t sl_config_int(const sl_config *c, const char *key, int64_t def) {
  const cfg_item *it = c ? find(c, key) : NULL;
  if (it && it->kind == SL_CV_NUMBER)
    return num_to_i64(it->num, def);
  if (it && it->kind == SL_CV_STRING) {
    char *end;
    long long v = strtoll(it->str, &end, 10);
    if (*it->str && !*end)
      return v;
  }
  return def;
}

double sl_config_double(const sl_config *c, const char *key, double def) {
  const cfg_item *it = c ? find(c, key) : NULL;
  if (it && it->kind == SL_CV_NUMBER)
    return it->num;
  if (it && it->kind == SL_CV_STRING) {
    char *end;
    double v = strtod(it->str, &end);
    if (*it->str && !*end)
      return v;
  }
  return def;
}

int sl_config_bool(const sl_config *c, const char *key, int def) {
  const cfg_item *it = c ? find(c, key) : NULL;
  if (it && it->kind == SL_CV_BOOL)
    return it->b;
  if (it && it->kind == SL_CV_STRING)
    return strcmp(it->str, "true") == 0 || strcmp(it->str, "1") == 0;
  return def;
}

int64_t sl_config_duration_ms(const sl_config *c, const char *key, int64_t def) {
  const cfg_item *it = c ? find(c, key) : NULL;
  int64_t ms;
  if (it && it->kind == SL_CV_NUMBER)
    return num_to_i64(it->num, def);
  if (it && it->kind == SL_CV_STRING && sl_parse_duration(it->str, &ms, NULL) == SL_OK)
    return ms;
  return def;
}

size_t sl_config_list_len(const sl_config *c, const char *key) {
  const cfg_item *it = c ? find(c, key) : NULL;
  if (!it)
    return 0;
  if (it->kind == SL_CV_STRING)
    return 1;
  return it->kind == SL_CV_LIST ? it->list_len : 0;
}

const char *sl_config_list_string(const sl_config *c, const char *key, size_t i) {
  const cfg_item *it = c ? find(c, key) : NULL;
  if (!it)
    return NULL;
  if (it->kind == SL_CV_STRING)
    return i == 0 ? it->str : NULL;
  return it->kind == SL_CV_LIST && i < it->list_len ? it->list[i] : NULL;
}

const sl_config *sl_config_table(const sl_config *c, const char *key) {
  const cfg_item *it = c ? find(c, key) : NULL;
  return it && it->kind == SL_CV_TABLE ? it->table : NULL;
}

const sl_lua_fn *sl_config_function(const sl_config *c, const char *key) {
  const cfg_item *it = c ? find(c, key) : NULL;
  return it && it->kind == SL_CV_FUNCTION ? it->fn : NULL;
}

size_t sl_config_count(const sl_config *c) { return c ? c->count : 0; }
const char *sl_config_key_at(const sl_config *c, size_t i) { return c->items[i].key; }
const char *sl_config_file(const sl_config *c) { return c->file; }
int sl_config_line(const sl_config *c) { return c->line; }

int sl_parse_duration(const char *text, int64_t *ms, sl_error *err) {
  static const struct {
    const char *unit;
    int64_t ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1}};
  const char *p = text;
  if (!p || !isdigit((unsigned char)*p))
    goto bad;
  int64_t n = 0, frac = 0, scale = 1; /* "1.5s": n = 1, frac = 5, scale = 10 */
  while (isdigit((unsigned char)*p)) {
    if (n > (INT64_MAX - 9) / 10)
      goto bad;
    n = n * 10 + (*p++ - '0');
  }
  if (*p == '.') {
    if (!isdigit((unsigned char)*++p))
      goto bad;
    for (; isdigit((unsigned char)*p); p++) {
      if (scale >= 1000000000) /* nine places already say more than a millisecond */
        goto bad;
      frac = frac * 10 + (*p - '0');
      scale *= 10;
    }
  }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp(p, units[i].unit) == 0) {
      /* frac < 1e9 and unit <= 1 day: the product fits easily. */
      if ((frac * units[i].ms) % scale != 0)
        return sl_error_set(err, SL_ERR_INVALID,
                            "duration '%s' is finer than a millisecond (durations have "
                            "millisecond resolution)",
                            text);
      int64_t part = frac * units[i].ms / scale;
      if (n > (INT64_MAX - part) / units[i].ms)
        goto bad;
      *ms = n * units[i].ms + part;
      return SL_OK;
    }
bad:
  return sl_error_set(err, SL_ERR_INVALID,
                      "bad duration '%s' (use a number with ms, s, m, h or d, e.g. \"10s\")",
                      text ? text : "");
}

size_t sl_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return 99;
  size_t prev[65], cur[65];
  for (size_t j = 0; j <= lb; j++)
    prev[j] = j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
      size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
    memcpy(prev, cur, (lb + 1) * sizeof *prev);
  }
  return prev[lb];
}

const char *sl_suggest(const char *word, const char *const *candidates, size_t n) {
  const char *best = NULL;
  size_t best_d = 3;
  for (size_t i = 0; i < n; i++) {
    size_t d = sl_edit_distance(word, candidates[i]);
    size_t wl = strlen(word);
    if (d > 2 && wl >= 3 && strncmp(word, candidates[i], wl) == 0)
      d = 2; /* a prefix of a longer name */
    if (d < best_d) {
      best_d = d;
      best = candidates[i];
    }
  }
  return best;
}

static const char *kind_name(int kind) {
  switch (kind) {
  case SL_CV_STRING: return "a string";
  case SL_CV_NUMBER: return "a number";
  case SL_CV_BOOL: return "a boolean";
  case SL_CV_LIST: return "a list";
  case SL_CV_TABLE: return "a table";
  case SL_CV_FUNCTION: return "a function";
  default: return "nothing";
  }
}

static const char *type_wants(sl_config_type t) {
  switch (t) {
  case SL_CFG_STRING: return "a string";
  case SL_CFG_INT: return "an integer";
  case SL_CFG_DOUBLE: return "a number";
  case SL_CFG_BOOL: return "true or false";
  case SL_CFG_DURATION: return "a duration such as \"10s\"";
  case SL_CFG_EXPR: return "an expression string";
  case SL_CFG_STRING_LIST: return "a string or a list of strings";
  case SL_CFG_TABLE: return "a table";
  case SL_CFG_FUNCTION: return "a function";
  case SL_CFG_EXPR_OR_FUNCTION: return "an expression string or a function";
  }
  return "a value";
}

/* NULL when `it` fits `t`, else the problem text in `buf`. */
static const char *check_type(const cfg_item *it, sl_config_type t, char *buf, size_t n) {
  int ok = 0;
  switch (t) {
  case SL_CFG_STRING:
  case SL_CFG_EXPR: ok = it->kind == SL_CV_STRING; break;
  case SL_CFG_INT:
    if (it->kind == SL_CV_NUMBER && !(it->num == floor(it->num) && fits_i64(it->num))) {
      char num[32];
      snprintf(buf, n, "option '%s' must be an integer between -2^63 and 2^63-1, not %s", it->key,
               sl_num_text(it->num, num, sizeof num));
      return buf;
    }
    ok = it->kind == SL_CV_NUMBER;
    break;
  case SL_CFG_DOUBLE: ok = it->kind == SL_CV_NUMBER; break;
  case SL_CFG_BOOL: ok = it->kind == SL_CV_BOOL; break;
  case SL_CFG_STRING_LIST: ok = it->kind == SL_CV_STRING || it->kind == SL_CV_LIST; break;
  case SL_CFG_TABLE: ok = it->kind == SL_CV_TABLE || it->kind == SL_CV_LIST; break;
  case SL_CFG_FUNCTION: ok = it->kind == SL_CV_FUNCTION; break;
  case SL_CFG_EXPR_OR_FUNCTION: ok = it->kind == SL_CV_STRING || it->kind == SL_CV_FUNCTION; break;
  case SL_CFG_DURATION: {
    int64_t ms;
    sl_error e;
    if (it->kind == SL_CV_NUMBER) {
      if (!(it->num >= 0 && it->num < CFG_I64_BOUND)) { /* NaN fails too */
        char num[32];
        snprintf(buf, n,
                 "option '%s': a duration given as a number is milliseconds, between 0 and "
                 "2^63-1, not %s (or use a string such as \"10s\")",
                 it->key, sl_num_text(it->num, num, sizeof num));
        return buf;
      }
      ok = 1;
    } else if (it->kind == SL_CV_STRING) {
      if (sl_parse_duration(it->str, &ms, &e) != SL_OK) {
        snprintf(buf, n, "option '%s': %s", it->key, e.message);
        return buf;
      }
      ok = 1;
    }
    break;
  }
  }
  if (ok)
    return NULL;
  snprintf(buf, n, "option '%s' must be %s, not %s", it->key, type_wants(t), kind_name(it->kind));
  return buf;
}

int sl_config_validate(const sl_config *c, const sl_operator_desc *d, sl_config_problem_fn fn,
                       void *ud) {
  int problems = 0;
  char msg[600];
  const char *names[64];
  size_t nnames = 0;
  for (const sl_config_entry *e = d->config; e && e->key && nnames < 64; e++)
    names[nnames++] = e->key;
  for (size_t i = 0; i < c->count; i++) {
    const cfg_item *it = &c->items[i];
    const sl_config_entry *e = d->config;
    while (e && e->key && strcmp(e->key, it->key) != 0)
      e++;
    const char *bad = NULL;
    if (e && e->key) {
      bad = check_type(it, e->type, msg, sizeof msg);
    } else if (d->flags & SL_OP_FREE_KEYS) {
      bad = check_type(it, d->free_key_type, msg, sizeof msg);
    } else {
      const char *s = sl_suggest(it->key, names, nnames);
      if (s)
        snprintf(msg, sizeof msg, "%s: unknown option '%s' (did you mean '%s'?)", d->name, it->key, s);
      else
        snprintf(msg, sizeof msg, "%s: unknown option '%s'", d->name, it->key);
      bad = msg;
    }
    if (bad) {
      fn(ud, c, bad);
      problems++;
    }
  }
  for (const sl_config_entry *e = d->config; e && e->key; e++)
    if ((e->flags & SL_CFG_REQUIRED) && !find(c, e->key)) {
      snprintf(msg, sizeof msg, "%s: missing required option '%s' (%s)", d->name, e->key,
               e->help ? e->help : type_wants(e->type));
      fn(ud, c, msg);
      problems++;
    }
  return problems;
}
