/* SPDX-License-Identifier: Apache-2.0 */
/* Aggregate functions of `aggregate{out = "fn(args)"}` with mergeable
 * partial states. A set of aggregates lays its states out in one contiguous
 * block (sl_agg_set.block_size bytes, 8-aligned) so a window entry holds all
 * of them in a single allocation; sketches and strings are allocated only
 * when a function that needs them sees a value.
 *
 * Value rules (documented in docs/windows.md):
 *  - null, a missing field and NaN are ignored by every function but
 *    count(); count(f) gives 0 when nothing was counted, every other
 *    function gives null when it saw no value (stddev needs two).
 *  - sum/avg/stddev/stddev_pop/percentiles take int or double; any other
 *    type fails the record (sl_agg_check), which the caller dead-letters.
 *  - min/max take numbers and strings (numbers order before strings);
 *    first/last/distinct take any scalar (not records or arrays).
 *  - percentiles ignore +/-Inf (a sketch cannot bucket them).
 */
#ifndef SLUICE_AGGREGATE_H
#define SLUICE_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sluice/record.h"

typedef enum sl_agg_fn {
  SL_AGG_COUNT_ALL, /* count() */
  SL_AGG_COUNT,     /* count(f) */
  SL_AGG_SUM,
  SL_AGG_MIN,
  SL_AGG_MAX,
  SL_AGG_AVG,
  SL_AGG_FIRST,
  SL_AGG_LAST,
  SL_AGG_STDDEV,
  SL_AGG_STDDEV_POP,
  SL_AGG_PERCENTILE, /* p50 p90 p95 p99 percentile(f, q) */
  SL_AGG_DISTINCT,
} sl_agg_fn;

typedef struct sl_agg_def {
  sl_name out;      /* output field */
  sl_agg_fn fn;
  sl_name *path;    /* malloc'd dotted path of the argument; NULL for count() */
  size_t path_len;
  double q;         /* SL_AGG_PERCENTILE: rank in [0, 1] */
  uint32_t offset;  /* of this function's state in the block */
  int32_t arg;      /* index in sl_agg_set.args; -1 for count() */
} sl_agg_def;

/* One distinct argument field of a set (aggregate_state.h). */
typedef struct sl_agg_arg sl_agg_arg;

/* A function as sl_agg_update_checked runs it: no parsing leftovers, 8 bytes. */
typedef struct sl_agg_op {
  uint32_t offset; /* of its state in the block */
  uint32_t fn;     /* sl_agg_fn */
} sl_agg_op;

typedef struct sl_agg_set {
  sl_agg_def *defs; /* malloc'd, in the order added */
  size_t count;
  size_t block_size; /* bytes of one state block, multiple of 8 */
  /* Per-record argument cache: sl_agg_check looks every distinct field up
   * once (avg/max/p95 of one field cost one lookup) and
   * sl_agg_update_checked uses the values for each window the record joins.
   * malloc'd, nargs long; values valid until the next sl_agg_check. */
  sl_agg_arg *args;
  size_t nargs;
  /* The functions in update order: the ncount_all count() first, then those
   * of args[0] (args[0].nops of them), of args[1]... so a value is checked
   * once per field, not per function. malloc'd, `count` long. */
  sl_agg_op *ops;
  size_t ncount_all;
} sl_agg_set;

#define SL_AGG_SET_INIT {NULL, 0, 0, NULL, 0, NULL, 0}

/* Parse `spec` ("avg(temperature)", "percentile(latency, 0.999)") and
 * append it as output `out`. SL_ERR_INVALID with a message naming the
 * problem (unknown function with a suggestion, arity, bad q). */
int sl_agg_set_add(sl_agg_set *s, const char *out, const char *spec, sl_error *err);
void sl_agg_set_free(sl_agg_set *s);

/* Initialise a block of s->block_size bytes to "nothing seen". */
void sl_agg_init(const sl_agg_set *s, void *block);
/* Free what the block owns (strings, sketches); the block itself is the caller's. */
void sl_agg_release(const sl_agg_set *s, void *block);
/* SL_OK when every argument of `r` has a usable type, else SL_ERR_TYPE
 * with a message such as "sum(temperature): expected a number, got string". */
int sl_agg_check(const sl_agg_set *s, const sl_record *r, sl_error *err);
/* Add a record (already checked) with event time t and arrival number seq
 * (increasing; breaks first/last ties). SL_OK or SL_ERR_NOMEM. */
int sl_agg_update(const sl_agg_set *s, void *block, const sl_record *r, int64_t t, uint64_t seq);
/* Like sl_agg_update for the record last passed to sl_agg_check, using the
 * arguments it looked up (no field lookups). */
int sl_agg_update_checked(const sl_agg_set *s, void *block, int64_t t, uint64_t seq);
/* dst := dst + src; src is unchanged. */
int sl_agg_merge(const sl_agg_set *s, void *dst, const void *src);
/* Set every output field of the set on `out`; strings are copied into `a`. */
int sl_agg_result(const sl_agg_set *s, const void *block, sl_arena *a, sl_record *out);
/* Compact binary form of a block (varints), and back into an initialised
 * block (whose previous contents are released). Deserialise returns
 * SL_ERR_PARSE on malformed bytes and leaves the block empty. */
int sl_agg_serialize(const sl_agg_set *s, const void *block, sl_buf *out);
int sl_agg_deserialize(const sl_agg_set *s, void *block, const void *data, size_t len);

#endif
