/* SPDX-License-Identifier: Apache-2.0 */
/* select: keeps only the named fields, in the given order. A dotted path
 * ("position.lat") copies the nested value under the full dotted name. A
 * missing field becomes null, as in SQL. */
#include <stdlib.h>
#include <string.h>

#include "sluice/operator.h"

typedef struct select_field {
  sl_name out;      /* output name */
  sl_name path[16]; /* interned path components */
  size_t depth;
} select_field;

typedef struct select_state {
  const sl_host *host;
  select_field *fields;
  size_t n;
} select_state;

static const sl_config_entry select_config[] = {
    {"fields", SL_CFG_STRING_LIST, SL_CFG_REQUIRED, NULL, "field names to keep, e.g. {\"a\", \"b\"}"},
    {NULL, 0, 0, NULL, NULL},
};

static void select_destroy(void *state) {
  select_state *s = state;
  if (!s)
    return;
  free(s->fields);
  free(s);
}

static int select_init(const sl_host *host, sl_operator *op, const sl_config *cfg, void **state,
                       sl_error *err) {
  (void)op;
  size_t n = sl_config_list_len(cfg, "fields");
  if (n == 0)
    return sl_error_set(err, SL_ERR_INVALID, "select needs at least one field name");
  select_state *s = calloc(1, sizeof *s);
  if (!s || !(s->fields = calloc(n, sizeof *s->fields))) {
    free(s);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  s->host = host;
  s->n = n;
  for (size_t i = 0; i < n; i++) {
    const char *name = sl_config_list_string(cfg, "fields", i);
    select_field *f = &s->fields[i];
    f->out = sl_name_cstr(name);
    const char *p = name;
    while (*p) {
      size_t len = strcspn(p, ".");
      if (len == 0 || f->depth == 16) {
        select_destroy(s);
        return sl_error_set(err, SL_ERR_INVALID, "bad field path '%s'", name);
      }
      f->path[f->depth++] = sl_name_intern(p, len);
      p += len;
      if (*p == '.')
        p++;
    }
  }
  *state = s;
  return SL_OK;
}

static int select_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  select_state *s = state;
  sl_arena *a = s->host->arena(out);
  for (size_t i = 0; i < sl_batch_count(in); i++) {
    const sl_record *r = sl_batch_at(in, i);
    sl_record *o = sl_record_copy(a, r); /* keeps key, position, time */
    if (!o)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    while (sl_record_count(o))
      sl_record_remove(o, sl_record_name_at(o, sl_record_count(o) - 1));
    for (size_t k = 0; k < s->n; k++) {
      const sl_value *v = sl_record_get_path(r, s->fields[k].path, s->fields[k].depth);
      if (sl_record_set(o, s->fields[k].out, v ? *v : sl_value_null()) != SL_OK)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    int rc = s->host->emit(out, o);
    if (rc != SL_OK)
      return sl_error_set(err, rc, "select: %s", sl_strerror(rc));
  }
  return SL_OK;
}

const sl_operator_desc sl_op_select = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_operator_desc),
    .name = "select",
    .summary = "keep only the named fields",
    .config = select_config,
    .positional = "fields",
    .init = select_init,
    .process = select_process,
    .destroy = select_destroy,
};
