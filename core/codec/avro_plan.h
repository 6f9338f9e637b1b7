/* SPDX-License-Identifier: Apache-2.0 */
/* The compiled form of an Avro schema, shared by the schema compiler, the resolver, the
 * decoder and the encoder (internal).
 *
 * A plan is a few flat tables indexed by uint32_t (never pointers, so tables can grow while
 * they are built and a plan can be copied as a block). A record node owns a contiguous run
 * of field instructions; decoding a record is one loop over that run with the common
 * primitive cases inlined (see avro_decode.c). Field names, type names and enum symbols are
 * interned (process lifetime), so decoded values may borrow them without copying. */
#ifndef SLUICE_AVRO_PLAN_H
#define SLUICE_AVRO_PLAN_H

#include <stdint.h>

#include "codec/avro_codec.h"
#include "sluice/record.h"

typedef enum av_kind {
  AV_NULL,
  AV_BOOLEAN,
  AV_INT,
  AV_LONG,
  AV_FLOAT,
  AV_DOUBLE,
  AV_BYTES,
  AV_STRING,
  AV_RECORD,
  AV_ENUM,
  AV_ARRAY,
  AV_MAP,
  AV_FIXED,
  AV_UNION,
} av_kind;

typedef enum av_logical {
  AV_LT_NONE,
  AV_LT_TS_MILLIS,
  AV_LT_TS_MICROS,
  AV_LT_LOCAL_TS_MILLIS,
  AV_LT_LOCAL_TS_MICROS,
  AV_LT_DATE,
  AV_LT_TIME_MILLIS,
  AV_LT_TIME_MICROS,
  AV_LT_DECIMAL,
  AV_LT_UUID,
} av_logical;

/* Field instruction op codes: the fast, common cases decode inline in the record loop;
 * everything else (unions, nested types, promotions, logical types) goes through the
 * generic node decoder. */
typedef enum av_op {
  AV_OP_LONG,    /* int or long, no logical conversion -> SL_TYPE_INT */
  AV_OP_DOUBLE,  /* double -> SL_TYPE_DOUBLE */
  AV_OP_STRING,  /* string -> SL_TYPE_STRING */
  AV_OP_GENERIC, /* decode node `type` with the generic decoder */
  AV_OP_SKIP,    /* writer-only field (resolved plans): skip node `type` */
  /* A two-branch union of null and one of the primitives above ("optional" fields): the
   * branch byte is read inline, branch `opt_null` gives null, the other one decodes as
   * the op minus AV_OP_OPT_LONG. Any other branch byte goes to the generic decoder. */
  AV_OP_OPT_LONG,
  AV_OP_OPT_DOUBLE,
  AV_OP_OPT_STRING,
  AV_OP_END, /* ends a flat program (av_flat) */
} av_op;

#define AV_NONE UINT32_MAX /* "no node": an unresolvable union branch */

typedef struct av_node {
  uint8_t kind;                  /* av_kind: the wire encoding (the writer's, in a resolved plan) */
  uint8_t logical;               /* av_logical */
  uint8_t out;                   /* sl_type a decode produces (differs from kind after promotion) */
  uint8_t nullable;              /* union with a null branch */
  uint32_t first;                /* record: first field; union: first branch; enum: first symbol */
  uint32_t count;                /* record: field instructions; union: branches; enum: symbols */
  uint32_t nslots;               /* record: fields of the decoded record */
  uint32_t def_first, def_count; /* record: reader-only fields filled from defaults */
  uint32_t child;                /* array: items; map: values */
  uint32_t size;                 /* fixed: byte length */
  uint32_t minsize;              /* fewest wire bytes a datum can take (bounds block counts) */
  int32_t enum_default;          /* enum: index of the default symbol, -1 if none */
  sl_name name;                  /* named types: full name; NULL otherwise */
  /* record: the shape (sl_shape_of) of the records it decodes to, set by the first
   * decode (atomically: plans are shared by threads) and constant after. */
  const struct sl_shape *shape;
} av_node;

typedef struct av_field {
  uint8_t op; /* av_op */
  uint8_t has_default;
  uint8_t opt_null;       /* AV_OP_OPT_*: index of the null branch (0 or 1) */
  uint32_t slot;          /* index of the field in the decoded record */
  uint32_t type;          /* node */
  sl_name name;           /* interned */
  sl_value def;           /* the default (schema arena) when has_default */
  const sl_name *aliases; /* schema arena */
  uint32_t alias_count;
} av_field;

typedef struct av_default {
  uint32_t slot;
  sl_name name;
  sl_value value; /* schema arena: copied into the decode arena when not a scalar */
} av_default;

/* The fast path's program for a flat root record (avro_decode_flat.c): every field an
 * inline op (AV_OP_LONG .. AV_OP_OPT_STRING), one field per slot (no writer-only fields to
 * skip, no reader-only defaults). One entry per field, in wire order, then AV_OP_END. */
typedef struct av_flat_op {
  uint8_t op;       /* av_op */
  uint8_t opt_null; /* AV_OP_OPT_*: index of the null branch */
  uint32_t off;     /* byte offset of the field's slot in the field table; for AV_OP_END the
                       first spare slot, so that storing its name there is harmless */
  sl_name name;
} av_flat_op;

typedef struct av_flat {
  uint32_t nslots;  /* fields of the decoded record */
  uint32_t cap;     /* slots allocated: nslots + SL_RECORD_ROOM */
  size_t bytes;     /* the record and its field table, before its strings */
  av_flat_op ops[]; /* nslots + 1 */
} av_flat;

struct sl_avro_schema {
  av_node *nodes;
  uint32_t node_count, node_cap;
  av_field *fields;
  uint32_t field_count, field_cap;
  uint32_t *branches; /* node per union branch, AV_NONE when unresolvable */
  uint32_t branch_count, branch_cap;
  sl_value *symbols; /* enum symbols as string values (interned text); a NULL value marks
                        a writer symbol the reader does not know */
  uint32_t symbol_count, symbol_cap;
  av_default *defaults;
  uint32_t default_count, default_cap;
  uint32_t root;
  int decode_only;     /* resolved plans read one schema and produce another */
  char *json;          /* malloc'd text returned by sl_avro_schema_json */
  sl_arena *arena;     /* default values, the flat program */
  const av_flat *flat; /* the root's, in `arena`; NULL when the root is not flat */
};

/* Table growth for plan building; return SL_OK or SL_ERR_NOMEM. Indices stay valid. */
int sl_avro_plan_add_node(sl_avro_schema *s, const av_node *n, uint32_t *index);
int sl_avro_plan_add_fields(sl_avro_schema *s, const av_field *f, uint32_t n, uint32_t *first);
int sl_avro_plan_add_branches(sl_avro_schema *s, const uint32_t *b, uint32_t n, uint32_t *first);
int sl_avro_plan_add_symbols(sl_avro_schema *s, const sl_value *v, uint32_t n, uint32_t *first);
int sl_avro_plan_add_defaults(sl_avro_schema *s, const av_default *d, uint32_t n, uint32_t *first);
/* An empty plan with its arena; NULL on OOM. */
sl_avro_schema *sl_avro_plan_new(void);
/* Once every node exists: compute each node's minimum wire size (linear in the plan,
 * recursive schemas included), pick each field's op code (the inline fast cases or
 * AV_OP_GENERIC) and build the flat program of the root (av_flat) when it is flat. SL_OK
 * or SL_ERR_NOMEM. */
int sl_avro_plan_finish(sl_avro_schema *s);
/* The generic decoder (avro_decode.c): any plan, every error message and limit. The fast
 * path of flat records (sl_avro_decode_opts, avro_decode_flat.c) hands it every datum it
 * does not take itself. Same contract as sl_avro_decode_opts. */
int sl_avro_decode_generic(const sl_avro_schema *s, const void *buf, size_t len,
                           sl_decode_opts *opts, sl_arena *a, sl_record **out, sl_error *err);
/* Name of a kind for messages ("long", "record", ...). */
const char *sl_avro_kind_name(int kind);

#endif
