/* SPDX-License-Identifier: Apache-2.0 */
/* filter: keeps the records for which an expression is true (SQL semantics:
 * null and false drop the record) or a Lua function returns a true value.
 * Evaluation errors are dead-lettered with reason "eval"; a Lua function
 * past its limits (SPEC section 9) with reason "lua_limit". */
#include <stdlib.h>

#include "sluice/operator.h"

typedef struct filter_state {
  const sl_host *host;
  sl_operator *op;
  sl_expr *expr;          /* compiled once; NULL when fn is used */
  const sl_lua_fn *fn;    /* explicit Lua function, borrowed from the config */
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
  }
  *state = s;
  return SL_OK;
}

static int filter_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  filter_state *s = state;
  sl_arena *a = s->host->arena(out);
  size_t n = sl_batch_count(in);
  for (size_t i = 0; i < n; i++) {
    sl_record *r = sl_batch_at(in, i);
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
      continue;
    }
    /* An expression passes on true only; a Lua function on any true Lua value. */
    int keep = s->fn ? !(v.type == SL_TYPE_NULL || (v.type == SL_TYPE_BOOL && !v.as.b))
                     : (v.type == SL_TYPE_BOOL && v.as.b);
    if (keep && (rc = s->host->emit(out, r)) != SL_OK)
      return sl_error_set(err, rc, "cannot emit: %s", sl_strerror(rc));
  }
  return SL_OK;
}

static void filter_destroy(void *state) {
  filter_state *s = state;
  if (!s)
    return;
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
