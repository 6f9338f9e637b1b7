/* SPDX-License-Identifier: Apache-2.0 */
/* Layout of records and batches, shared by core files only (never installed). */
#ifndef SLUICE_RECORD_INTERNAL_H
#define SLUICE_RECORD_INTERNAL_H

#include "sluice/record.h"

typedef struct sl_field {
  sl_name name;
  sl_value value;
} sl_field;

typedef struct sl_header {
  const char *name; /* arena */
  const void *value;
  size_t len;
} sl_header;

struct sl_record {
  sl_arena *arena;      /* where this record's tables grow */
  sl_field *fields;     /* arena */
  uint32_t count, cap;
  /* The record's list of names (in order), interned (sl_shape_of), or NULL when not
   * known: set by the Avro decoder and the table store, cleared by every change of
   * the names. Two records of one shape have the same names: enrich proves with one
   * compare that the names it adds are new, and finds an entry's fields by position.
   * Next to `fields` and `count`: enrich reads all three, from one cache line. */
  const struct sl_shape *shape;
  int32_t source_id;
  int32_t partition;
  int64_t offset;
  int64_t timestamp;
  const char *source_name; /* borrowed, lives as long as the source */
  const void *key;
  size_t key_len;
  const void *raw;
  size_t raw_len;
  sl_header *headers; /* arena */
  uint32_t header_count, header_cap;
};

struct sl_array {
  sl_arena *arena;
  sl_value *items;
  size_t len, cap;
};

struct sl_batch {
  sl_arena *arena;    /* shared by all records of the traversal */
  sl_record **records; /* malloc'd, owned by the batch */
  size_t count, cap;
};

/* Filling a record from untrusted input (JSON objects, Avro maps): a repeated name replaces
 * the earlier value (the last one wins), found in constant time. sl_record_set scans every
 * field, which made one object of 125,000 keys cost 15 s; up to SL_FIELD_INDEX_FROM fields
 * that scan is still the cheapest, past it an open-addressing index of field numbers by name
 * pointer (names are interned) is built in the record's arena. Zero-initialise one per record. */
#define SL_FIELD_INDEX_FROM 16
typedef struct sl_field_index {
  uint32_t *slots; /* arena; field number + 1, 0 for empty */
  uint32_t mask;   /* slots - 1 (a power of two minus one) */
} sl_field_index;
int sl_record_put_indexed(sl_record *r, sl_field_index *ix, sl_name name, sl_value v);
static inline int sl_record_put_unique(sl_record *r, sl_field_index *ix, sl_name name,
                                       sl_value v) {
  if (r->count < SL_FIELD_INDEX_FROM && !ix->slots) /* inline: the common, small records */
    return sl_record_set(r, name, v);
  return sl_record_put_indexed(r, ix, name, v);
}

/* Spare field slots a decoder gives each top-level record, so that operators owning it
 * (enrich) add fields without growing its table. */
#define SL_RECORD_ROOM 4
/* Start `r` (fresh memory) as a record of fields [fields, fields + count), room for `cap`,
 * in arena `a`, that carries the metadata of `meta` (key, position, timestamp, headers, raw
 * bytes, all borrowed: `meta` is the record a source read, in the same batch), or none when
 * `meta` is NULL (as sl_record_new). The header table is shared, so header_cap is cut to
 * header_count: adding a header to `r` copies the table before writing. What a decoder does
 * with one struct copy, where a setter per member and a new header table cost ~100
 * instructions per record. */
static inline void sl_record_init_meta(sl_record *r, const sl_record *meta, sl_arena *a,
                                       sl_field *fields, uint32_t count, uint32_t cap) {
  if (meta) {
    *r = *meta;
    r->header_cap = r->header_count;
  } else {
    *r = (sl_record){.source_id = -1, .partition = -1, .offset = -1};
  }
  r->arena = a;
  r->fields = fields;
  r->count = count;
  r->cap = cap;
  r->shape = NULL;
}
/* The same on a decoded record `r`, keeping its fields and shape. */
static inline void sl_record_take_meta(sl_record *r, const sl_record *meta) {
  sl_record body = *r;
  sl_record_init_meta(r, meta, body.arena, body.fields, body.count, body.cap);
  r->shape = body.shape;
}

/* Spare field slots of a copy (sl_record_copy): enrich below a fork adds its fields there. */
#define SL_RECORD_COPY_ROOM 4
/* Is none of names[0..n) a field of `r`? One pass over the record's names, a few pointer
 * compares each. */
int sl_record_names_absent(const sl_record *r, const sl_name *names, size_t n);
/* A copy of `r` in `a` (metadata included) with field names[i] set to values[i] (replacing
 * a field of the same name; the names must be distinct), in one allocation: what enrich
 * does per record, where a copy followed by sl_record_set per field cost three times as
 * much. Values are borrowed. `known_new`: the caller knows none of the names is in `r`
 * (sl_record_names_absent, or a cheaper proof of its own); 0: checked here. */
sl_record *sl_record_extend(sl_arena *a, const sl_record *r, const sl_name *names,
                            const sl_value *values, size_t n, int known_new);
/* The same on `r` itself, growing its field table in r->arena: for an operator that owns
 * its input (no other branch of the graph sees `r`, sl_host_input_exclusive). SL_OK, or
 * SL_ERR_NOMEM with `r` unchanged. */
int sl_record_extend_in_place(sl_record *r, const sl_name *names, const sl_value *values,
                              size_t n, int known_new);

/* The interned shape of `r`'s names (valid for the process), or NULL past SL_SHAPE_MAX
 * fields, past SL_SHAPES_MAX distinct shapes (names from data must not grow memory
 * without bound) or on OOM: no shape only means no shortcut. Takes a lock: call it once
 * per schema or per table entry, never per record. */
#define SL_SHAPE_MAX 64
#define SL_SHAPES_MAX 4096
const struct sl_shape *sl_shape_of(const sl_record *r);

/* Batches are engine-owned; these are for the runtime and test harnesses. */
void sl_batch_init(sl_batch *b, sl_arena *arena);
int sl_batch_push(sl_batch *b, sl_record *r);
int sl_batch_push_all(sl_batch *b, sl_record *const *rs, size_t n); /* one growth, one copy */
void sl_batch_clear(sl_batch *b); /* forget records, keep capacity */
void sl_batch_release(sl_batch *b); /* free the record table */

#endif
