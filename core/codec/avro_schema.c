/* SPDX-License-Identifier: Apache-2.0 */
/* Avro schemas: validation with Avro-C, then compilation of the JSON text into a flat
 * plan (avro_plan.h) that the decoder and encoder run without touching Avro-C.
 *
 * Avro-C is the validator of record (it is the reference C implementation), but its
 * schema objects drop logicalType annotations and are awkward to walk, so the plan is
 * compiled from the JSON itself with jansson. */
#include <avro.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/record_internal.h"
#include "codec/avro_plan.h"

/* ---- plan tables ------------------------------------------------------- */

/* A table is allocated by its first append, even of no rows: the decoder does pointer
 * arithmetic on it (`fields + first`), which is undefined on NULL (a record of no fields). */
static int grow(void **tab, uint32_t *cap, uint32_t need, size_t elsz) {
  if (need <= *cap && *tab)
    return SL_OK;
  uint32_t ncap = *cap ? *cap : 16;
  while (ncap < need)
    ncap *= 2;
  void *nt = realloc(*tab, (size_t)ncap * elsz);
  if (!nt)
    return SL_ERR_NOMEM;
  *tab = nt;
  *cap = ncap;
  return SL_OK;
}

/* Append `n` rows of `elsz` bytes to a table; `*first` gets the index of the first. */
static int add_rows(void **tab, uint32_t *count, uint32_t *cap, const void *rows, uint32_t n,
                    size_t elsz, uint32_t *first) {
  if (grow(tab, cap, *count + n, elsz) != SL_OK)
    return SL_ERR_NOMEM;
  if (n)
    memcpy((char *)*tab + (size_t)*count * elsz, rows, (size_t)n * elsz);
  *first = *count;
  *count += n;
  return SL_OK;
}

int sl_avro_plan_add_node(sl_avro_schema *s, const av_node *n, uint32_t *index) {
  return add_rows((void **)&s->nodes, &s->node_count, &s->node_cap, n, 1, sizeof *n, index);
}
int sl_avro_plan_add_fields(sl_avro_schema *s, const av_field *f, uint32_t n, uint32_t *first) {
  return add_rows((void **)&s->fields, &s->field_count, &s->field_cap, f, n, sizeof *f, first);
}
int sl_avro_plan_add_branches(sl_avro_schema *s, const uint32_t *b, uint32_t n, uint32_t *first) {
  return add_rows((void **)&s->branches, &s->branch_count, &s->branch_cap, b, n, sizeof *b, first);
}
int sl_avro_plan_add_symbols(sl_avro_schema *s, const sl_value *v, uint32_t n, uint32_t *first) {
  return add_rows((void **)&s->symbols, &s->symbol_count, &s->symbol_cap, v, n, sizeof *v, first);
}
int sl_avro_plan_add_defaults(sl_avro_schema *s, const av_default *d, uint32_t n, uint32_t *first) {
  return add_rows((void **)&s->defaults, &s->default_count, &s->default_cap, d, n, sizeof *d,
                  first);
}

sl_avro_schema *sl_avro_plan_new(void) {
  sl_avro_schema *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->arena = sl_arena_new(4096);
  if (!s->arena) {
    free(s);
    return NULL;
  }
  return s;
}

void sl_avro_schema_free(sl_avro_schema *s) {
  if (!s)
    return;
  free(s->nodes);
  free(s->fields);
  free(s->branches);
  free(s->symbols);
  free(s->defaults);
  free(s->json);
  sl_arena_destroy(s->arena);
  free(s);
}

const char *sl_avro_schema_json(const sl_avro_schema *s) { return s->json; }

const char *sl_avro_kind_name(int kind) {
  static const char *const names[] = {"null",   "boolean", "int",    "long",   "float",
                                      "double", "bytes",   "string", "record", "enum",
                                      "array",  "map",     "fixed",  "union"};
  return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}

/* Fewest wire bytes of a node that is not a record. */
static uint32_t leaf_minsize(const av_node *n) {
  switch (n->kind) {
  case AV_NULL: return 0;
  case AV_FLOAT: return 4;
  case AV_DOUBLE: return 8;
  case AV_FIXED: return n->size;
  default: return 1; /* every varint, length or block count takes at least one byte */
  }
}

typedef struct minsize_frame {
  uint32_t node, next; /* a record and its next field to add */
  uint64_t sum;
} minsize_frame;

/* Every node's minimum wire size, each computed once: a record's is the sum of its fields'.
 * A schema can name one record many times (R_k = {a: R_k-1, b: R_k-1} doubles the paths at
 * each level: a recursion over paths took 77 s at k = 22) or contain itself, so this is a
 * memoised walk with an explicit stack (a chain of records is as deep as the schema is
 * long). A record met again while its own sum is open adds 0: a lower bound, which is all
 * the decoder needs (it bounds block counts by the bytes left). */
static int compute_minsizes(sl_avro_schema *s) {
  uint8_t *state = calloc(s->node_count ? s->node_count : 1, 1); /* 0 new, 1 open, 2 done */
  minsize_frame *stack = malloc((s->node_count ? s->node_count : 1) * sizeof *stack);
  if (!state || !stack) {
    free(state);
    free(stack);
    return SL_ERR_NOMEM;
  }
  for (uint32_t i = 0; i < s->node_count; i++) {
    if (state[i])
      continue;
    if (s->nodes[i].kind != AV_RECORD) {
      s->nodes[i].minsize = leaf_minsize(&s->nodes[i]);
      state[i] = 2;
      continue;
    }
    uint32_t top = 0;
    stack[top++] = (minsize_frame){i, 0, 0};
    state[i] = 1;
    while (top) {
      minsize_frame *fr = &stack[top - 1];
      const av_node *n = &s->nodes[fr->node];
      if (fr->next == n->count) {
        uint32_t size = fr->sum > UINT32_MAX ? UINT32_MAX : (uint32_t)fr->sum;
        s->nodes[fr->node].minsize = size;
        state[fr->node] = 2;
        if (--top)
          stack[top - 1].sum += size;
        continue;
      }
      uint32_t c = s->fields[n->first + fr->next++].type;
      const av_node *cn = &s->nodes[c];
      if (cn->kind != AV_RECORD)
        fr->sum += leaf_minsize(cn);
      else if (state[c] == 2)
        fr->sum += cn->minsize;
      else if (state[c] == 0) { /* each record is pushed once: the stack holds node_count */
        state[c] = 1;
        stack[top++] = (minsize_frame){c, 0, 0};
      }
    }
  }
  free(state);
  free(stack);
  return SL_OK;
}

/* The inline op that decodes node `ni`, or AV_OP_GENERIC. */
static uint8_t prim_op(const sl_avro_schema *s, uint32_t ni) {
  const av_node *n = &s->nodes[ni];
  if (n->kind == AV_LONG && n->out == SL_TYPE_INT &&
      (n->logical == AV_LT_NONE || n->logical == AV_LT_TS_MILLIS ||
       n->logical == AV_LT_LOCAL_TS_MILLIS))
    return AV_OP_LONG; /* ints keep the generic path for their 32-bit range check */
  if (n->kind == AV_DOUBLE)
    return AV_OP_DOUBLE;
  if (n->kind == AV_STRING && n->out == SL_TYPE_STRING)
    return AV_OP_STRING;
  return AV_OP_GENERIC;
}

/* A union of null and an inline primitive (in a resolved plan: whose writer branches
 * both resolve to such nodes) decodes inline too; see AV_OP_OPT_LONG. */
static void pick_op(const sl_avro_schema *s, av_field *f) {
  const av_node *n = &s->nodes[f->type];
  f->op = prim_op(s, f->type);
  if (n->kind != AV_UNION || n->count != 2)
    return;
  uint32_t b0 = s->branches[n->first], b1 = s->branches[n->first + 1];
  if (b0 == AV_NONE || b1 == AV_NONE)
    return;
  unsigned null_at = s->nodes[b0].kind == AV_NULL ? 0 : s->nodes[b1].kind == AV_NULL ? 1 : 2;
  if (null_at == 2)
    return;
  uint8_t op = prim_op(s, null_at == 0 ? b1 : b0);
  if (op == AV_OP_GENERIC)
    return;
  f->op = (uint8_t)(AV_OP_OPT_LONG + (op - AV_OP_LONG));
  f->opt_null = (uint8_t)null_at;
}

/* The root's flat program (av_flat), when every field of the root decodes inline. */
static int build_flat(sl_avro_schema *s) {
  const av_node *n = &s->nodes[s->root];
  s->flat = NULL;
  if (n->kind != AV_RECORD || n->def_count || n->count != n->nslots)
    return SL_OK;
  const av_field *fs = s->fields + n->first;
  for (uint32_t k = 0; k < n->count; k++)
    if (fs[k].op == AV_OP_GENERIC || fs[k].op == AV_OP_SKIP)
      return SL_OK;
  av_flat *fp = sl_arena_alloc(s->arena, sizeof *fp + (n->count + 1) * sizeof fp->ops[0]);
  if (!fp)
    return SL_ERR_NOMEM;
  fp->nslots = n->nslots;
  fp->cap = n->nslots + SL_RECORD_ROOM;
  fp->bytes = sizeof(sl_record) + fp->cap * sizeof(sl_field);
  for (uint32_t k = 0; k < n->count; k++)
    fp->ops[k] = (av_flat_op){.op = fs[k].op,
                              .opt_null = fs[k].opt_null,
                              .off = fs[k].slot * (uint32_t)sizeof(sl_field),
                              .name = fs[k].name};
  fp->ops[n->count] =
      (av_flat_op){.op = AV_OP_END, .off = n->nslots * (uint32_t)sizeof(sl_field), .name = NULL};
  s->flat = fp;
  return SL_OK;
}

int sl_avro_plan_finish(sl_avro_schema *s) {
  if (compute_minsizes(s) != SL_OK)
    return SL_ERR_NOMEM;
  for (uint32_t i = 0; i < s->field_count; i++)
    if (s->fields[i].op != AV_OP_SKIP)
      pick_op(s, &s->fields[i]);
  return build_flat(s);
}

/* ---- compiling JSON into a plan --------------------------------------- */

typedef struct named {
  sl_name fullname;
  uint32_t node;
} named;

/* Field defaults are parsed after the whole schema is compiled, so a default can
 * reference a record type whose fields were still being compiled when it was seen. */
typedef struct pending_default {
  uint32_t field;
  json_t *value; /* borrowed from the schema document */
} pending_default;

typedef struct compiler {
  sl_avro_schema *s;
  sl_error *err;
  named *names;
  uint32_t name_count, name_cap;
  pending_default *pd;
  uint32_t pd_count, pd_cap;
  uint32_t pending_fields; /* fields of records being compiled, not yet in the plan */
  int depth;
} compiler;

static int compile(compiler *c, json_t *t, const char *ns, uint32_t *out);

static int primitive_kind(const char *name) {
  static const char *const prim[] = {"null",  "boolean", "int",   "long",
                                     "float", "double",  "bytes", "string"};
  for (int i = 0; i < 8; i++)
    if (strcmp(name, prim[i]) == 0)
      return i;
  return -1;
}

static sl_type natural_out(int kind) {
  switch (kind) {
  case AV_NULL: return SL_TYPE_NULL;
  case AV_BOOLEAN: return SL_TYPE_BOOL;
  case AV_INT:
  case AV_LONG: return SL_TYPE_INT;
  case AV_ENUM: return SL_TYPE_STRING; /* the symbol */
  case AV_FLOAT:
  case AV_DOUBLE: return SL_TYPE_DOUBLE;
  case AV_STRING: return SL_TYPE_STRING;
  case AV_BYTES:
  case AV_FIXED: return SL_TYPE_BYTES;
  case AV_RECORD:
  case AV_MAP: return SL_TYPE_RECORD;
  case AV_ARRAY: return SL_TYPE_ARRAY;
  default: return SL_TYPE_NULL; /* unions produce their branch's type */
  }
}

/* Schemas come from the registry too (anyone who can register one), and compiling and
 * resolving them has steps quadratic in the number of types, fields of a record and enum
 * symbols (name lookups, duplicate checks, symbol matching): these bounds keep each step
 * under 10^8 simple operations. Real schemas are far smaller. */
#define MAX_SCHEMA_TYPES 10000
#define MAX_SCHEMA_FIELDS 10000  /* in all records together */
#define MAX_SCHEMA_SYMBOLS 10000 /* in all enums together */

static int too_big(compiler *c, const char *what, uint32_t have, size_t more, uint32_t max) {
  if ((size_t)have + more <= max)
    return SL_OK;
  return sl_error_set(c->err, SL_ERR_LIMIT, "Avro schema has more than %u %s: refused", max,
                      what);
}

static int add_node(compiler *c, int kind, uint32_t *out) {
  av_node n = {0};
  int rc = too_big(c, "types", c->s->node_count, 1, MAX_SCHEMA_TYPES);
  if (rc != SL_OK)
    return rc;
  n.kind = (uint8_t)kind;
  n.out = (uint8_t)natural_out(kind);
  n.enum_default = -1;
  if (sl_avro_plan_add_node(c->s, &n, out) != SL_OK)
    return sl_error_set(c->err, SL_ERR_NOMEM, "out of memory compiling an Avro schema");
  return SL_OK;
}

/* Full name of a named type per the Avro spec: a dotted name is already full. */
static sl_name full_name(const char *name, const char *ns) {
  if (strchr(name, '.') || !ns || !*ns)
    return sl_name_cstr(name);
  char buf[512];
  snprintf(buf, sizeof buf, "%s.%s", ns, name);
  return sl_name_cstr(buf);
}

static int register_name(compiler *c, sl_name fullname, uint32_t node) {
  if (grow((void **)&c->names, &c->name_cap, c->name_count + 1, sizeof *c->names) != SL_OK)
    return sl_error_set(c->err, SL_ERR_NOMEM, "out of memory compiling an Avro schema");
  c->names[c->name_count].fullname = fullname;
  c->names[c->name_count].node = node;
  c->name_count++;
  return SL_OK;
}

static int lookup_name(compiler *c, const char *name, const char *ns, uint32_t *out) {
  sl_name full = full_name(name, ns), bare = sl_name_cstr(name);
  for (uint32_t i = 0; i < c->name_count; i++)
    if (c->names[i].fullname == full || c->names[i].fullname == bare) {
      *out = c->names[i].node;
      return SL_OK;
    }
  return sl_error_set(c->err, SL_ERR_PARSE, "unknown Avro type '%s'", name);
}

static int logical_of(const char *lt, int kind) {
  if (!lt)
    return AV_LT_NONE;
  if (kind == AV_LONG) {
    if (!strcmp(lt, "timestamp-millis"))
      return AV_LT_TS_MILLIS;
    if (!strcmp(lt, "timestamp-micros"))
      return AV_LT_TS_MICROS;
    if (!strcmp(lt, "local-timestamp-millis"))
      return AV_LT_LOCAL_TS_MILLIS;
    if (!strcmp(lt, "local-timestamp-micros"))
      return AV_LT_LOCAL_TS_MICROS;
    if (!strcmp(lt, "time-micros"))
      return AV_LT_TIME_MICROS;
  } else if (kind == AV_INT) {
    if (!strcmp(lt, "date"))
      return AV_LT_DATE;
    if (!strcmp(lt, "time-millis"))
      return AV_LT_TIME_MILLIS;
  } else if (kind == AV_BYTES || kind == AV_FIXED) {
    if (!strcmp(lt, "decimal"))
      return AV_LT_DECIMAL;
  } else if (kind == AV_STRING && !strcmp(lt, "uuid")) {
    return AV_LT_UUID;
  }
  return AV_LT_NONE; /* the spec says: ignore unknown or misplaced logical types */
}

static const char *str_member(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static int compile_union(compiler *c, json_t *t, const char *ns, uint32_t *out) {
  size_t n = json_array_size(t);
  uint32_t idx, first, *br = calloc(n ? n : 1, sizeof *br);
  int rc;
  if (!br)
    return sl_error_set(c->err, SL_ERR_NOMEM, "out of memory compiling an Avro schema");
  if ((rc = add_node(c, AV_UNION, &idx)) != SL_OK)
    goto out;
  for (size_t i = 0; i < n; i++)
    if ((rc = compile(c, json_array_get(t, i), ns, &br[i])) != SL_OK)
      goto out;
  if (sl_avro_plan_add_branches(c->s, br, (uint32_t)n, &first) != SL_OK) {
    rc = sl_error_set(c->err, SL_ERR_NOMEM, "out of memory compiling an Avro schema");
    goto out;
  }
  av_node *u = &c->s->nodes[idx];
  u->first = first;
  u->count = (uint32_t)n;
  for (size_t i = 0; i < n; i++)
    if (c->s->nodes[br[i]].kind == AV_NULL)
      u->nullable = 1;
  *out = idx;
out:
  free(br);
  return rc;
}

static int nomem(compiler *c) {
  return sl_error_set(c->err, SL_ERR_NOMEM, "out of memory compiling an Avro schema");
}

static int compile_enum(compiler *c, json_t *t, sl_name name, uint32_t *out) {
  json_t *syms = json_object_get(t, "symbols");
  size_t n = json_array_size(syms);
  uint32_t idx, first;
  int rc = too_big(c, "enum symbols", c->s->symbol_count, n, MAX_SCHEMA_SYMBOLS);
  if (rc != SL_OK || (rc = add_node(c, AV_ENUM, &idx)) != SL_OK ||
      (rc = register_name(c, name, idx)) != SL_OK)
    return rc;
  sl_value *v = calloc(n ? n : 1, sizeof *v);
  if (!v)
    return nomem(c);
  for (size_t i = 0; i < n; i++) {
    const char *sym = json_string_value(json_array_get(syms, i));
    sl_name in = sl_name_cstr(sym ? sym : "");
    v[i] = in ? sl_value_string(in, strlen(in)) : sl_value_null();
  }
  rc = sl_avro_plan_add_symbols(c->s, v, (uint32_t)n, &first);
  free(v);
  if (rc != SL_OK)
    return nomem(c);
  av_node *e = &c->s->nodes[idx];
  e->first = first;
  e->count = (uint32_t)n;
  e->name = name;
  const char *def = str_member(t, "default");
  for (size_t i = 0; def && i < n; i++)
    if (strcmp(json_string_value(json_array_get(syms, i)), def) == 0)
      e->enum_default = (int32_t)i;
  *out = idx;
  return SL_OK;
}

static int compile_record(compiler *c, json_t *t, sl_name name, uint32_t *out) {
  json_t *fields = json_object_get(t, "fields");
  size_t n = json_array_size(fields);
  uint32_t idx, first;
  int rc = too_big(c, "fields", c->s->field_count + c->pending_fields, n, MAX_SCHEMA_FIELDS);
  if (rc != SL_OK || (rc = add_node(c, AV_RECORD, &idx)) != SL_OK ||
      (rc = register_name(c, name, idx)) != SL_OK)
    return rc;
  c->pending_fields += (uint32_t)n; /* nested records are compiled before this one's fields
                                       are added: count them from here */
  /* Children without a namespace of their own inherit this record's. */
  char ns[512] = "";
  const char *dot = strrchr(name, '.');
  if (dot && (size_t)(dot - name) < sizeof ns)
    memcpy(ns, name, (size_t)(dot - name)), ns[dot - name] = '\0';
  av_field *fs = calloc(n ? n : 1, sizeof *fs);
  if (!fs)
    return nomem(c);
  for (size_t i = 0; i < n; i++) {
    json_t *f = json_array_get(fields, i);
    const char *fname = str_member(f, "name");
    if (!fname) {
      rc = sl_error_set(c->err, SL_ERR_PARSE, "field %zu of record '%s' has no name", i, name);
      goto out;
    }
    fs[i].name = sl_name_cstr(fname);
    fs[i].slot = (uint32_t)i;
    for (size_t k = 0; k < i; k++)
      if (fs[k].name == fs[i].name) {
        rc = sl_error_set(c->err, SL_ERR_PARSE, "record '%s' has two fields named '%s'", name,
                          fname);
        goto out;
      }
    if ((rc = compile(c, json_object_get(f, "type"), ns, &fs[i].type)) != SL_OK)
      goto out;
    json_t *al = json_object_get(f, "aliases");
    if (json_array_size(al)) {
      sl_name *names = sl_arena_alloc(c->s->arena, json_array_size(al) * sizeof *names);
      if (!names) {
        rc = nomem(c);
        goto out;
      }
      for (size_t k = 0; k < json_array_size(al); k++)
        if (json_is_string(json_array_get(al, k)))
          names[fs[i].alias_count++] = sl_name_cstr(json_string_value(json_array_get(al, k)));
      fs[i].aliases = names;
    }
  }
  c->pending_fields -= (uint32_t)n;
  if (sl_avro_plan_add_fields(c->s, fs, (uint32_t)n, &first) != SL_OK) {
    rc = nomem(c);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    json_t *def = json_object_get(json_array_get(fields, i), "default");
    if (!def)
      continue;
    if (grow((void **)&c->pd, &c->pd_cap, c->pd_count + 1, sizeof *c->pd) != SL_OK) {
      rc = nomem(c);
      goto out;
    }
    c->pd[c->pd_count].field = first + (uint32_t)i;
    c->pd[c->pd_count].value = def;
    c->pd_count++;
  }
  av_node *r = &c->s->nodes[idx];
  r->first = first;
  r->count = r->nslots = (uint32_t)n;
  r->name = name;
  *out = idx;
out:
  free(fs);
  return rc;
}

static int compile_object(compiler *c, json_t *t, const char *ns, uint32_t *out);

static int compile(compiler *c, json_t *t, const char *ns, uint32_t *out) {
  if (++c->depth > 128) {
    c->depth--;
    return sl_error_set(c->err, SL_ERR_PARSE, "Avro schema nested deeper than 128 levels");
  }
  int rc;
  if (json_is_string(t)) {
    const char *name = json_string_value(t);
    int k = primitive_kind(name);
    rc = k >= 0 ? add_node(c, k, out) : lookup_name(c, name, ns, out);
  } else if (json_is_array(t)) {
    rc = compile_union(c, t, ns, out);
  } else if (json_is_object(t)) {
    rc = compile_object(c, t, ns, out);
  } else {
    rc = sl_error_set(c->err, SL_ERR_PARSE, "an Avro type must be a string, an array or an object");
  }
  c->depth--;
  return rc;
}

static int compile_object(compiler *c, json_t *t, const char *ns, uint32_t *out) {
  json_t *type = json_object_get(t, "type");
  if (!json_is_string(type))
    return compile(c, type, ns, out); /* {"type": {...}} or {"type": [...]} */
  const char *tn = json_string_value(type);
  int k = primitive_kind(tn), rc;
  if (k >= 0) {
    if ((rc = add_node(c, k, out)) != SL_OK)
      return rc;
    c->s->nodes[*out].logical = (uint8_t)logical_of(str_member(t, "logicalType"), k);
    return SL_OK;
  }
  if (!strcmp(tn, "array") || !strcmp(tn, "map")) {
    int is_array = tn[0] == 'a';
    uint32_t idx, child;
    if ((rc = add_node(c, is_array ? AV_ARRAY : AV_MAP, &idx)) != SL_OK ||
        (rc = compile(c, json_object_get(t, is_array ? "items" : "values"), ns, &child)) != SL_OK)
      return rc;
    c->s->nodes[idx].child = child;
    *out = idx;
    return SL_OK;
  }
  if (!strcmp(tn, "record") || !strcmp(tn, "error") || !strcmp(tn, "enum") ||
      !strcmp(tn, "fixed")) {
    const char *name = str_member(t, "name");
    const char *own_ns = str_member(t, "namespace");
    if (!name)
      return sl_error_set(c->err, SL_ERR_PARSE, "an Avro %s needs a name", tn);
    sl_name full = full_name(name, own_ns ? own_ns : ns);
    if (!full)
      return nomem(c);
    if (tn[0] == 'e' && tn[1] == 'n')
      return compile_enum(c, t, full, out);
    if (tn[0] == 'f') {
      if ((rc = add_node(c, AV_FIXED, out)) != SL_OK ||
          (rc = register_name(c, full, *out)) != SL_OK)
        return rc;
      av_node *n = &c->s->nodes[*out];
      n->size = (uint32_t)json_integer_value(json_object_get(t, "size"));
      n->name = full;
      n->logical = (uint8_t)logical_of(str_member(t, "logicalType"), AV_FIXED);
      return SL_OK;
    }
    return compile_record(c, t, full, out);
  }
  return lookup_name(c, tn, ns, out); /* {"type": "SomeNamedType"} */
}

/* ---- default values ---------------------------------------------------- */

static int default_value(sl_avro_schema *s, uint32_t ni, json_t *j, sl_value *out, int depth);

static int default_record(sl_avro_schema *s, const av_node *n, json_t *j, sl_value *out,
                          int depth) {
  if (!json_is_object(j))
    return SL_ERR_TYPE;
  sl_record *r = sl_record_new(s->arena, n->count);
  if (!r)
    return SL_ERR_NOMEM;
  for (uint32_t i = 0; i < n->count; i++) {
    const av_field *f = &s->fields[n->first + i];
    json_t *fj = json_object_get(j, f->name);
    sl_value v;
    int rc;
    if (fj)
      rc = default_value(s, f->type, fj, &v, depth + 1);
    else if (f->has_default)
      v = f->def, rc = SL_OK;
    else
      rc = SL_ERR_TYPE;
    if (rc != SL_OK)
      return rc;
    if (sl_record_set(r, f->name, v) != SL_OK)
      return SL_ERR_NOMEM;
  }
  *out = sl_value_record(r);
  return SL_OK;
}

/* The JSON default `j` as a value of node `ni` (Avro spec: bytes and fixed defaults are
 * strings whose code points 0-255 are the bytes). SL_ERR_TYPE when it does not fit. */
static int default_value(sl_avro_schema *s, uint32_t ni, json_t *j, sl_value *out, int depth) {
  const av_node *n = &s->nodes[ni];
  if (depth > 64)
    return SL_ERR_TYPE;
  switch (n->kind) {
  case AV_NULL: *out = sl_value_null(); return json_is_null(j) ? SL_OK : SL_ERR_TYPE;
  case AV_BOOLEAN:
    *out = sl_value_bool(json_is_true(j));
    return json_is_boolean(j) ? SL_OK : SL_ERR_TYPE;
  case AV_INT:
  case AV_LONG: {
    if (!json_is_integer(j))
      return SL_ERR_TYPE;
    int64_t v = json_integer_value(j);
    if (n->logical == AV_LT_TS_MICROS || n->logical == AV_LT_LOCAL_TS_MICROS)
      v = v >= 0 ? v / 1000 : -((-(v + 1)) / 1000) - 1; /* floor, like the decoder */
    *out = n->out == SL_TYPE_DOUBLE ? sl_value_double((double)v) : sl_value_int(v);
    return SL_OK;
  }
  case AV_FLOAT:
  case AV_DOUBLE:
    if (!json_is_number(j))
      return SL_ERR_TYPE;
    *out = sl_value_double(json_number_value(j));
    return SL_OK;
  case AV_STRING:
  case AV_BYTES:
  case AV_FIXED:
  case AV_ENUM: {
    if (!json_is_string(j))
      return SL_ERR_TYPE;
    const char *str = json_string_value(j);
    size_t len = json_string_length(j);
    if (n->kind == AV_ENUM) {
      for (uint32_t i = 0; i < n->count; i++)
        if (s->symbols[n->first + i].as.str.len == len &&
            memcmp(s->symbols[n->first + i].as.str.ptr, str, len) == 0) {
          *out = s->symbols[n->first + i];
          return SL_OK;
        }
      return SL_ERR_TYPE;
    }
    char *copy = sl_arena_alloc(s->arena, len + 1);
    if (!copy)
      return SL_ERR_NOMEM;
    if (n->kind == AV_STRING) {
      memcpy(copy, str, len + 1);
      *out = sl_value_string(copy, len);
      return SL_OK;
    }
    size_t k = 0; /* code points U+0000..U+00FF -> bytes */
    for (size_t i = 0; i < len; i++) {
      unsigned char ch = (unsigned char)str[i];
      if (ch < 0x80)
        copy[k++] = (char)ch;
      else if ((ch == 0xC2 || ch == 0xC3) && i + 1 < len)
        copy[k++] = (char)(((ch & 0x1F) << 6) | ((unsigned char)str[++i] & 0x3F));
      else
        return SL_ERR_TYPE;
    }
    if (n->kind == AV_FIXED && k != n->size)
      return SL_ERR_TYPE;
    *out = n->out == SL_TYPE_STRING ? sl_value_string(copy, k) : sl_value_bytes(copy, k);
    return SL_OK;
  }
  case AV_ARRAY: {
    if (!json_is_array(j))
      return SL_ERR_TYPE;
    sl_array *arr = sl_array_new(s->arena, json_array_size(j));
    if (!arr)
      return SL_ERR_NOMEM;
    for (size_t i = 0; i < json_array_size(j); i++) {
      sl_value v;
      int rc = default_value(s, n->child, json_array_get(j, i), &v, depth + 1);
      if (rc != SL_OK)
        return rc;
      if (sl_array_push(arr, v) != SL_OK)
        return SL_ERR_NOMEM;
    }
    *out = sl_value_array(arr);
    return SL_OK;
  }
  case AV_MAP: {
    if (!json_is_object(j))
      return SL_ERR_TYPE;
    sl_record *r = sl_record_new(s->arena, json_object_size(j));
    const char *key;
    json_t *val;
    if (!r)
      return SL_ERR_NOMEM;
    json_object_foreach(j, key, val) {
      sl_value v;
      int rc = default_value(s, n->child, val, &v, depth + 1);
      if (rc != SL_OK)
        return rc;
      if (sl_record_set(r, sl_name_cstr(key), v) != SL_OK)
        return SL_ERR_NOMEM;
    }
    *out = sl_value_record(r);
    return SL_OK;
  }
  case AV_RECORD: return default_record(s, n, j, out, depth);
  case AV_UNION:
    /* The spec says the default matches the first branch; accept any, first match wins. */
    for (uint32_t i = 0; i < n->count; i++)
      if (default_value(s, s->branches[n->first + i], j, out, depth + 1) == SL_OK)
        return SL_OK;
    return SL_ERR_TYPE;
  }
  return SL_ERR_TYPE;
}

/* ---- entry points ------------------------------------------------------ */

static int validate_with_avro_c(const char *json, size_t len, sl_error *err) {
  avro_schema_t schema = NULL;
  if (avro_schema_from_json_length(json, len, &schema) != 0) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", avro_strerror());
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
      msg[--n] = '\0';
    return sl_error_set(err, SL_ERR_PARSE, "invalid Avro schema: %s", msg);
  }
  int is_record = is_avro_record(schema);
  avro_schema_decref(schema);
  if (!is_record)
    return sl_error_set(err, SL_ERR_PARSE, "the top-level Avro schema must be a record");
  return SL_OK;
}

sl_avro_schema *sl_avro_schema_parse(const char *json, size_t len, sl_error *err) {
  if (validate_with_avro_c(json, len, err) != SL_OK)
    return NULL;
  json_error_t jerr;
  json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!doc) {
    sl_error_set(err, SL_ERR_PARSE, "invalid Avro schema JSON at line %d: %s", jerr.line,
                 jerr.text);
    return NULL;
  }
  compiler c = {0};
  c.err = err;
  c.s = sl_avro_plan_new();
  int rc =
      c.s ? compile(&c, doc, "", &c.s->root) : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (rc != SL_OK)
    goto fail;
  if (c.s->nodes[c.s->root].kind != AV_RECORD) {
    rc = sl_error_set(err, SL_ERR_PARSE, "the top-level Avro schema must be a record");
    goto fail;
  }
  for (uint32_t i = 0; i < c.pd_count; i++) {
    av_field *f = &c.s->fields[c.pd[i].field];
    sl_value v;
    rc = default_value(c.s, f->type, c.pd[i].value, &v, 0);
    if (rc == SL_ERR_NOMEM) {
      sl_error_set(err, rc, "out of memory compiling an Avro schema");
      goto fail;
    }
    if (rc != SL_OK) {
      rc = sl_error_set(err, SL_ERR_PARSE, "the default of field '%s' does not match its type %s",
                        f->name, sl_avro_kind_name(c.s->nodes[f->type].kind));
      goto fail;
    }
    f = &c.s->fields[c.pd[i].field];
    f->def = v;
    f->has_default = 1;
  }
  c.s->json = json_dumps(doc, JSON_COMPACT);
  if (!c.s->json) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto fail;
  }
  if (sl_avro_plan_finish(c.s) != SL_OK) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto fail;
  }
  free(c.names);
  free(c.pd);
  json_decref(doc);
  return c.s;
fail:
  free(c.names);
  free(c.pd);
  json_decref(doc);
  sl_avro_schema_free(c.s);
  return NULL;
}

sl_avro_schema *sl_avro_schema_load(const char *path, sl_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    sl_error_set(err, SL_ERR_IO, "cannot open Avro schema '%s': %s", path, strerror(errno));
    return NULL;
  }
  char *text = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 4096;
      char *nt = realloc(text, cap);
      if (!nt) {
        free(text);
        fclose(f);
        sl_error_set(err, SL_ERR_NOMEM, "out of memory reading '%s'", path);
        return NULL;
      }
      text = nt;
    }
    size_t n = fread(text + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(text);
    sl_error_set(err, SL_ERR_IO, "cannot read Avro schema '%s'", path);
    return NULL;
  }
  sl_avro_schema *s = sl_avro_schema_parse(text, len, err);
  free(text);
  if (!s && err) { /* name the file in the message */
    char msg[sizeof err->message];
    memcpy(msg, err->message, sizeof msg);
    sl_error_set(err, err->code, "%s: %s", path, msg);
  }
  return s;
}
