/* SPDX-License-Identifier: Apache-2.0 */
/* enrich: adds the fields of a table entry (p:table{}) to each record, looked
 * up by one of the record's fields. The operator takes one snapshot of the
 * table per batch (a refcount, no lock per record) and keeps it until the next
 * batch, because the values it adds are borrowed from the snapshot, not
 * copied: the engine finishes a batch's traversal before the next one starts,
 * so no record of the previous batch is alive by then. A version published
 * in the middle of a batch is seen from the next one; the entries of the
 * held version stay alive (refcounted) until then, even if the new version
 * replaced or deleted them.
 *
 * The common case costs about 130 instructions per record (bench/README.md,
 * "Enrichment cost"): one lookup, and, for a record whose shape (or JSON
 * layout) is known to lack our names and an entry of the shape whose field
 * positions were learnt, a copy of those fields (one block when in a row)
 * into the record's spare room; the results are emitted once per batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/record_internal.h"
#include "engine/host.h"
#include "sluice/operator.h"
#include "state/table_store.h"

#define SEEN_MAX 32 /* longest record layout remembered (names_new) */

typedef struct enrich_state {
  const sl_host *host;
  sl_operator *op;
  char *table_id;
  sl_table *table;     /* resolved at init at run time, else at the first batch */
  sl_table_snap *snap; /* held from one batch to the next */
  sl_name key;
  sl_name as;        /* nest the whole entry under this name, or NULL */
  sl_name *fields;   /* copy these fields; NULL with nfields 0: copy every field */
  sl_value *values;  /* scratch: the values of `fields` for one record */
  uint32_t *hints;   /* per field: where it was in the last entry (same order) */
  uint32_t key_hint; /* where the key field was in the last record */
  size_t nfields;
  int required;
  int in_place;           /* no other branch sees our input: add fields to it, no copy */
  sl_name seen[SEEN_MAX]; /* the names, in order, of the last record shown to */
  uint32_t nseen;         /* have none of the added names (SEEN_MAX + 1: none) */
  /* Shapes (sl_shape_of) are interned for the process, so remembering one is safe: */
  const struct sl_shape *new_shape; /* records of this shape have none of our names */
  const struct sl_shape *ent_shape; /* entries of this shape have our fields at `pos`, */
  uint32_t *pos;                    /* per field: its index (NO_FIELD: absent) */
  uint32_t run;     /* and at [run, run + nfields) when in a row, in our order, else NO_FIELD */
  sl_record **outv; /* the batch's results, emitted at once (sl_host_emit_all) */
  size_t outcap;
} enrich_state;

#define NO_FIELD UINT32_MAX

static const sl_config_entry enrich_config[] = {
    {"table", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "id of a p:table{} of the pipeline"},
    {"key", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "field of the record holding the table key"},
    {"fields", SL_CFG_STRING_LIST, 0, "every field", "entry fields to add (null when no entry)"},
    {"as", SL_CFG_STRING, 0, NULL, "add the whole entry as one nested record field"},
    {"required", SL_CFG_BOOL, 0, "false", "no entry: dead letter with reason \"lookup\""},
    {NULL, 0, 0, NULL, NULL},
};

static void enrich_destroy(void *state) {
  enrich_state *s = state;
  if (!s)
    return;
  sl_table_snap_release(s->snap);
  free(s->fields);
  free(s->values);
  free(s->hints);
  free(s->pos);
  free(s->outv);
  free(s->table_id);
  free(s);
}

static int enrich_init(const sl_host *host, sl_operator *op, const sl_config *cfg, void **state,
                       sl_error *err) {
  if (sl_config_has(cfg, "fields") && sl_config_has(cfg, "as"))
    return sl_error_set(err, SL_ERR_INVALID,
                        "enrich takes fields = {...} or as = \"name\", not both");
  enrich_state *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->host = host;
  s->op = op;
  s->table_id = strdup(sl_config_string(cfg, "table", ""));
  s->key = sl_name_cstr(sl_config_string(cfg, "key", ""));
  const char *as = sl_config_string(cfg, "as", NULL);
  s->as = as ? sl_name_cstr(as) : NULL;
  s->required = sl_config_bool(cfg, "required", 0);
  s->in_place = sl_host_input_exclusive(host, op);
  s->nseen = SEEN_MAX + 1;
  s->nfields = sl_config_list_len(cfg, "fields");
  s->fields = calloc(s->nfields ? s->nfields : 1, sizeof *s->fields);
  s->values = calloc(s->nfields ? s->nfields : 1, sizeof *s->values);
  s->hints = calloc(s->nfields ? s->nfields : 1, sizeof *s->hints);
  s->pos = calloc(s->nfields ? s->nfields : 1, sizeof *s->pos);
  if (!s->table_id || !s->fields || !s->values || !s->hints || !s->pos || !s->key) {
    enrich_destroy(s);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < s->nfields; i++) {
    const char *f = sl_config_list_string(cfg, "fields", i);
    if (!f || !*f) {
      enrich_destroy(s);
      return sl_error_set(err, SL_ERR_INVALID, "enrich: fields must be non-empty field names");
    }
    s->fields[i] = sl_name_cstr(f);
    for (size_t k = 0; k < i; k++)
      if (s->fields[k] == s->fields[i]) {
        enrich_destroy(s);
        return sl_error_set(err, SL_ERR_INVALID, "enrich: field '%s' is listed twice", f);
      }
  }
  /* `sluice check` runs init without opening tables: the table's existence is
   * checked against the pipeline's p:table{} declarations instead. */
  s->table = sl_table_find(s->table_id);
  *state = s;
  return SL_OK;
}

/* Field `name` of `r`, trying first where it was last time: records of one
 * source, and entries of one table, usually list their fields in one order. */
static inline const sl_value *field_at_hint(const sl_record *r, sl_name name, uint32_t *hint) {
  if (*hint < r->count && r->fields[*hint].name == name)
    return &r->fields[*hint].value;
  for (uint32_t i = 0; i < r->count; i++)
    if (r->fields[i].name == name) {
      *hint = i;
      return &r->fields[i].value;
    }
  return NULL;
}

/* Does `r` list exactly the names of the last record shown to have none of
 * the names we add? Records of one source usually list the same names in
 * the same order, and then comparing their names once with the remembered
 * ones proves ours new at a third of the cost of comparing each with each. */
static inline int same_layout(const enrich_state *s, const sl_record *r) {
  if (r->count != s->nseen)
    return 0;
  for (uint32_t i = 0; i < s->nseen; i++)
    if (r->fields[i].name != s->seen[i])
      return 0;
  return 1;
}

/* Are the names we add new to `r`? Remembers the layout of `r` when so. */
static int names_new(enrich_state *s, const sl_record *r, const sl_name *names, size_t n) {
  if ((r->shape && r->shape == s->new_shape) || same_layout(s, r))
    return 1;
  if (!sl_record_names_absent(r, names, n))
    return 0;
  if (r->shape)
    s->new_shape = r->shape;
  if (r->count <= SEEN_MAX) {
    for (uint32_t i = 0; i < r->count; i++)
      s->seen[i] = r->fields[i].name;
    s->nseen = r->count;
  }
  return 1;
}

/* `r` with `n` fields added: `r` itself when we own it and it lives in the
 * traversal arena (a record an upstream operator keeps in its own memory is
 * never ours to change), else a copy. Copying was half of enrich's cost. */
static sl_record *add_fields(enrich_state *s, sl_record *r, const sl_name *names,
                             const sl_value *values, size_t n, sl_arena *a) {
  int known_new = names_new(s, r, names, n);
  if (s->in_place && r->arena == a)
    return sl_record_extend_in_place(r, names, values, n, known_new) == SL_OK ? r : NULL;
  return sl_record_extend(a, r, names, values, n, known_new);
}

/* Remembers where entries of the shape of `e` list our fields (once per
 * shape): the fast path then copies them by position, and in one block
 * when they follow each other in our order, as they do when `fields` names
 * a stretch of the table's columns. */
static void learn_entry(enrich_state *s, const sl_record *e) {
  s->ent_shape = e->shape;
  s->run = NO_FIELD;
  for (size_t i = 0; i < s->nfields; i++) {
    s->pos[i] = NO_FIELD;
    for (uint32_t k = 0; k < e->count && s->pos[i] == NO_FIELD; k++)
      if (e->fields[k].name == s->fields[i])
        s->pos[i] = k;
  }
  s->run = s->pos[0];
  for (size_t i = 0; i < s->nfields; i++)
    if (s->pos[i] == NO_FIELD || s->pos[i] != s->pos[0] + i)
      s->run = NO_FIELD;
}

/* What the fast path reads, copied from the state into locals once per
 * batch and again after the general path (which may learn a shape): kept
 * in the state, they would be reloaded per record, since the stores into
 * records could alias them. n = 0: no fast path (`as`, or every field). */
typedef struct fast_path {
  const struct sl_shape *new_shape, *ent_shape;
  const sl_name *names;
  const uint32_t *pos;
  uint32_t run, n;
  int in_place;
} fast_path;

static inline fast_path fast_of(const enrich_state *s) {
  fast_path f = {s->new_shape, s->ent_shape,         s->fields,  s->pos,
                 s->run,       (uint32_t)s->nfields, s->in_place};
  return f;
}

/* `n` fields from `from`, names included (the entry's names are ours), a
 * constant size for the common counts: a few vector moves, no call. */
static inline void copy_fields(sl_field *dst, const sl_field *from, size_t n) {
  switch (n) {
  case 1: memcpy(dst, from, 1 * sizeof *dst); break;
  case 2: memcpy(dst, from, 2 * sizeof *dst); break;
  case 3: memcpy(dst, from, 3 * sizeof *dst); break;
  case 4: memcpy(dst, from, 4 * sizeof *dst); break;
  default: memcpy(dst, from, n * sizeof *dst); break;
  }
}

/* Our fields from where entries of the known shape have them, one by one
 * (out of line: the common case, fields in a row, keeps its registers). */
static __attribute__((noinline)) void copy_by_pos(sl_field *dst, const sl_record *e,
                                                  const fast_path *f) {
  for (uint32_t i = 0; i < f->n; i++) {
    dst[i].name = f->names[i];
    if (f->pos[i] != NO_FIELD)
      dst[i].value = e->fields[f->pos[i]].value;
    else
      dst[i].value = sl_value_null();
  }
}

/* The common case: the record's shape is one shown to have none of our
 * names (or, without a shape, as JSON records are, its names are those of
 * the last record shown so), and the entry's shape is the one whose
 * positions we know: adding our fields is a copy of each (values borrowed
 * from the snapshot; null for a column the entry lacks), or of all at once
 * when they are in a row, into `r` itself when we own it (in place, in the
 * traversal arena) and it has room, else into a copy of it (below a fork:
 * the other branch must not see them). NULL: take the general path (out of
 * memory included: it reports it). */
static inline sl_record *add_fields_fast(const enrich_state *s, const fast_path *f, sl_record *r,
                                         const sl_record *e, sl_arena *a) {
  if (!f->n || !e || !e->shape || e->shape != f->ent_shape)
    return NULL;
  if (!(r->shape && r->shape == f->new_shape) && (r->shape || !same_layout(s, r)))
    return NULL;
  if (__builtin_expect(!f->in_place || r->arena != a || r->cap - r->count < f->n, 0))
    if (f->n > SL_RECORD_COPY_ROOM || !(r = sl_record_copy(a, r))) /* room for that many */
      return NULL;
  sl_field *dst = r->fields + r->count;
  if (f->run != NO_FIELD)
    copy_fields(dst, e->fields + f->run, f->n);
  else
    copy_by_pos(dst, e, f);
  r->count += f->n;
  r->shape = NULL; /* it has more names now */
  return r;
}

/* `r` enriched given the table entry `e` (NULL: none). */
static sl_record *enrich_one(enrich_state *s, sl_record *r, const sl_record *e, sl_arena *a) {
  if (s->as) {
    /* Nested as a borrowed record: readers never mutate a received record. */
    sl_value v = e ? sl_value_record((sl_record *)e) : sl_value_null();
    return add_fields(s, r, &s->as, &v, 1, a);
  }
  if (s->nfields) {
    for (size_t i = 0; i < s->nfields; i++) {
      const sl_value *v = e ? field_at_hint(e, s->fields[i], &s->hints[i]) : NULL;
      s->values[i] = v ? *v : sl_value_null();
    }
    return add_fields(s, r, s->fields, s->values, s->nfields, a);
  }
  sl_record *out = sl_record_copy(a, r);
  for (size_t i = 0; out && e && i < sl_record_count(e); i++)
    if (sl_record_set(out, sl_record_name_at(e, i), *sl_record_value_at(e, i)) != SL_OK)
      return NULL;
  return out;
}

static int enrich_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  enrich_state *s = state;
  if (!in->count)
    return SL_OK;
  if (!s->table && !(s->table = sl_table_find(s->table_id)))
    return sl_error_set(err, SL_ERR_NOT_FOUND, "enrich: table '%s' is not open", s->table_id);
  /* One snapshot per batch: every record of a batch sees the same version. */
  sl_table_snap_release(s->snap);
  s->snap = sl_table_acquire(s->table);
  sl_arena *a = s->host->arena(out);
  if (in->count > s->outcap) {
    sl_record **v = realloc(s->outv, in->count * sizeof *v);
    if (!v)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    s->outv = v;
    s->outcap = in->count;
  }
  size_t misses = 0, nout = 0;
  fast_path f = fast_of(s);
  sl_record **outv = s->outv;
  for (size_t i = 0; i < in->count; i++) {
    sl_record *r = in->records[i];
    const sl_value *kv = field_at_hint(r, s->key, &s->key_hint);
    char buf[32];
    const char *key;
    size_t klen;
    const sl_record *e = NULL;
    if (kv && kv->type == SL_TYPE_STRING) /* the common case, without a call */
      e = sl_table_snap_get(s->snap, kv->as.str.ptr, kv->as.str.len);
    else if (kv && sl_table_key_of(kv, buf, sizeof buf, &key, &klen))
      e = sl_table_snap_get(s->snap, key, klen);
    if (!e && s->required) {
      misses++;
      char msg[200];
      if (kv && kv->type == SL_TYPE_STRING)
        snprintf(msg, sizeof msg, "no entry for key '%.*s' in table '%s'",
                 (int)(kv->as.str.len > 64 ? 64 : kv->as.str.len), kv->as.str.ptr, s->table_id);
      else if (kv && kv->type != SL_TYPE_NULL)
        snprintf(msg, sizeof msg, "no entry for the key (a %s) in table '%s'",
                 sl_type_name(kv->type), s->table_id);
      else
        snprintf(msg, sizeof msg, "the key field is missing or null (table '%s')", s->table_id);
      int rc = s->host->dead_letter(out, r, "lookup", msg);
      if (rc != SL_OK)
        return sl_error_set(err, rc, "enrich: %s", sl_strerror(rc));
      continue;
    }
    misses += !e;
    sl_record *done = add_fields_fast(s, &f, r, e, a);
    if (done) {
      outv[nout++] = done;
      continue;
    }
    sl_record *res = enrich_one(s, r, e, a);
    if (!res)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    outv[nout++] = res;
    if (s->nfields && e && e->shape && e->shape != s->ent_shape)
      learn_entry(s, e);
    f = fast_of(s);
  }
  int rc = sl_host_emit_all(s->host, out, outv, nout);
  if (rc != SL_OK)
    return sl_error_set(err, rc, "enrich: %s", sl_strerror(rc));
  if (misses)
    s->host->counter_add(s->op, "sluice_enrich_misses_total", (double)misses);
  return SL_OK;
}

const sl_operator_desc sl_op_enrich = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_operator_desc),
    .name = "enrich",
    .summary = "add the fields of a table entry looked up by a record field",
    .config = enrich_config,
    .init = enrich_init,
    .process = enrich_process,
    .destroy = enrich_destroy,
};
