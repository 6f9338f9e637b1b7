/* SPDX-License-Identifier: Apache-2.0 */
/* filter: keeps the records for which an expression is true (SQL semantics:
 * null and false drop the record) or a Lua function returns a true value.
 * Evaluation errors are dead-lettered with reason "eval"; a Lua function
 * past its limits (SPEC section 9) with reason "lua_limit". An expression of
 * the usual shapes (a field against literals) is decided for the whole batch
 * at once (expr/expr_pred.h) and the kept records go out in runs. */
#include <stdlib.h>

#include "base/record_internal.h"
#include "engine/host.h"
#include "expr/expr_pred.h"
#include "sluice/operator.h"

typedef struct filter_state {
  const sl_host *host;
  sl_operator *op;
  sl_expr *expr;       /* compiled once; NULL when fn is used */
  const sl_lua_fn *fn; /* explicit Lua function, borrowed from the config */
  sl_expr_pred *pred;  /* the batch form of expr, or NULL: each record evaluated */
} filter_state;

static const sl_config_entry filter_config[] = {
    {"expr", SL_CFG_EXPR_OR_FUNCTION, SL_CFG_REQUIRED, NULL,
     "condition such as \"temperature > 90\", or a Lua function(record) returning a boolean"},
    {NULL, 0, 0, NULL, NULL},
};

static int filter_init(const sl_host *host, sl_operator *op, const sl_config *cfg, void **state,
                       sl_error *err) {
  filter_state *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->host = host;
  s->op = op;
  s->fn = sl_config_function(cfg, "expr");
  if (!s->fn) {
    s->expr = host->expr_compile(op, sl_config_string(cfg, "expr", ""), sl_config_line(cfg), err);
    if (!s->expr) {
      free(s);
      return err->code ? err->code : SL_ERR_INVALID;
    }
    /* The batch form answers as sl_expr_eval does: only for a host that
     * evaluates with it (the runtime's). NULL (no batch form, or no memory
     * for one) only means the slower path. */
    if (host->expr_eval == sl_expr_eval)
      s->pred = sl_expr_pred_new(s->expr);
  }
  *state = s;
  return SL_OK;
}

/* Evaluate `r` and emit it if it passes, or dead-letter it on an error. */
static int filter_one(filter_state *s, sl_record *r, sl_arena *a, sl_emitter *out, sl_error *err) {
  sl_value v;
  sl_error e;
  int rc = s->fn ? s->host->lua_call(s->op, s->fn, r, a, &v, &e)
                 : s->host->expr_eval(s->expr, r, a, &v, &e);
  if (rc != SL_OK) {
    /* A Lua function past its instruction or memory budget is not a bug
     * of the record's content: a reason of its own tells them apart. */
    const char *reason = s->fn && rc == SL_ERR_LIMIT ? "lua_limit" : "eval";
    if ((rc = s->host->dead_letter(out, r, reason, e.message)) != SL_OK)
      return sl_error_set(err, rc, "cannot dead-letter a record: %s", sl_strerror(rc));
    return SL_OK;
  }
  /* An expression passes on true only; a Lua function on any true Lua value. */
  int keep = s->fn ? !(v.type == SL_TYPE_NULL || (v.type == SL_TYPE_BOOL && !v.as.b))
                   : (v.type == SL_TYPE_BOOL && v.as.b);
  if (keep && (rc = s->host->emit(out, r)) != SL_OK)
    return sl_error_set(err, rc, "cannot emit: %s", sl_strerror(rc));
  return SL_OK;
}

static int emit_run(filter_state *s, sl_emitter *out, sl_record *const *rs, size_t n,
                    sl_error *err) {
  int rc = n ? sl_host_emit_all(s->host, out, rs, n) : SL_OK;
  return rc == SL_OK ? SL_OK : sl_error_set(err, rc, "cannot emit: %s", sl_strerror(rc));
}

/* The batch decided at once; kept records leave in runs, in input order,
 * and a record the batch form leaves undecided is evaluated on its own
 * between them (its error, if any, dead-lettered as before). */
static int filter_batch(filter_state *s, const sl_batch *in, sl_arena *a, sl_emitter *out,
                        sl_error *err) {
  size_t n = in->count;
  sl_record *const *rs = in->records;
  uint8_t *verdict = sl_arena_alloc(a, n);
  if (!verdict)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_expr_pred_test(s->pred, rs, n, verdict);
  size_t run = 0; /* first record of the run of kept records not emitted yet */
  int rc;
  for (size_t i = 0; i < n; i++) {
    if (verdict[i] == SL_PRED_KEEP)
      continue;
    if ((rc = emit_run(s, out, rs + run, i - run, err)) != SL_OK)
      return rc;
    run = i + 1;
    if (verdict[i] == SL_PRED_EVAL && (rc = filter_one(s, rs[i], a, out, err)) != SL_OK)
      return rc;
  }
  return emit_run(s, out, rs + run, n - run, err);
}

static int filter_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  filter_state *s = state;
  sl_arena *a = s->host->arena(out);
  size_t n = sl_batch_count(in);
  if (s->pred && n)
    return filter_batch(s, in, a, out, err);
  for (size_t i = 0; i < n; i++) {
    int rc = filter_one(s, sl_batch_at(in, i), a, out, err);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

static void filter_destroy(void *state) {
  filter_state *s = state;
  if (!s)
    return;
  sl_expr_pred_free(s->pred);
  if (s->expr)
    s->host->expr_free(s->expr);
  free(s);
}

const sl_operator_desc sl_op_filter = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_operator_desc),
    .name = "filter",
    .summary = "keep records for which a condition holds",
    .config = filter_config,
    .positional = "expr",
    .init = filter_init,
    .process = filter_process,
    .destroy = filter_destroy,
};
