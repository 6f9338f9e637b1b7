/* SPDX-License-Identifier: Apache-2.0 */
/* Avro schema resolution: a decode plan that reads data written with one schema into the
 * shape of another (Avro specification, "Schema Resolution").
 *
 * The resolved plan starts as a copy of the writer's tables, so every writer node keeps
 * its index and writer-only fields can be skipped with the writer's own nodes. Resolved
 * nodes are appended after them: their wire kind is the writer's, their output type and
 * field slots are the reader's. Record pairs are memoized before their fields are
 * resolved, which makes recursive schemas terminate. */
#include <stdlib.h>
#include <string.h>

#include "base/record_internal.h"
#include "codec/avro_plan.h"

typedef struct memo {
  uint32_t w, r, node;
} memo;

typedef struct resolver {
  const sl_avro_schema *w, *r;
  sl_avro_schema *out;
  sl_error *err;
  memo *memo;
  size_t memo_count, memo_cap;
  sl_name field; /* reader field being resolved, for messages */
  int depth;
} resolver;

static int resolve(resolver *c, uint32_t wn, uint32_t rn, uint32_t *out);

static int nomem(resolver *c) {
  return sl_error_set(c->err, SL_ERR_NOMEM, "out of memory resolving Avro schemas");
}

static const char *short_name(sl_name full) {
  const char *dot = full ? strrchr(full, '.') : NULL;
  return dot ? dot + 1 : full ? full : "";
}

static int same_name(const av_node *w, const av_node *r) {
  return w->name == r->name || strcmp(short_name(w->name), short_name(r->name)) == 0;
}

/* Can writer node `wn` be read as reader node `rn`? `exact` demands the same kind (the
 * first pass when choosing a reader union branch); otherwise promotions count too. */
static int matches(const resolver *c, uint32_t wn, uint32_t rn, int exact) {
  const av_node *w = &c->w->nodes[wn], *r = &c->r->nodes[rn];
  if (w->kind == AV_UNION)
    return 1; /* resolved branch by branch */
  if (w->kind == r->kind) {
    if (w->kind == AV_RECORD || w->kind == AV_ENUM)
      return same_name(w, r);
    if (w->kind == AV_FIXED)
      return same_name(w, r) && w->size == r->size;
    return 1;
  }
  if (exact)
    return 0;
  switch (w->kind) {
  case AV_INT: return r->kind == AV_LONG || r->kind == AV_FLOAT || r->kind == AV_DOUBLE;
  case AV_LONG: return r->kind == AV_FLOAT || r->kind == AV_DOUBLE;
  case AV_FLOAT: return r->kind == AV_DOUBLE;
  case AV_STRING: return r->kind == AV_BYTES;
  case AV_BYTES: return r->kind == AV_STRING;
  default: return 0;
  }
}

static int first_branch(const resolver *c, uint32_t wn, const av_node *ru, uint32_t *out) {
  for (int exact = 1; exact >= 0; exact--)
    for (uint32_t i = 0; i < ru->count; i++)
      if (matches(c, wn, c->r->branches[ru->first + i], exact)) {
        *out = c->r->branches[ru->first + i];
        return 1;
      }
  return 0;
}

static int add(resolver *c, const av_node *n, uint32_t *out) {
  return sl_avro_plan_add_node(c->out, n, out) == SL_OK ? SL_OK : nomem(c);
}

static int incompatible(resolver *c, uint32_t wn, uint32_t rn) {
  return sl_error_set(
      c->err, SL_ERR_TYPE, "field '%s': data written as Avro %s cannot be read as %s", c->field,
      sl_avro_kind_name(c->w->nodes[wn].kind), sl_avro_kind_name(c->r->nodes[rn].kind));
}

static int resolve_union(resolver *c, uint32_t wn, uint32_t rn, uint32_t *out) {
  const av_node *w = &c->w->nodes[wn], *r = &c->r->nodes[rn];
  uint32_t n = w->count, first, idx, found = 0;
  uint32_t *br = malloc((n ? n : 1) * sizeof *br);
  int rc = SL_OK;
  if (!br)
    return nomem(c);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t wb = c->w->branches[w->first + i], rb = rn;
    br[i] = AV_NONE; /* decoding this branch fails with a clear message */
    if (r->kind == AV_UNION ? !first_branch(c, wb, r, &rb) : !matches(c, wb, rn, 0))
      continue;
    if ((rc = resolve(c, wb, rb, &br[i])) != SL_OK)
      goto out;
    found++;
  }
  if (!found) {
    rc = sl_error_set(c->err, SL_ERR_TYPE,
                      "field '%s': no branch of the writer's union can be read as %s", c->field,
                      sl_avro_kind_name(r->kind));
    goto out;
  }
  av_node u = c->w->nodes[wn];
  if (sl_avro_plan_add_branches(c->out, br, n, &first) != SL_OK) {
    rc = nomem(c);
    goto out;
  }
  u.first = first;
  if ((rc = add(c, &u, &idx)) == SL_OK)
    *out = idx;
out:
  free(br);
  return rc;
}

static int resolve_enum(resolver *c, uint32_t wn, uint32_t rn, uint32_t *out) {
  const av_node *w = &c->w->nodes[wn], *r = &c->r->nodes[rn];
  sl_value *syms = malloc((w->count ? w->count : 1) * sizeof *syms);
  uint32_t first, idx;
  if (!syms)
    return nomem(c);
  for (uint32_t i = 0; i < w->count; i++) {
    const sl_value *ws = &c->w->symbols[w->first + i];
    syms[i] = sl_value_null(); /* unknown to the reader: an error if it ever shows up */
    for (uint32_t k = 0; k < r->count; k++) {
      const sl_value *rs = &c->r->symbols[r->first + k];
      if (rs->as.str.ptr == ws->as.str.ptr) { /* interned */
        syms[i] = *rs;
        break;
      }
    }
    if (syms[i].type == SL_TYPE_NULL && r->enum_default >= 0)
      syms[i] = c->r->symbols[r->first + (uint32_t)r->enum_default];
  }
  int rc = sl_avro_plan_add_symbols(c->out, syms, w->count, &first);
  free(syms);
  if (rc != SL_OK)
    return nomem(c);
  av_node e = *w;
  e.first = first;
  e.name = r->name;
  if ((rc = add(c, &e, &idx)) == SL_OK)
    *out = idx;
  return rc;
}

static const av_field *reader_field_for(const resolver *c, const av_node *r, const av_field *wf) {
  for (uint32_t k = 0; k < r->count; k++)
    if (c->r->fields[r->first + k].name == wf->name)
      return &c->r->fields[r->first + k];
  for (uint32_t k = 0; k < r->count; k++) {
    const av_field *rf = &c->r->fields[r->first + k];
    for (uint32_t a = 0; a < rf->alias_count; a++)
      if (rf->aliases[a] == wf->name)
        return rf;
  }
  return NULL;
}

static int resolve_record(resolver *c, uint32_t wn, uint32_t rn, uint32_t *out) {
  const av_node *w = &c->w->nodes[wn], *r = &c->r->nodes[rn];
  uint32_t idx, nw = w->count, nr = r->count, first, def_first;
  av_node rec = {0};
  rec.kind = AV_RECORD;
  rec.out = SL_TYPE_RECORD;
  rec.enum_default = -1;
  rec.name = r->name;
  rec.nslots = nr;
  int rc = add(c, &rec, &idx);
  if (rc != SL_OK)
    return rc;
  if (c->memo_count == c->memo_cap) {
    size_t ncap = c->memo_cap ? c->memo_cap * 2 : 16;
    memo *nm = realloc(c->memo, ncap * sizeof *nm);
    if (!nm)
      return nomem(c);
    c->memo = nm;
    c->memo_cap = ncap;
  }
  c->memo[c->memo_count++] = (memo){wn, rn, idx};

  av_field *fs = calloc(nw ? nw : 1, sizeof *fs);
  av_default *defs = calloc(nr ? nr : 1, sizeof *defs);
  char *used = calloc(nr ? nr : 1, 1);
  uint32_t ndefs = 0;
  if (!fs || !defs || !used) {
    rc = nomem(c);
    goto out;
  }
  for (uint32_t i = 0; i < nw; i++) {
    const av_field *wf = &c->w->fields[w->first + i];
    const av_field *rf = reader_field_for(c, r, wf);
    fs[i].name = rf ? rf->name : wf->name;
    if (!rf || used[rf - (c->r->fields + r->first)]) {
      fs[i].op = AV_OP_SKIP;
      fs[i].type = wf->type; /* a writer node: same index in the output */
      continue;
    }
    used[rf - (c->r->fields + r->first)] = 1;
    fs[i].slot = (uint32_t)(rf - (c->r->fields + r->first));
    c->field = rf->name;
    if ((rc = resolve(c, wf->type, rf->type, &fs[i].type)) != SL_OK)
      goto out;
  }
  for (uint32_t k = 0; k < nr; k++) {
    const av_field *rf = &c->r->fields[r->first + k];
    if (used[k])
      continue;
    if (!rf->has_default) {
      rc = sl_error_set(
          c->err, SL_ERR_TYPE,
          "reader field '%s' of record '%s' is missing from the writer schema and has no default",
          rf->name, r->name);
      goto out;
    }
    defs[ndefs].slot = k;
    defs[ndefs].name = rf->name;
    if (sl_value_copy(c->out->arena, &rf->def, &defs[ndefs].value) != SL_OK) {
      rc = nomem(c);
      goto out;
    }
    ndefs++;
  }
  if (sl_avro_plan_add_fields(c->out, fs, nw, &first) != SL_OK ||
      sl_avro_plan_add_defaults(c->out, defs, ndefs, &def_first) != SL_OK) {
    rc = nomem(c);
    goto out;
  }
  av_node *n = &c->out->nodes[idx];
  n->first = first;
  n->count = nw;
  n->def_first = def_first;
  n->def_count = ndefs;
  *out = idx;
out:
  free(fs);
  free(defs);
  free(used);
  return rc;
}

static int resolve(resolver *c, uint32_t wn, uint32_t rn, uint32_t *out) {
  const av_node *w = &c->w->nodes[wn], *r = &c->r->nodes[rn];
  int rc;
  for (size_t i = 0; i < c->memo_count; i++)
    if (c->memo[i].w == wn && c->memo[i].r == rn) {
      *out = c->memo[i].node;
      return SL_OK;
    }
  if (++c->depth > 128) {
    c->depth--;
    return sl_error_set(c->err, SL_ERR_TYPE, "Avro schemas nested too deeply to resolve");
  }
  if (w->kind == AV_UNION) {
    rc = resolve_union(c, wn, rn, out);
  } else if (r->kind == AV_UNION) {
    uint32_t rb;
    rc = first_branch(c, wn, r, &rb)
             ? resolve(c, wn, rb, out)
             : sl_error_set(
                   c->err, SL_ERR_TYPE,
                   "field '%s': data written as Avro %s matches no branch of the reader's union",
                   c->field, sl_avro_kind_name(w->kind));
  } else if (!matches(c, wn, rn, 0) && !(w->kind == AV_RECORD && r->kind == AV_RECORD)) {
    rc = incompatible(c, wn, rn);
  } else {
    switch (w->kind) {
    case AV_RECORD: rc = resolve_record(c, wn, rn, out); break;
    case AV_ENUM: rc = resolve_enum(c, wn, rn, out); break;
    case AV_ARRAY:
    case AV_MAP: {
      av_node n = *w;
      if ((rc = resolve(c, w->child, r->child, &n.child)) == SL_OK)
        rc = add(c, &n, out);
      break;
    }
    default: {
      /* Primitives and fixed: the writer's wire kind, the reader's output type. The
       * writer's logical type decides the time unit; a plain writer long read as a
       * reader timestamp takes the reader's. */
      av_node n = *w;
      n.out = r->out;
      if (r->kind == AV_FLOAT || r->kind == AV_DOUBLE)
        n.logical = AV_LT_NONE;
      else if (n.logical == AV_LT_NONE)
        n.logical = r->logical;
      rc = add(c, &n, out);
    }
    }
  }
  c->depth--;
  return rc;
}

sl_avro_schema *sl_avro_schema_resolve(const sl_avro_schema *writer, const sl_avro_schema *reader,
                                       sl_error *err) {
  if (writer->decode_only || reader->decode_only) {
    sl_error_set(err, SL_ERR_INVALID, "cannot resolve against an already resolved Avro plan");
    return NULL;
  }
  resolver c = {writer, reader, sl_avro_plan_new(), err, NULL, 0, 0, "", 0};
  sl_avro_schema *s = c.out;
  uint32_t first;
  if (!s)
    goto fail_nomem;
  /* Writer tables first, same indices, so SKIP instructions can use writer nodes. The
   * copied fields' defaults are dropped: they point into the writer's arena. */
  if (sl_avro_plan_add_fields(s, writer->fields, writer->field_count, &first) != SL_OK ||
      sl_avro_plan_add_branches(s, writer->branches, writer->branch_count, &first) != SL_OK ||
      sl_avro_plan_add_symbols(s, writer->symbols, writer->symbol_count, &first) != SL_OK)
    goto fail_nomem;
  for (uint32_t i = 0; i < writer->node_count; i++)
    if (sl_avro_plan_add_node(s, &writer->nodes[i], &first) != SL_OK)
      goto fail_nomem;
  for (uint32_t i = 0; i < s->field_count; i++) {
    s->fields[i].has_default = 0;
    s->fields[i].def = sl_value_null();
    s->fields[i].aliases = NULL;
    s->fields[i].alias_count = 0;
  }
  if (resolve(&c, writer->root, reader->root, &s->root) != SL_OK)
    goto fail;
  s->decode_only = 1;
  s->json = strdup(reader->json);
  if (!s->json)
    goto fail_nomem;
  if (sl_avro_plan_finish(s) != SL_OK)
    goto fail_nomem;
  free(c.memo);
  return s;
fail_nomem:
  nomem(&c);
fail:
  free(c.memo);
  sl_avro_schema_free(s);
  return NULL;
}
