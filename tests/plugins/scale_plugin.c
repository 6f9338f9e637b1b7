/* SPDX-License-Identifier: Apache-2.0 */
/* A test plugin: `scale{field = "x", factor = 2}` multiplies a numeric field.
 * It uses only include/sluice/ headers and the host table, like a real
 * out-of-tree plugin. It also counts records in a counter to exercise
 * counter_add. */
#include <stdlib.h>
#include <string.h>

#include "sluice/operator.h"

typedef struct scale_state {
  const sl_host *host;
  sl_operator *op;
  sl_name field;
  double factor;
} scale_state;

static const sl_config_entry scale_config[] = {
    {"field", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "numeric field to scale"},
    {"factor", SL_CFG_DOUBLE, 0, "2", "multiplier"},
    {NULL, 0, 0, NULL, NULL},
};

static int scale_init(const sl_host *host, sl_operator *op, const sl_config *cfg, void **state,
                      sl_error *err) {
  if (host->struct_size < sizeof(sl_host))
    return sl_error_set(err, SL_ERR_ABI, "host table too small");
  scale_state *s = malloc(sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->host = host;
  s->op = op;
  s->field = sl_name_cstr(sl_config_string(cfg, "field", ""));
  s->factor = sl_config_double(cfg, "factor", 2);
  *state = s;
  return SL_OK;
}

static int scale_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  scale_state *s = state;
  sl_arena *a = s->host->arena(out);
  for (size_t i = 0; i < sl_batch_count(in); i++) {
    sl_record *r = sl_batch_at(in, i);
    const sl_value *v = sl_record_get(r, s->field);
    if (!v || (v->type != SL_TYPE_INT && v->type != SL_TYPE_DOUBLE)) {
      s->host->dead_letter(out, r, "eval", "scale: field is not a number");
      continue;
    }
    double d = v->type == SL_TYPE_INT ? (double)v->as.i : v->as.d;
    sl_record *o = sl_record_copy(a, r);
    if (!o)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_record_set(o, s->field, sl_value_double(d * s->factor));
    s->host->counter_add(s->op, "scale_records_total", 1);
    s->host->emit(out, o);
  }
  return SL_OK;
}

static void scale_destroy(void *state) { free(state); }

static const sl_operator_desc scale_op = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_operator_desc),
    .name = "scale",
    .summary = "multiply a numeric field",
    .config = scale_config,
    .init = scale_init,
    .process = scale_process,
    .destroy = scale_destroy,
};

static const sl_operator_desc *const ops[] = {&scale_op, NULL};
static const sl_plugin plugin = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_plugin),
    .name = "scale",
    .version = "1.0",
    .operators = ops,
};
SL_PLUGIN_DEFINE(plugin)
