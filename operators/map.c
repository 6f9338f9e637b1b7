/* SPDX-License-Identifier: Apache-2.0 */
/* map: adds or replaces fields with expressions (all evaluated against the
 * incoming record, like SQL's SELECT list), or replaces each record with what
 * a Lua function returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/operator.h"

typedef struct map_field {
  sl_name name;
  sl_expr *expr;
} map_field;

typedef struct map_state {
  const sl_host *host;
  sl_operator *op;
  const sl_lua_fn *fn; /* map(function(r) ... end) */
  map_field *fields;
  size_t nfields;
  sl_value *scratch; /* per-batch results, nfields long */
} map_state;

static const sl_config_entry map_config[] = {
    {"fn", SL_CFG_FUNCTION, 0, NULL, "a Lua function(record) returning the new record table"},
    {NULL, 0, 0, NULL, NULL},
};

static void map_destroy(void *state) {
  map_state *s = state;
  if (!s)
    return;
  for (size_t i = 0; i < s->nfields; i++)
    if (s->fields[i].expr)
      s->host->expr_free(s->fields[i].expr);
  free(s->fields);
  free(s->scratch);
  free(s);
}

static int map_init(const sl_host *host, sl_operator *op, const sl_config *cfg, void **state,
                    sl_error *err) {
  map_state *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->host = host;
  s->op = op;
  s->fn = sl_config_function(cfg, "fn");
  size_t n = sl_config_count(cfg);
  s->fields = calloc(n ? n : 1, sizeof *s->fields);
  s->scratch = calloc(n ? n : 1, sizeof *s->scratch);
  if (!s->fields || !s->scratch) {
    map_destroy(s);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    const char *key = sl_config_key_at(cfg, i);
    if (strcmp(key, "fn") == 0)
      continue;
    if (s->fn) {
      map_destroy(s);
      return sl_error_set(err, SL_ERR_INVALID,
                          "map takes either field = expression pairs or one function, not both");
    }
    map_field *f = &s->fields[s->nfields];
    f->name = sl_name_cstr(key);
    f->expr = host->expr_compile(op, sl_config_string(cfg, key, ""), sl_config_line(cfg), err);
    if (!f->expr) {
      int rc = err->code ? err->code : SL_ERR_INVALID;
      char msg[sizeof err->message];
      snprintf(msg, sizeof msg, "%s", err->message);
      sl_error_set(err, rc, "field '%s': %s", key, msg);
      map_destroy(s);
      return rc;
    }
    s->nfields++;
  }
  if (!s->fn && s->nfields == 0) {
    map_destroy(s);
    return sl_error_set(err, SL_ERR_INVALID,
                        "map needs at least one field = \"expression\" or a function");
  }
  *state = s;
  return SL_OK;
}

static int map_one(map_state *s, sl_record *r, sl_arena *a, sl_record **res, sl_error *e) {
  if (s->fn) {
    sl_value v;
    int rc = s->host->lua_call(s->op, s->fn, r, a, &v, e);
    if (rc != SL_OK)
      return rc;
    if (v.type == SL_TYPE_NULL) {
      *res = NULL; /* the function chose to drop the record */
      return SL_OK;
    }
    if (v.type != SL_TYPE_RECORD)
      return sl_error_set(e, SL_ERR_TYPE, "map function must return a table, not a %s",
                          sl_type_name(v.type));
    sl_record *out = sl_record_copy(a, r); /* keeps key, position, time */
    if (!out)
      return SL_ERR_NOMEM;
    while (sl_record_count(out))
      sl_record_remove(out, sl_record_name_at(out, 0));
    for (size_t i = 0; i < sl_record_count(v.as.rec); i++)
      sl_record_set(out, sl_record_name_at(v.as.rec, i), *sl_record_value_at(v.as.rec, i));
    *res = out;
    return SL_OK;
  }
  for (size_t i = 0; i < s->nfields; i++) {
    int rc = s->host->expr_eval(s->fields[i].expr, r, a, &s->scratch[i], e);
    if (rc != SL_OK)
      return rc;
  }
  sl_record *out = sl_record_copy(a, r);
  if (!out)
    return SL_ERR_NOMEM;
  for (size_t i = 0; i < s->nfields; i++)
    if (sl_record_set(out, s->fields[i].name, s->scratch[i]) != SL_OK)
      return SL_ERR_NOMEM;
  *res = out;
  return SL_OK;
}

static int map_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  map_state *s = state;
  sl_arena *a = s->host->arena(out);
  for (size_t i = 0; i < sl_batch_count(in); i++) {
    sl_record *r = sl_batch_at(in, i), *res = NULL;
    sl_error e;
    int rc = map_one(s, r, a, &res, &e);
    if (rc == SL_ERR_NOMEM)
      return sl_error_set(err, rc, "out of memory");
    if (rc != SL_OK)
      rc = s->host->dead_letter(out, r, s->fn && rc == SL_ERR_LIMIT ? "lua_limit" : "eval",
                                e.message);
    else if (res)
      rc = s->host->emit(out, res);
    if (rc != SL_OK)
      return sl_error_set(err, rc, "map: %s", sl_strerror(rc));
  }
  return SL_OK;
}

const sl_operator_desc sl_op_map = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_operator_desc),
    .name = "map",
    .summary = "add or replace fields computed by expressions",
    .config = map_config,
    .positional = "fn",
    .flags = SL_OP_FREE_KEYS,
    .free_key_type = SL_CFG_EXPR,
    .init = map_init,
    .process = map_process,
    .destroy = map_destroy,
};
