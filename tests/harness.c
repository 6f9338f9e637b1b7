/* SPDX-License-Identifier: Apache-2.0 */
/* The fake host behind tests/harness.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

sl_expr *(*th_expr_compile)(const char *text, int line, sl_error *err);
int (*th_expr_eval)(const sl_expr *e, const sl_record *r, sl_arena *a, sl_value *out,
                    sl_error *err);
void (*th_expr_free)(sl_expr *e);

/* The emitter and operator handle are the harness itself. */
#define TH(p) ((th_op *)(void *)(p))

static void fake_log(sl_operator *op, sl_log_level level, const char *fmt, ...) {
  (void)op;
  (void)level;
  (void)fmt;
}

static int grow(void **arr, size_t *cap, size_t count, size_t size) {
  if (count < *cap)
    return 0;
  size_t ncap = *cap ? *cap * 2 : 16;
  void *n = realloc(*arr, ncap * size);
  if (!n)
    return -1;
  *arr = n;
  *cap = ncap;
  return 0;
}

static int fake_emit(sl_emitter *out, sl_record *r) {
  th_op *t = TH(out);
  if (grow((void **)&t->out, &t->out_cap, t->out_count, sizeof *t->out))
    return SL_ERR_NOMEM;
  sl_record *copy = sl_record_clone(t->arena, r);
  if (!copy)
    return SL_ERR_NOMEM;
  t->out[t->out_count++] = copy;
  return SL_OK;
}

static int fake_dead_letter(sl_emitter *out, const sl_record *r, const char *reason,
                            const char *message) {
  th_op *t = TH(out);
  if (grow((void **)&t->dead, &t->dead_cap, t->dead_count, sizeof *t->dead))
    return SL_ERR_NOMEM;
  th_dead *d = &t->dead[t->dead_count++];
  d->record = r ? sl_record_clone(t->arena, r) : NULL;
  snprintf(d->reason, sizeof d->reason, "%s", reason);
  snprintf(d->message, sizeof d->message, "%s", message ? message : "");
  return SL_OK;
}

static sl_arena *fake_arena(sl_emitter *out) { return TH(out)->arena; }
static int64_t fake_now(sl_operator *op) { return TH(op)->now_ms; }

static double *metric_slot(const char **names, double *vals, const char *name) {
  for (int i = 0; i < 8; i++) {
    if (!names[i])
      names[i] = name;
    if (strcmp(names[i], name) == 0)
      return &vals[i];
  }
  return NULL;
}

static void fake_counter_add(sl_operator *op, const char *name, double delta) {
  double *v = metric_slot(TH(op)->counter_names, TH(op)->counters, name);
  if (v)
    *v += delta;
}

static void fake_gauge_set(sl_operator *op, const char *name, double value) {
  double *v = metric_slot(TH(op)->gauge_names, TH(op)->gauges, name);
  if (v)
    *v = value;
}

static sl_expr *fake_expr_compile(sl_operator *op, const char *text, int line, sl_error *err) {
  (void)op;
  if (!th_expr_compile) {
    sl_error_set(err, SL_ERR_INTERNAL, "this test suite did not set th_expr_compile");
    return NULL;
  }
  return th_expr_compile(text, line, err);
}

static int fake_expr_eval(const sl_expr *e, const sl_record *r, sl_arena *a, sl_value *out,
                          sl_error *err) {
  return th_expr_eval(e, r, a, out, err);
}

static void fake_expr_free(sl_expr *e) {
  if (th_expr_free)
    th_expr_free(e);
}

static int fake_lua_call(sl_operator *op, const sl_lua_fn *fn, const sl_record *r, sl_arena *a,
                         sl_value *out, sl_error *err) {
  (void)op, (void)fn, (void)r, (void)a, (void)out;
  return sl_error_set(err, SL_ERR_INTERNAL, "the operator harness has no Lua state");
}

static th_snap_entry *snap_find(th_op *t, int32_t partition, const void *key, size_t len) {
  for (size_t i = 0; i < t->snap_count; i++) {
    th_snap_entry *e = &t->snap[i];
    if (e->partition == partition && e->key_len == len && memcmp(e->key, key, len) == 0)
      return e;
  }
  return NULL;
}

static int fake_snapshot_put(sl_snapshot *s, int32_t partition, const void *key, size_t key_len,
                             const void *val, size_t val_len) {
  th_op *t = TH(s);
  th_snap_entry *e = snap_find(t, partition, key, key_len);
  if (!e) {
    if (grow((void **)&t->snap, &t->snap_cap, t->snap_count, sizeof *t->snap))
      return SL_ERR_NOMEM;
    e = &t->snap[t->snap_count++];
    e->partition = partition;
    e->key = malloc(key_len ? key_len : 1);
    memcpy(e->key, key, key_len);
    e->key_len = key_len;
    e->val = NULL;
  }
  free(e->val);
  e->val = malloc(val_len ? val_len : 1);
  memcpy(e->val, val, val_len);
  e->val_len = val_len;
  return SL_OK;
}

static int fake_snapshot_delete(sl_snapshot *s, int32_t partition, const void *key,
                                size_t key_len) {
  th_snap_entry *e = snap_find(TH(s), partition, key, key_len);
  if (e) {
    free(e->val);
    e->val = NULL;
    e->val_len = 0;
  }
  return SL_OK;
}

int th_op_init(th_op *t, const sl_operator_desc *desc, const sl_config *cfg) {
  memset(t, 0, sizeof *t);
  t->desc = desc;
  t->arena = sl_arena_new(0);
  t->now_ms = 1700000000000;
  t->host.abi_version = SL_OPERATOR_ABI_VERSION;
  t->host.struct_size = sizeof t->host;
  t->host.log = fake_log;
  t->host.emit = fake_emit;
  t->host.dead_letter = fake_dead_letter;
  t->host.arena = fake_arena;
  t->host.now_ms = fake_now;
  t->host.counter_add = fake_counter_add;
  t->host.gauge_set = fake_gauge_set;
  t->host.expr_compile = fake_expr_compile;
  t->host.expr_eval = fake_expr_eval;
  t->host.expr_free = fake_expr_free;
  t->host.lua_call = fake_lua_call;
  t->host.snapshot_put = fake_snapshot_put;
  t->host.snapshot_delete = fake_snapshot_delete;
  return desc->init(&t->host, (sl_operator *)(void *)t, cfg, &t->state, &t->err);
}

void th_op_free(th_op *t) {
  if (t->desc && t->desc->destroy)
    t->desc->destroy(t->state);
  for (size_t i = 0; i < t->snap_count; i++) {
    free(t->snap[i].key);
    free(t->snap[i].val);
  }
  free(t->snap);
  free(t->out);
  free(t->dead);
  sl_arena_destroy(t->arena);
  memset(t, 0, sizeof *t);
}

int th_process(th_op *t, sl_record **records, size_t n) {
  sl_batch b;
  sl_batch_init(&b, t->arena);
  for (size_t i = 0; i < n; i++)
    if (sl_batch_push(&b, records[i]) != SL_OK) {
      sl_batch_release(&b);
      return SL_ERR_NOMEM;
    }
  int rc = t->desc->process(t->state, &b, (sl_emitter *)(void *)t, &t->err);
  sl_batch_release(&b);
  return rc;
}

int th_watermark(th_op *t, int64_t wm) {
  if (!t->desc->on_watermark)
    return SL_OK;
  return t->desc->on_watermark(t->state, wm, (sl_emitter *)(void *)t, &t->err);
}

int th_tick(th_op *t, int64_t now_ms) {
  t->now_ms = now_ms;
  if (!t->desc->on_tick)
    return SL_OK;
  return t->desc->on_tick(t->state, now_ms, (sl_emitter *)(void *)t, &t->err);
}

int th_snapshot(th_op *t) {
  if (!t->desc->snapshot)
    return SL_OK;
  return t->desc->snapshot(t->state, (sl_snapshot *)(void *)t, &t->err);
}

int th_restore_into(th_op *from, th_op *to) {
  for (size_t i = 0; i < from->snap_count; i++) {
    th_snap_entry *e = &from->snap[i];
    if (!e->val)
      continue;
    int rc = to->desc->restore(to->state, e->partition, e->key, e->key_len, e->val, e->val_len,
                               &to->err);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

sl_record *th_rec(th_op *t, ...) {
  sl_record *r = sl_record_new(t->arena, 8);
  va_list ap;
  va_start(ap, t);
  const char *name;
  while ((name = va_arg(ap, const char *)) != NULL) {
    sl_value v = va_arg(ap, sl_value);
    sl_record_set(r, sl_name_cstr(name), v);
  }
  va_end(ap);
  return r;
}

sl_value th_str(th_op *t, const char *s) {
  size_t n = strlen(s);
  return sl_value_string(sl_arena_strndup(t->arena, s, n), n);
}

const sl_value *th_out_field(th_op *t, size_t i, const char *name) {
  return i < t->out_count ? sl_record_get_cstr(t->out[i], name) : NULL;
}

double th_counter(th_op *t, const char *name) {
  for (int i = 0; i < 8 && t->counter_names[i]; i++)
    if (strcmp(t->counter_names[i], name) == 0)
      return t->counters[i];
  return 0;
}

double th_gauge(th_op *t, const char *name) {
  for (int i = 0; i < 8 && t->gauge_names[i]; i++)
    if (strcmp(t->gauge_names[i], name) == 0)
      return t->gauges[i];
  return 0;
}

void th_clear(th_op *t) {
  t->out_count = 0;
  t->dead_count = 0;
}
