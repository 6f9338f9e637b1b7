/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file record.h
 * @brief Records, values, arenas and batches: the data every operator sees.
 *
 * Ownership rules (read these once, they hold everywhere):
 *  - An sl_arena owns every byte allocated from it. Nothing allocated from an
 *    arena is freed individually; sl_arena_reset() frees it all at once.
 *  - The engine pushes each source batch through the whole graph with one
 *    arena. Records, strings and arrays created while processing that batch
 *    live in that arena and die when the engine resets it after the batch has
 *    reached every sink. An operator that must keep data longer (window
 *    state, an alert's triggering record) copies it into memory it owns.
 *  - sl_value is a small tagged value passed by value. Its string, bytes,
 *    record and array members are *borrowed* pointers into some arena.
 *  - Field names are interned sl_name pointers: equal names are equal
 *    pointers, so lookups compare pointers. Interned names live for the
 *    whole process.
 *  - Records are shared between branches of the graph by pointer. An
 *    operator never mutates a record it received: sl_record_copy() first.
 *
 * sl_value is deliberately a public struct (STYLE.md prefers opaque types):
 * reading a field is the innermost loop of every operator, and a call per
 * value access would cost more than the work done with the value.
 */
#ifndef SLUICE_RECORD_H
#define SLUICE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- arenas ------------------------------------------------------------ */

typedef struct sl_arena sl_arena;

/** New arena whose chunks are at least `chunk_size` bytes (0: 64 KiB). NULL on OOM. */
SL_API sl_arena *sl_arena_new(size_t chunk_size);
/** Free the arena and everything allocated from it. NULL is a no-op. */
SL_API void sl_arena_destroy(sl_arena *a);
/** Forget every allocation but keep the first chunk for reuse. */
SL_API void sl_arena_reset(sl_arena *a);
/** `size` bytes aligned for any type, uninitialised. NULL on OOM. */
SL_API void *sl_arena_alloc(sl_arena *a, size_t size);
/** Like sl_arena_alloc but zeroed. */
SL_API void *sl_arena_calloc(sl_arena *a, size_t n, size_t size);
/** NUL-terminated copy of `len` bytes of `s` in the arena. */
SL_API char *sl_arena_strndup(sl_arena *a, const char *s, size_t len);
/** Bytes currently allocated from the arena (for metrics and tests). */
SL_API size_t sl_arena_used(const sl_arena *a);

/* ---- names ------------------------------------------------------------- */

/** An interned field name: compare with ==. Valid for the process lifetime. */
typedef const char *sl_name;

/** Intern `len` bytes of `s`. NULL only on OOM. Thread-safe. */
SL_API sl_name sl_name_intern(const char *s, size_t len);
/** Intern a NUL-terminated string. */
SL_API sl_name sl_name_cstr(const char *s);

/* ---- values ------------------------------------------------------------ */

typedef struct sl_record sl_record;
typedef struct sl_array sl_array;

typedef enum sl_type {
  SL_TYPE_NULL = 0,
  SL_TYPE_BOOL,
  SL_TYPE_INT,    /**< int64_t */
  SL_TYPE_DOUBLE, /**< IEEE double */
  SL_TYPE_STRING, /**< UTF-8, `len` bytes, NUL-terminated when made by sluice */
  SL_TYPE_BYTES,  /**< arbitrary bytes */
  SL_TYPE_RECORD, /**< a nested record */
  SL_TYPE_ARRAY,  /**< an array of values */
} sl_type;

typedef struct sl_value {
  sl_type type;
  union {
    int b;       /**< SL_TYPE_BOOL: 0 or 1 */
    int64_t i;   /**< SL_TYPE_INT */
    double d;    /**< SL_TYPE_DOUBLE */
    struct {
      const char *ptr; /**< borrowed */
      size_t len;
    } str;       /**< SL_TYPE_STRING and SL_TYPE_BYTES */
    sl_record *rec; /**< SL_TYPE_RECORD, borrowed */
    sl_array *arr;  /**< SL_TYPE_ARRAY, borrowed */
  } as;
} sl_value;

/** Name of a type ("null", "bool", "int", ...). */
SL_API const char *sl_type_name(sl_type t);

static inline sl_value sl_value_null(void) { sl_value v; v.type = SL_TYPE_NULL; v.as.i = 0; return v; }
static inline sl_value sl_value_bool(int b) { sl_value v; v.type = SL_TYPE_BOOL; v.as.b = b != 0; return v; }
static inline sl_value sl_value_int(int64_t i) { sl_value v; v.type = SL_TYPE_INT; v.as.i = i; return v; }
static inline sl_value sl_value_double(double d) { sl_value v; v.type = SL_TYPE_DOUBLE; v.as.d = d; return v; }
/** A string value borrowing `s` (not copied). */
static inline sl_value sl_value_string(const char *s, size_t len) {
  sl_value v; v.type = SL_TYPE_STRING; v.as.str.ptr = s; v.as.str.len = len; return v;
}
static inline sl_value sl_value_bytes(const void *p, size_t len) {
  sl_value v; v.type = SL_TYPE_BYTES; v.as.str.ptr = (const char *)p; v.as.str.len = len; return v;
}
static inline sl_value sl_value_record(sl_record *r) { sl_value v; v.type = SL_TYPE_RECORD; v.as.rec = r; return v; }
static inline sl_value sl_value_array(sl_array *a) { sl_value v; v.type = SL_TYPE_ARRAY; v.as.arr = a; return v; }

/** Deep copy of `v` whose strings, bytes, records and arrays live in `a`. */
SL_API int sl_value_copy(sl_arena *a, const sl_value *v, sl_value *out);

/* ---- records ----------------------------------------------------------- */

/** An empty record in arena `a`, room for `capacity` fields before it grows. */
SL_API sl_record *sl_record_new(sl_arena *a, size_t capacity);
/** Shallow copy (field table copied, values still borrowed) including metadata. */
SL_API sl_record *sl_record_copy(sl_arena *a, const sl_record *r);
/** Deep copy: every string, nested record and array copied into `a`. */
SL_API sl_record *sl_record_clone(sl_arena *a, const sl_record *r);

/** Add or replace field `name`. The value's pointers are borrowed. */
SL_API int sl_record_set(sl_record *r, sl_name name, sl_value v);
/** The field's value, or NULL when absent. Borrowed from the record. */
SL_API const sl_value *sl_record_get(const sl_record *r, sl_name name);
/** Convenience lookup by C string (interns the name; avoid on hot paths). */
SL_API const sl_value *sl_record_get_cstr(const sl_record *r, const char *name);
/** Follow a dotted path of pre-interned names through nested records. */
SL_API const sl_value *sl_record_get_path(const sl_record *r, const sl_name *path, size_t n);
/** sl_record_get_path for a caller that looks one path up in many records:
 * `hints` (caller-owned, `n` entries, zeroed before the first call) remember
 * where each name was found, so records whose fields come in the same order
 * cost one compare per path element. Any order still gives the right answer. */
SL_API const sl_value *sl_record_get_path_hinted(const sl_record *r, const sl_name *path, size_t n,
                                                 uint32_t *hints);
/** Remove a field; returns 1 if it was there. */
SL_API int sl_record_remove(sl_record *r, sl_name name);

SL_API size_t sl_record_count(const sl_record *r);
SL_API sl_name sl_record_name_at(const sl_record *r, size_t i);
SL_API const sl_value *sl_record_value_at(const sl_record *r, size_t i);
SL_API sl_arena *sl_record_arena(const sl_record *r);

/* Source metadata. Strings and bytes are borrowed from an arena. */
SL_API int64_t sl_record_timestamp(const sl_record *r); /**< ms since epoch; event time of results */
SL_API void sl_record_set_timestamp(sl_record *r, int64_t ms);
SL_API int32_t sl_record_partition(const sl_record *r); /**< source partition, -1 if none */
SL_API int64_t sl_record_offset(const sl_record *r);    /**< Kafka offset, or line number in a file */
SL_API int32_t sl_record_source_id(const sl_record *r); /**< index of the source in the pipeline */
SL_API const char *sl_record_source_name(const sl_record *r); /**< topic or path, NULL if none */
SL_API void sl_record_set_position(sl_record *r, int32_t source_id, const char *source_name,
                                   int32_t partition, int64_t offset);
/** The record's key bytes (Kafka key); NULL with *len = 0 when none. */
SL_API const void *sl_record_key(const sl_record *r, size_t *len);
SL_API void sl_record_set_key(sl_record *r, const void *key, size_t len);
/** The original encoded bytes the record was decoded from (for dead letters). */
SL_API const void *sl_record_raw(const sl_record *r, size_t *len);
SL_API void sl_record_set_raw(sl_record *r, const void *raw, size_t len);
/** Headers: name/value pairs in arrival order. */
SL_API int sl_record_header_add(sl_record *r, const char *name, const void *value, size_t len);
SL_API size_t sl_record_header_count(const sl_record *r);
SL_API const char *sl_record_header_at(const sl_record *r, size_t i, const void **value, size_t *len);

/* ---- arrays ------------------------------------------------------------ */

SL_API sl_array *sl_array_new(sl_arena *a, size_t capacity);
SL_API int sl_array_push(sl_array *arr, sl_value v);
SL_API size_t sl_array_len(const sl_array *arr);
SL_API const sl_value *sl_array_at(const sl_array *arr, size_t i);

/* ---- batches ----------------------------------------------------------- */

/**
 * A batch is a sequence of records that share one arena. Operators receive
 * batches borrowed for the duration of a callback and never keep them.
 */
typedef struct sl_batch sl_batch;

SL_API size_t sl_batch_count(const sl_batch *b);
SL_API sl_record *sl_batch_at(const sl_batch *b, size_t i);
/** The arena that new records for this batch's traversal come from. */
SL_API sl_arena *sl_batch_arena(const sl_batch *b);

#ifdef __cplusplus
}
#endif
#endif
