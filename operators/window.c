/* SPDX-License-Identifier: Apache-2.0 */
/* The `window` operator: event-time tumbling, hopping and session windows
 * per key with the aggregates of the `aggregate` table (SPEC section 5).
 *
 * Per record, in arrival order: extract event time, check aggregate
 * argument types, encode the key, assign the record to its windows using
 * the watermark as it was BEFORE the record (so a record never closes its
 * own window), re-emit windows that already fired but are still within
 * `lateness`, then advance the watermark with the record and fire what the
 * advance ripened. Results of one advance are ordered by (window_end, key
 * bytes). Nothing here depends on batch boundaries.
 *
 * The engine is reached only through the sl_host table; the state table,
 * aggregates, sketches and watermark live in core/ as pure computation.
 * Checkpoints (snapshot, restore, partitions moving) are in window_state.c. */
#define _GNU_SOURCE /* qsort_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/record_internal.h" /* the fields read per record, without calls */
#include "builtin.h"
#include "state/aggregate.h"
#include "state/key_short.h"
#include "state/keyed_state.h"
#include "state/watermark.h"
#include "state/window_assign.h"
#include "state/window_store.h"
#include "window_op.h"

/* ---- configuration ------------------------------------------------------ */

static const sl_config_entry win_config[] = {
    {"tumbling", SL_CFG_DURATION, 0, NULL, "size of tumbling windows"},
    {"hopping", SL_CFG_DURATION, 0, NULL, "size of hopping windows (with `every`)"},
    {"every", SL_CFG_DURATION, 0, NULL, "advance of hopping windows"},
    {"session", SL_CFG_DURATION, 0, NULL, "inactivity gap closing a session window"},
    {"key", SL_CFG_STRING_LIST, SL_CFG_REQUIRED, NULL, "key field(s), dotted paths allowed"},
    {"time", SL_CFG_STRING, 0, NULL, "event-time field (default: the record timestamp)"},
    {"delay", SL_CFG_DURATION, 0, "0", "how far the watermark trails the newest event time"},
    {"lateness", SL_CFG_DURATION, 0, "0", "how long a fired window still accepts records"},
    {"idle", SL_CFG_DURATION, 0, "30s",
     "a partition without data this long stops holding back the watermark"},
    {"aggregate", SL_CFG_TABLE, SL_CFG_REQUIRED, NULL, "output = \"fn(args)\" pairs"},
    {NULL, 0, 0, NULL, NULL},
};

static int split_path(const char *text, win_path *p, sl_error *err) {
  size_t n = 1, len = strlen(text);
  for (size_t i = 0; i < len; i++)
    n += text[i] == '.';
  p->names = calloc(n, sizeof *p->names);
  p->hints = calloc(n, sizeof *p->hints);
  if (!p->names || !p->hints)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  p->len = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && text[i] != '.')
      continue;
    if (i == start)
      return sl_error_set(err, SL_ERR_INVALID, "window: '%s' is not a field path", text);
    p->names[p->len++] = sl_name_intern(text + start, i - start);
    start = i + 1;
  }
  return SL_OK;
}

static int duration_opt(const sl_config *cfg, const char *key, int64_t def, int64_t min,
                        int64_t *out, sl_error *err) {
  *out = sl_config_duration_ms(cfg, key, def);
  if (*out < min || *out > SL_WINDOW_MAX_DURATION)
    return sl_error_set(err, SL_ERR_INVALID, "window: %s must be %s and at most 2^59 ms", key,
                        min > 0 ? "positive" : "zero or more");
  return SL_OK;
}

static int config_kind(win_op *w, const sl_config *cfg, sl_error *err) {
  int t = sl_config_has(cfg, "tumbling"), h = sl_config_has(cfg, "hopping"),
      s = sl_config_has(cfg, "session");
  if (t + h + s != 1)
    return sl_error_set(err, SL_ERR_INVALID,
                        "window needs exactly one of tumbling, hopping or session (got %d)",
                        t + h + s);
  if (sl_config_has(cfg, "every") && !h)
    return sl_error_set(err, SL_ERR_INVALID, "window: `every` only applies to hopping windows");
  w->kind = t ? W_TUMBLING : h ? W_HOPPING : W_SESSION;
  int rc = duration_opt(cfg, t ? "tumbling" : h ? "hopping" : "session", 0, 1, &w->size, err);
  if (rc != SL_OK || !h)
    return rc;
  if (!sl_config_has(cfg, "every"))
    return sl_error_set(err, SL_ERR_INVALID,
                        "window: hopping windows need `every` (e.g. every = \"10s\")");
  rc = duration_opt(cfg, "every", 0, 1, &w->every, err);
  if (rc == SL_OK && w->every > w->size)
    return sl_error_set(err, SL_ERR_INVALID,
                        "window: every (%lld ms) must not exceed the hopping size (%lld ms)",
                        (long long)w->every, (long long)w->size);
  return rc;
}

/* Every problem of the options, not only the first (`sluice check` lists them
 * all): each goes on its own line of err->message, which graph validation
 * reports line by line with the node's file:line. */
typedef struct problems {
  sl_error *err;
  int count;
} problems;

static void add_problem(problems *p, const sl_error *e) {
  size_t len = strlen(p->err->message);
  if (p->count++ == 0)
    *p->err = *e;
  else if (len + 2 < sizeof p->err->message) { /* what does not fit is cut off */
    p->err->message[len] = '\n';
    size_t room = sizeof p->err->message - len - 2, n = strlen(e->message);
    memcpy(p->err->message + len + 1, e->message, n < room ? n : room);
    p->err->message[len + 1 + (n < room ? n : room)] = '\0';
  }
  if (e->code == SL_ERR_NOMEM)
    p->err->code = SL_ERR_NOMEM;
}

static void config_aggs(win_op *w, const sl_config *cfg, problems *pr) {
  const sl_config *agg = sl_config_table(cfg, "aggregate");
  size_t n = sl_config_count(agg);
  sl_error e;
  if (!agg || n == 0) {
    sl_error_set(&e, SL_ERR_INVALID,
                 "window: aggregate needs at least one output, e.g. n = \"count()\"");
    add_problem(pr, &e);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const char *out = sl_config_key_at(agg, i), *spec = sl_config_string(agg, out, NULL);
    if (!spec) {
      sl_error_set(&e, SL_ERR_INVALID, "aggregate %s: expected a string like \"avg(temperature)\"",
                   out);
      add_problem(pr, &e);
      continue;
    }
    sl_name name = sl_name_cstr(out);
    int clash = name == w->n_start || name == w->n_end;
    for (size_t k = 0; k < w->nkeys; k++)
      clash |= name == w->key_out[k];
    if (clash) {
      sl_error_set(&e, SL_ERR_INVALID, "aggregate output '%s' clashes with a key or window field",
                   out);
      add_problem(pr, &e);
      continue;
    }
    if (sl_agg_set_add(&w->aggs, out, spec, &e) != SL_OK)
      add_problem(pr, &e);
  }
}

static void win_destroy(void *state);

static int win_init(const sl_host *host, sl_operator *op, const sl_config *cfg, void **state,
                    sl_error *err) {
  win_op *w = calloc(1, sizeof *w);
  if (!w)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  w->host = host;
  w->op = op;
  w->n_start = sl_name_cstr("window_start");
  w->n_end = sl_name_cstr("window_end");
  int64_t delay = 0, idle = 30000;
  int rc;
  problems pr = {err, 0};
  sl_error e;
  if (config_kind(w, cfg, &e) != SL_OK)
    add_problem(&pr, &e);
  if (duration_opt(cfg, "delay", 0, 0, &delay, &e) != SL_OK)
    add_problem(&pr, &e);
  if (duration_opt(cfg, "lateness", 0, 0, &w->lateness, &e) != SL_OK)
    add_problem(&pr, &e);
  if (duration_opt(cfg, "idle", 30000, 1, &idle, &e) != SL_OK)
    add_problem(&pr, &e);
  w->nkeys = sl_config_list_len(cfg, "key");
  if (w->nkeys == 0) {
    sl_error_set(&e, SL_ERR_INVALID, "window: key needs at least one field");
    add_problem(&pr, &e);
  } else {
    w->keys = calloc(w->nkeys, sizeof *w->keys);
    w->key_out = calloc(w->nkeys, sizeof *w->key_out);
    if (!w->keys || !w->key_out) {
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      goto out_free;
    }
    for (size_t i = 0; i < w->nkeys; i++) {
      const char *k = sl_config_list_string(cfg, "key", i);
      if (split_path(k, &w->keys[i], &e) != SL_OK)
        add_problem(&pr, &e);
      w->key_out[i] = sl_name_cstr(k);
    }
  }
  if (sl_config_has(cfg, "time") &&
      split_path(sl_config_string(cfg, "time", ""), &w->time, &e) != SL_OK)
    add_problem(&pr, &e);
  config_aggs(w, cfg, &pr);
  if (pr.count) {
    rc = err->code;
    goto out_free;
  }
  /* room for one short key field written in place (build_key) */
  if (sl_buf_reserve(&w->key, 2 * SL_KEY_SHORT_ROOM)) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out_free;
  }
  sl_watermark_init(&w->wm, delay, idle);
  if (w->kind != W_SESSION)
    sl_wstore_init(&w->ws, &w->aggs, w->lateness);
  else if (sl_kstate_init(&w->st, &w->aggs, w->lateness) != SL_OK) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out_free;
  }
  *state = w;
  return SL_OK;
out_free:
  win_destroy(w);
  return rc;
}

static void win_destroy(void *state) {
  win_op *w = state;
  if (!w)
    return;
  if (w->st.buckets)
    sl_kstate_free(&w->st);
  sl_wstore_free(&w->ws);
  sl_watermark_free(&w->wm);
  for (size_t i = 0; w->keys && i < w->nkeys; i++) {
    free(w->keys[i].names);
    free(w->keys[i].hints);
  }
  free(w->keys);
  free(w->key_out);
  free(w->time.names);
  free(w->time.hints);
  sl_agg_set_free(&w->aggs);
  sl_buf_free(&w->key);
  sl_buf_free(&w->text);
  free(w->emit);
  free(w->close);
  free(w->same);
  free(w);
}

/* ---- emitting ----------------------------------------------------------- */

static int push(sl_kentry ***list, size_t *cap, size_t len, sl_kentry *e) {
  if (len == *cap) {
    size_t ncap = *cap ? *cap * 2 : 64;
    sl_kentry **n = realloc(*list, ncap * sizeof *n);
    if (!n)
      return SL_ERR_NOMEM;
    *list = n;
    *cap = ncap;
  }
  (*list)[len] = e;
  return SL_OK;
}

static int emit_view(win_op *w, const sl_wview *e, sl_emitter *out, sl_error *err) {
  sl_arena *a = w->host->arena(out);
  sl_record *r = sl_record_new(a, w->nkeys + 2 + w->aggs.count);
  if (!r)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  const unsigned char *p = e->key, *end = p + e->key_len;
  sl_buf_reset(&w->text);
  int rc = SL_OK;
  for (size_t i = 0; i < w->nkeys && rc == SL_OK; i++) {
    sl_value v;
    rc = sl_key_decode(&p, end, a, &v);
    if (rc == SL_OK)
      rc = sl_record_set(r, w->key_out[i], v);
    if (rc == SL_OK && i > 0)
      rc = sl_buf_putc(&w->text, '|') ? SL_ERR_NOMEM : SL_OK;
    if (rc == SL_OK)
      rc = sl_key_text(&v, &w->text);
  }
  if (rc == SL_OK)
    rc = sl_record_set(r, w->n_start, sl_value_int(e->start));
  if (rc == SL_OK)
    rc = sl_record_set(r, w->n_end, sl_value_int(e->end));
  if (rc == SL_OK)
    rc = sl_agg_result(&w->aggs, e->block, a, r);
  if (rc != SL_OK)
    return sl_error_set(err, rc, "window: cannot build a result (%s)", sl_strerror(rc));
  char *key = sl_arena_strndup(a, w->text.data ? w->text.data : "", w->text.len);
  if (!key)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_record_set_key(r, key, w->text.len);
  sl_record_set_timestamp(r, e->end - 1);
  sl_record_set_position(r, -1, NULL, e->partition, -1);
  rc = w->host->emit(out, r);
  return rc == SL_OK ? SL_OK : sl_error_set(err, rc, "window: emit failed (%s)", sl_strerror(rc));
}

static int emit_entry(win_op *w, sl_kentry *e, sl_emitter *out, sl_error *err) {
  sl_wview v = {e->start,          e->end, e->partition, sl_kentry_key(&w->st, e), e->key_len,
                sl_kentry_block(e)};
  return emit_view(w, &v, out, err);
}

typedef struct emit_ctx {
  win_op *w;
  sl_emitter *out;
  sl_error *err;
  int failed; /* emit_view set err */
} emit_ctx;

static int emit_cb(void *ctx, const sl_wview *v) {
  emit_ctx *c = ctx;
  int rc = emit_view(c->w, v, c->out, c->err);
  c->failed = rc != SL_OK;
  return rc;
}

static int cmp_fire(const void *a, const void *b, void *ctx) {
  const sl_kentry *x = *(sl_kentry *const *)a, *y = *(sl_kentry *const *)b;
  const sl_kstate *st = ctx;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1;
  size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
  int c = memcmp(sl_kentry_key(st, x), sl_kentry_key(st, y), n);
  if (c)
    return c;
  if (x->key_len != y->key_len)
    return x->key_len < y->key_len ? -1 : 1;
  return (x->start > y->start) - (x->start < y->start);
}

/* Fire every window ripened by the current watermark, in (end, key) order,
 * then free the windows whose lateness ran out. */
static int fire(win_op *w, sl_emitter *out, sl_error *err) {
  int64_t wm = w->wm.current;
  if (w->kind != W_SESSION) {
    emit_ctx c = {w, out, err, 0};
    int rc = sl_wstore_advance(&w->ws, wm, emit_cb, &c);
    if (rc != SL_OK && !c.failed)
      sl_error_set(err, rc, "window: cannot fire windows (%s)", sl_strerror(rc));
    return rc;
  }
  size_t n_emit = 0, n_close = 0;
  sl_kentry *e;
  int rc = SL_OK;
  while ((e = sl_kstate_top(&w->st)) && sl_kstate_action_time(&w->st, e) <= wm) {
    if (!(e->flags & SL_KE_FIRED)) {
      rc = push(&w->emit, &w->emit_cap, n_emit++, e);
      sl_kstate_set_fired(&w->st, e, 1);
      if (rc == SL_OK)
        rc = sl_kstate_touch(&w->st, e);
    } else {
      rc = push(&w->close, &w->close_cap, n_close++, sl_kstate_pop(&w->st));
    }
    if (rc != SL_OK)
      return sl_error_set(err, rc, "out of memory");
  }
  if (n_emit > 1)
    qsort_r(w->emit, n_emit, sizeof *w->emit, cmp_fire, &w->st);
  for (size_t i = 0; i < n_emit && rc == SL_OK; i++)
    rc = emit_entry(w, w->emit[i], out, err);
  for (size_t i = 0; i < n_close; i++) {
    int r2 = sl_kstate_remove(&w->st, w->close[i]);
    if (rc == SL_OK && r2 != SL_OK)
      rc = sl_error_set(err, r2, "out of memory");
  }
  return rc;
}

/* ---- assigning records -------------------------------------------------- */

static int dead(win_op *w, sl_emitter *out, const sl_record *r, const char *reason, const char *msg,
                sl_error *err) {
  int rc = w->host->dead_letter(out, r, reason, msg);
  return rc == SL_OK
             ? SL_OK
             : sl_error_set(err, rc, "window: dead-letter sink failed (%s)", sl_strerror(rc));
}

static int late(win_op *w, const sl_record *r, int64_t s, int64_t e, int64_t wm, sl_emitter *out,
                sl_error *err) {
  char msg[160];
  snprintf(msg, sizeof msg, "window [%lld, %lld) closed at watermark %lld", (long long)s,
           (long long)e, (long long)wm);
  w->host->counter_add(w->op, "sluice_late_records_total", 1);
  return dead(w, out, r, "late", msg, err);
}

static int is_closed(const win_op *w, int64_t end, int64_t wm) {
  return wm >= sl_sat_add(end, w->lateness);
}

/* Add r to entry e and emit it at once if its window already fired. */
static int add_to(win_op *w, sl_kentry *e, const sl_record *r, int64_t t, int64_t wm,
                  sl_emitter *out, sl_error *err) {
  (void)r; /* its arguments were looked up by sl_agg_check in on_record */
  int rc = sl_agg_update_checked(&w->aggs, sl_kentry_block(e), t, w->seq);
  e->partition = r->partition;
  if (rc == SL_OK)
    rc = sl_kstate_hold(&w->st, e, r->source_id, r->partition, r->offset);
  if (rc == SL_OK)
    rc = sl_kstate_touch(&w->st, e);
  if (rc != SL_OK)
    return sl_error_set(err, rc, "out of memory");
  if (wm < e->end)
    return SL_OK;
  if (!(e->flags & SL_KE_FIRED))
    sl_kstate_set_fired(&w->st, e, 1);
  return emit_entry(w, e, out, err); /* within lateness: the updated result again */
}

/* What follows a join that failed (rc) or landed in a window that already
 * fired (within lateness): mark the entry, emit its updated result again. */
static __attribute__((noinline)) int join_fired(win_op *w, int rc, const sl_wref *ref,
                                                sl_emitter *out, sl_error *err) {
  if (rc == SL_OK && !sl_wstore_fired(&w->ws, *ref))
    rc = sl_wstore_set_fired(&w->ws, *ref);
  if (rc != SL_OK)
    return sl_error_set(
        err, rc, rc == SL_ERR_LIMIT ? "window: too many keys or partitions (%s)" : "window: %s",
        sl_strerror(rc));
  sl_wview v;
  sl_wstore_view(&w->ws, *ref, &v);
  return emit_view(w, &v, out, err);
}

/* Tumbling and hopping: the record joins (key, [j->start, j->end)) in the
 * shared store. Inline: it runs for every record. */
static inline __attribute__((always_inline)) int
join_window(win_op *w, const sl_wjoin *j, int64_t t, int64_t wm, sl_emitter *out, sl_error *err) {
  sl_wref ref;
  int rc = sl_wstore_join(&w->ws, j, &ref);
  if (rc == SL_OK)
    rc = sl_agg_update_checked(&w->aggs, ref.block, t, w->seq);
  /* its end, not j->end: a window restored with another size keeps its own */
  if (rc == SL_OK && wm < ref.end)
    return SL_OK;
  return join_fired(w, rc, &ref, out, err);
}

static int assign_session(win_op *w, uint32_t hash, const sl_record *r, int64_t t, int64_t wm,
                          sl_emitter *out, sl_error *err) {
  size_t n;
  for (;;) {
    n = sl_kstate_key_entries(&w->st, hash, w->key.data, w->key.len, w->same, w->same_cap);
    if (n <= w->same_cap)
      break;
    sl_kentry **grown = realloc(w->same, n * 2 * sizeof *grown);
    if (!grown)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    w->same = grown;
    w->same_cap = n * 2;
  }
  int64_t s = t, e = t + w->size;
  sl_kentry *keep = NULL;
  size_t n_overlap = 0;
  for (size_t i = 0; i < n; i++) { /* sessions overlapping [t, t + gap) merge */
    sl_kentry *x = w->same[i];
    if (!(x->start < t + w->size && t < x->end))
      continue;
    w->same[n_overlap++] = x;
    if (x->start < s)
      s = x->start;
    if (x->end > e)
      e = x->end;
    if (!keep || x->start < keep->start)
      keep = x;
  }
  if (is_closed(w, e, wm))
    return late(w, r, s, e, wm, out, err);
  if (!keep) {
    keep = sl_kstate_insert(&w->st, hash, w->key.data, w->key.len, s, e, r->partition);
    if (!keep)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  int rc = SL_OK;
  for (size_t i = 0; i < n_overlap && rc == SL_OK; i++) {
    if (w->same[i] == keep)
      continue;
    rc = sl_agg_merge(&w->aggs, sl_kentry_block(keep), sl_kentry_block(w->same[i]));
    if (rc == SL_OK) /* the merged session's records are held by keep now */
      rc = sl_kstate_hold_merge(&w->st, keep, w->same[i]);
    if (rc == SL_OK)
      rc = sl_kstate_remove(&w->st, w->same[i]);
  }
  if (rc == SL_OK && (keep->start != s || keep->end != e)) {
    rc = sl_kstate_rebound(&w->st, keep, s, e);
    /* a longer session fires again at its new end */
    if (rc == SL_OK && (keep->flags & SL_KE_FIRED) && wm < e)
      sl_kstate_set_fired(&w->st, keep, 0);
  }
  if (rc != SL_OK)
    return sl_error_set(err, rc, "out of memory");
  return add_to(w, keep, r, t, wm, out, err);
}

static int assign(win_op *w, const sl_record *r, int64_t t, sl_emitter *out, sl_error *err) {
  int64_t wm = w->wm.current;
  uint32_t hash = sl_key_hash(w->key.data, w->key.len);
  if (w->kind == W_SESSION)
    return assign_session(w, hash, r, t, wm, out, err);
  sl_wjoin j = {0, 0, w->key.data, w->key.len, hash, r->source_id, r->partition, r->offset};
  if (w->kind == W_TUMBLING) {
    j.start = sl_tumbling_start(t, w->size);
    j.end = j.start + w->size;
    if (is_closed(w, j.end, wm))
      return late(w, r, j.start, j.end, wm, out, err);
    return join_window(w, &j, t, wm, out, err);
  }
  int64_t k0, k1, joined = 0;
  sl_hopping_range(t, w->size, w->every, &k0, &k1);
  for (int64_t k = k0; k <= k1; k++) { /* ascending k = ascending window end */
    j.start = k * w->every;
    j.end = j.start + w->size;
    if (is_closed(w, j.end, wm))
      continue;
    joined++;
    int rc = join_window(w, &j, t, wm, out, err);
    if (rc != SL_OK)
      return rc;
  }
  if (!joined)
    return late(w, r, k1 * w->every, k1 * w->every + w->size, wm, out, err);
  return SL_OK;
}

/* sl_record_get_path_hinted with its common case inline: a top-level
 * field where its hint says (one compare; the same hints); anything else
 * goes to it. */
static inline const sl_value *get_field(const sl_record *r, const win_path *p) {
  if (p->len == 1) {
    uint32_t h = p->hints[0];
    if (h < r->count && r->fields[h].name == p->names[0])
      return &r->fields[h].value;
  }
  return sl_record_get_path_hinted(r, p->names, p->len, p->hints);
}

/* Canonical key of r into w->key; a message in `why` when it cannot be a key.
 * Short strings, integers and nulls are written in place (key_short.h),
 * into the room kept in w->key; the rest goes through sl_key_encode. */
static int build_key(win_op *w, const sl_record *r, char *why, size_t why_len) {
  if (w->nkeys == 1) { /* the common key, at the start of the room kept (win_init) */
    size_t n = sl_key_put_short(get_field(r, &w->keys[0]), (unsigned char *)w->key.data);
    if (n) {
      w->key.len = n;
      w->key.data[n] = '\0'; /* as sl_buf leaves it */
      return SL_OK;
    }
  }
  w->key.len = 0;
  for (size_t i = 0; i < w->nkeys; i++) {
    const win_path *k = &w->keys[i];
    const sl_value *v = get_field(r, k);
    if (w->key.cap - w->key.len > SL_KEY_SHORT_ROOM) {
      size_t n = sl_key_put_short(v, (unsigned char *)w->key.data + w->key.len);
      if (n) {
        w->key.len += n;
        continue;
      }
    }
    int rc = sl_key_encode(v, &w->key);
    if (rc == SL_ERR_TYPE) {
      snprintf(why, why_len, "key field '%s' is a %s, not a scalar", w->key_out[i],
               sl_type_name(v->type));
      return rc;
    }
    if (rc != SL_OK)
      return rc;
  }
  w->key.data[w->key.len] = '\0'; /* as sl_buf leaves it */
  if (w->key.len > UINT16_MAX) {
    snprintf(why, why_len, "key is longer than 65535 bytes");
    return SL_ERR_LIMIT;
  }
  return SL_OK;
}

/* sl_event_time_of, with the common case (integer ms) inline. */
static inline int event_time(const sl_value *v, int64_t *t) {
  /* |t| <= 2^62 in one unsigned compare */
  if (v && v->type == SL_TYPE_INT &&
      (uint64_t)v->as.i - (uint64_t)SL_EVENT_TIME_MIN <=
          (uint64_t)SL_EVENT_TIME_MAX - (uint64_t)SL_EVENT_TIME_MIN) {
    *t = v->as.i;
    return SL_OK;
  }
  return sl_event_time_of(v, t);
}

/* Inline in win_process's loop: its frame is set up once per batch. */
static inline __attribute__((always_inline)) int
on_record(win_op *w, const sl_record *r, int64_t now, sl_emitter *out, sl_error *err) {
  int64_t t;
  char why[256];
  if (w->time.len) {
    const sl_value *v = get_field(r, &w->time);
    int rc = event_time(v, &t);
    if (rc != SL_OK) {
      snprintf(why, sizeof why, "event time field '%s': %s", w->time.names[w->time.len - 1],
               sl_event_time_problem(v, rc));
      return dead(w, out, r, "eval", why, err);
    }
  } else {
    t = sl_record_timestamp(r);
    if (t < SL_EVENT_TIME_MIN || t > SL_EVENT_TIME_MAX)
      return dead(w, out, r, "eval", "record timestamp out of range (|t| > 2^62 ms)", err);
  }
  sl_error aerr;
  if (sl_agg_check(&w->aggs, r, &aerr) != SL_OK)
    return dead(w, out, r, "eval", aerr.message, err);
  int rc = build_key(w, r, why, sizeof why);
  if (rc == SL_ERR_TYPE || rc == SL_ERR_LIMIT)
    return dead(w, out, r, "eval", why, err);
  if (rc != SL_OK)
    return sl_error_set(err, rc, "out of memory");
  w->seq++;
  sl_watermark_admit(&w->wm, r->source_id, r->partition, t);
  rc = assign(w, r, t, out, err);
  if (rc != SL_OK)
    return rc;
  int64_t before = w->wm.current;
  if (sl_watermark_observe(&w->wm, r->source_id, r->partition, t, now) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  return w->wm.current > before ? fire(w, out, err) : SL_OK;
}

static int win_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  win_op *w = state;
  size_t n = in->count;
  if (!n)
    return SL_OK;
  int64_t now = w->host->now_ms(w->op);
  for (size_t i = 0; i < n; i++) {
    int rc = on_record(w, in->records[i], now, out, err);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

static int win_on_watermark(void *state, int64_t watermark, sl_emitter *out, sl_error *err) {
  win_op *w = state;
  int64_t before = w->wm.current;
  sl_watermark_force(&w->wm, watermark);
  return w->wm.current > before ? fire(w, out, err) : SL_OK;
}

static int win_assign_partition(void *state, int32_t source_id, int32_t partition, sl_error *err) {
  win_op *w = state;
  if (sl_watermark_assign(&w->wm, source_id, partition, w->host->now_ms(w->op)) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  return SL_OK;
}

static int win_on_tick(void *state, int64_t now_ms, sl_emitter *out, sl_error *err) {
  win_op *w = state;
  int64_t before = w->wm.current;
  sl_watermark_tick(&w->wm, now_ms);
  /* How far event time trails the clock: the figure to alert on when a
   * source stalls or devices send old data. */
  if (w->wm.current != SL_WATERMARK_NONE && w->wm.current != SL_WATERMARK_END)
    w->host->gauge_set(w->op, "sluice_watermark_lag_seconds",
                       (double)(now_ms - w->wm.current) / 1000.0);
  return w->wm.current > before ? fire(w, out, err) : SL_OK;
}

const sl_operator_desc sl_op_window = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_operator_desc),
    .name = "window",
    .summary = "event-time tumbling, hopping and session windows with aggregates per key",
    .config = win_config,
    .positional = NULL,
    .flags = 0,
    .free_key_type = 0,
    .init = win_init,
    .process = win_process,
    .on_watermark = win_on_watermark,
    .on_tick = win_on_tick,
    .assign_partition = win_assign_partition,
    .snapshot = sl_window_snapshot,
    .restore = sl_window_restore,
    .drop_partition = sl_window_drop_partition,
    .destroy = win_destroy,
    .held_offset = sl_window_held_offset,
};
