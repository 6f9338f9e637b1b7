/* SPDX-License-Identifier: Apache-2.0 */
/* The sl_host table: how operators reach the engine (emit, dead letters,
 * arenas, clock, metrics, expressions, Lua functions, snapshots). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "engine/dead_letter.h"
#include "engine/host.h"
#include "engine/runtime_metrics.h"
#include "engine/runtime_node.h"
#include "engine/state_backend.h"
#include "expr/expr.h"
#include "lang/lua_pipeline.h"

static void host_log(sl_operator *op, sl_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl_logv(level, op ? op->label : NULL, fmt, ap);
  va_end(ap);
}

static int host_emit(sl_emitter *out, sl_record *r) {
  sl_batch *b = out->batch;
  if (!b)
    return SL_ERR_INVALID;
  out->node->emitted++;
  if (b->count < b->cap) { /* per record (decode emits one by one): no call while there is room */
    b->records[b->count++] = r;
    return SL_OK;
  }
  return sl_batch_push(b, r);
}

static int host_dead_letter(sl_emitter *out, const sl_record *r, const char *reason,
                            const char *message) {
  if (!out->rt)
    return SL_OK;
  out->node->failed++;
  return sl_runtime_dead_letter(out->rt, out->node, r, reason, message);
}

static sl_arena *host_arena(sl_emitter *out) { return out->rt ? out->rt->arena : NULL; }

static int64_t host_now(sl_operator *op) {
  /* Under `sluice test` processing time stands still: no partition ever
   * turns idle, so the watermark depends on the records alone. */
  if (op->rt && op->rt->opts.event_time_only)
    return 0;
  return sl_runtime_now_ms();
}

static void host_counter_add(sl_operator *op, const char *name, double delta) {
  if (op->rt)
    sl_runtime_counter_add(op->rt, op->node, name, delta);
}

static void host_gauge_set(sl_operator *op, const char *name, double value) {
  if (op->rt)
    sl_runtime_gauge_set(op->rt, op->node, name, value);
}

static sl_expr *host_expr_compile(sl_operator *op, const char *text, int line, sl_error *err) {
  (void)op;
  return sl_expr_compile(text, line, err);
}

static int host_lua_call(sl_operator *op, const sl_lua_fn *fn, const sl_record *r, sl_arena *a,
                         sl_value *out, sl_error *err) {
  (void)op;
  return sl_lua_call(fn, r, a, out, err);
}

/* Snapshots stage changes in the checkpoint being built (checkpoint.c), in
 * the state backend (state_backend.h). */
static int host_snapshot_put(sl_snapshot *s, int32_t partition, const void *key, size_t key_len,
                             const void *val, size_t val_len) {
  int rc = s->store->ops->put(s->store, s->topic, partition, s->op_id, key, key_len, val, val_len);
  if (rc != SL_OK)
    s->failed = 1;
  return rc;
}

static int host_snapshot_delete(sl_snapshot *s, int32_t partition, const void *key,
                                size_t key_len) {
  int rc = s->store->ops->del(s->store, s->topic, partition, s->op_id, key, key_len);
  if (rc != SL_OK)
    s->failed = 1;
  return rc;
}

const sl_host sl_runtime_host = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_host),
    .log = host_log,
    .emit = host_emit,
    .dead_letter = host_dead_letter,
    .arena = host_arena,
    .now_ms = host_now,
    .counter_add = host_counter_add,
    .gauge_set = host_gauge_set,
    .expr_compile = host_expr_compile,
    .expr_eval = sl_expr_eval,
    .expr_free = sl_expr_free,
    .lua_call = host_lua_call,
    .snapshot_put = host_snapshot_put,
    .snapshot_delete = host_snapshot_delete,
};

int sl_host_input_exclusive(const sl_host *host, const sl_operator *op) {
  /* Only the runtime's handles are struct sl_operator: test harnesses pass
   * their own, and `sluice check` has no graph (rt NULL). */
  if (host != &sl_runtime_host || !op->rt || !op->node)
    return 0;
  return sl_graph_sole_path(op->rt->graph, op->node->desc->id);
}

int sl_host_emit_all(const sl_host *host, sl_emitter *out, sl_record *const *rs, size_t n) {
  if (host != &sl_runtime_host) {
    for (size_t i = 0; i < n; i++) {
      int rc = host->emit(out, rs[i]);
      if (rc != SL_OK)
        return rc;
    }
    return SL_OK;
  }
  if (!out->batch)
    return SL_ERR_INVALID;
  out->node->emitted += n;
  return sl_batch_push_all(out->batch, rs, n);
}

int sl_host_check_operator(const sl_operator_desc *d, const sl_config *cfg, const char *label,
                           sl_error *err) {
  struct sl_operator handle = {NULL, NULL, label};
  void *state = NULL;
  int rc = d->init(&sl_runtime_host, &handle, cfg, &state, err);
  if (rc == SL_OK && d->destroy)
    d->destroy(state);
  return rc;
}
