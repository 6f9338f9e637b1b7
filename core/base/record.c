/* SPDX-License-Identifier: Apache-2.0 */
/* Records (field tables plus source metadata), arrays and batches. All memory
 * comes from the arena of the batch being processed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena_internal.h"
#include "base/record_internal.h"

const char *sl_type_name(sl_type t) {
  static const char *const names[] = {"null",   "bool",  "int",    "double",
                                      "string", "bytes", "record", "array"};
  return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

/* One allocation for the record and its first field table, every member set
 * by the initializer rather than a calloc and then by hand: two records are
 * made per input record on the Avro hot path (source, decode). */
sl_record *sl_record_new(sl_arena *a, size_t capacity) {
  if (capacity > (UINT32_MAX - sizeof(sl_record)) / sizeof(sl_field))
    return NULL;
  sl_record *r = sl_arena_bump(a, sizeof *r + capacity * sizeof(sl_field));
  if (!r)
    return NULL;
  /* `fields` is never NULL, even with no room: lookups do `fields + count`, and NULL + 0
   * is undefined (an empty Avro map read by `m.x`, a record schema of no fields). */
  *r = (sl_record){.arena = a,
                   .fields = (sl_field *)(r + 1),
                   .cap = (uint32_t)capacity,
                   .source_id = -1,
                   .partition = -1,
                   .offset = -1};
  return r;
}

sl_record *sl_record_copy(sl_arena *a, const sl_record *r) {
  sl_record *c = sl_arena_alloc(a, sizeof *c);
  if (!c)
    return NULL;
  *c = *r;
  c->arena = a;
  c->cap = r->count + SL_RECORD_COPY_ROOM;
  c->fields = sl_arena_alloc(a, c->cap * sizeof *c->fields);
  if (!c->fields)
    return NULL;
  if (r->count)
    memcpy(c->fields, r->fields, r->count * sizeof *r->fields);
  if (r->header_count) {
    c->headers = sl_arena_alloc(a, r->header_count * sizeof *r->headers);
    if (!c->headers)
      return NULL;
    memcpy(c->headers, r->headers, r->header_count * sizeof *r->headers);
    c->header_cap = r->header_count;
  }
  return c;
}

int sl_value_copy(sl_arena *a, const sl_value *v, sl_value *out) {
  *out = *v;
  switch (v->type) {
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES:
    out->as.str.ptr = sl_arena_strndup(a, v->as.str.ptr, v->as.str.len);
    return out->as.str.ptr ? SL_OK : SL_ERR_NOMEM;
  case SL_TYPE_RECORD:
    out->as.rec = sl_record_clone(a, v->as.rec);
    return out->as.rec ? SL_OK : SL_ERR_NOMEM;
  case SL_TYPE_ARRAY: {
    size_t n = sl_array_len(v->as.arr);
    sl_array *arr = sl_array_new(a, n);
    if (!arr)
      return SL_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
      sl_value item;
      if (sl_value_copy(a, sl_array_at(v->as.arr, i), &item) != SL_OK ||
          sl_array_push(arr, item) != SL_OK)
        return SL_ERR_NOMEM;
    }
    out->as.arr = arr;
    return SL_OK;
  }
  default: return SL_OK;
  }
}

static const void *dup_bytes(sl_arena *a, const void *p, size_t len) {
  return p ? sl_arena_strndup(a, p, len) : NULL;
}

sl_record *sl_record_clone(sl_arena *a, const sl_record *r) {
  sl_record *c = sl_record_copy(a, r);
  if (!c)
    return NULL;
  for (uint32_t i = 0; i < c->count; i++)
    if (sl_value_copy(a, &r->fields[i].value, &c->fields[i].value) != SL_OK)
      return NULL;
  if ((r->key && !(c->key = dup_bytes(a, r->key, r->key_len))) ||
      (r->raw && !(c->raw = dup_bytes(a, r->raw, r->raw_len))))
    return NULL;
  for (uint32_t i = 0; i < c->header_count; i++) {
    c->headers[i].name = sl_arena_strndup(a, r->headers[i].name, strlen(r->headers[i].name));
    c->headers[i].value = dup_bytes(a, r->headers[i].value, r->headers[i].len);
    if (!c->headers[i].name || (r->headers[i].value && !c->headers[i].value))
      return NULL;
  }
  return c;
}

/* Appends a field known not to be there yet; inlined into sl_record_set, which runs for
 * every field decoded from JSON. */
static inline __attribute__((always_inline)) int append(sl_record *r, sl_name name,
                                                        const sl_value *v) {
  if (r->count == r->cap) {
    uint32_t ncap = r->cap ? r->cap * 2 : 8;
    sl_field *nf = sl_arena_alloc(r->arena, ncap * sizeof *nf);
    if (!nf)
      return SL_ERR_NOMEM;
    if (r->count)
      memcpy(nf, r->fields, r->count * sizeof *nf);
    r->fields = nf;
    r->cap = ncap;
  }
  r->fields[r->count].name = name;
  r->fields[r->count].value = *v;
  r->count++;
  r->shape = NULL;
  return SL_OK;
}

int sl_record_set(sl_record *r, sl_name name, sl_value v) {
  for (uint32_t i = 0; i < r->count; i++)
    if (r->fields[i].name == name) {
      r->fields[i].value = v;
      return SL_OK;
    }
  return append(r, name, &v);
}

static inline uint32_t name_slot(sl_name name, uint32_t mask) {
  uint64_t h = (uint64_t)(uintptr_t)name * 0x9E3779B97F4A7C15u;
  return (uint32_t)(h >> 32) & mask;
}

/* (Re)builds the index with room for twice the fields (load <= 1/2). */
static int index_build(sl_record *r, sl_field_index *ix) {
  uint32_t cap = 64;
  while (cap < 2 * (r->count + 1))
    cap *= 2;
  uint32_t *slots = sl_arena_calloc(r->arena, cap, sizeof *slots);
  if (!slots)
    return SL_ERR_NOMEM;
  ix->slots = slots;
  ix->mask = cap - 1;
  for (uint32_t i = 0; i < r->count; i++) {
    uint32_t k = name_slot(r->fields[i].name, ix->mask);
    while (slots[k])
      k = (k + 1) & ix->mask;
    slots[k] = i + 1;
  }
  return SL_OK;
}

int sl_record_put_indexed(sl_record *r, sl_field_index *ix, sl_name name, sl_value v) {
  if (!ix->slots && index_build(r, ix) != SL_OK)
    return SL_ERR_NOMEM;
  uint32_t k = name_slot(name, ix->mask);
  for (; ix->slots[k]; k = (k + 1) & ix->mask)
    if (r->fields[ix->slots[k] - 1].name == name) {
      r->fields[ix->slots[k] - 1].value = v;
      return SL_OK;
    }
  uint32_t at = r->count;
  if (append(r, name, &v) != SL_OK)
    return SL_ERR_NOMEM;
  if (2 * r->count > ix->mask + 1)
    return index_build(r, ix); /* rehash with the new field in it */
  ix->slots[k] = at + 1;
  return SL_OK;
}

/* Inlined into both lookups: get_path runs per aggregate argument per
 * record, where the call was a good part of the cost. */
static inline const sl_value *find(const sl_record *r, sl_name name) {
  const sl_field *f = r->fields, *end = f + r->count;
  for (; f < end; f++)
    if (f->name == name)
      return &f->value;
  return NULL;
}

const sl_value *sl_record_get(const sl_record *r, sl_name name) { return find(r, name); }

const sl_value *sl_record_get_cstr(const sl_record *r, const char *name) {
  return sl_record_get(r, sl_name_cstr(name));
}

const sl_value *sl_record_get_path(const sl_record *r, const sl_name *path, size_t n) {
  const sl_value *v = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!r)
      return NULL;
    v = find(r, path[i]);
    if (!v)
      return NULL;
    r = v->type == SL_TYPE_RECORD ? v->as.rec : NULL;
  }
  return v;
}

const sl_value *sl_record_get_path_hinted(const sl_record *r, const sl_name *path, size_t n,
                                          uint32_t *hints) {
  const sl_value *v = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!r)
      return NULL;
    uint32_t h = hints[i];
    if (h < r->count && r->fields[h].name == path[i]) {
      v = &r->fields[h].value;
    } else {
      for (h = 0; h < r->count && r->fields[h].name != path[i]; h++)
        ;
      if (h == r->count)
        return NULL;
      hints[i] = h;
      v = &r->fields[h].value;
    }
    r = v->type == SL_TYPE_RECORD ? v->as.rec : NULL;
  }
  return v;
}

int sl_record_remove(sl_record *r, sl_name name) {
  for (uint32_t i = 0; i < r->count; i++)
    if (r->fields[i].name == name) {
      memmove(&r->fields[i], &r->fields[i + 1], (r->count - i - 1) * sizeof *r->fields);
      r->count--;
      r->shape = NULL;
      return 1;
    }
  return 0;
}

size_t sl_record_count(const sl_record *r) { return r->count; }
sl_name sl_record_name_at(const sl_record *r, size_t i) { return r->fields[i].name; }
const sl_value *sl_record_value_at(const sl_record *r, size_t i) { return &r->fields[i].value; }
sl_arena *sl_record_arena(const sl_record *r) { return r->arena; }

int64_t sl_record_timestamp(const sl_record *r) { return r->timestamp; }
void sl_record_set_timestamp(sl_record *r, int64_t ms) { r->timestamp = ms; }
int32_t sl_record_partition(const sl_record *r) { return r->partition; }
int64_t sl_record_offset(const sl_record *r) { return r->offset; }
int32_t sl_record_source_id(const sl_record *r) { return r->source_id; }
const char *sl_record_source_name(const sl_record *r) { return r->source_name; }

void sl_record_set_position(sl_record *r, int32_t source_id, const char *source_name,
                            int32_t partition, int64_t offset) {
  r->source_id = source_id;
  r->source_name = source_name;
  r->partition = partition;
  r->offset = offset;
}

const void *sl_record_key(const sl_record *r, size_t *len) {
  *len = r->key_len;
  return r->key;
}

void sl_record_set_key(sl_record *r, const void *key, size_t len) {
  r->key = key;
  r->key_len = key ? len : 0;
}

const void *sl_record_raw(const sl_record *r, size_t *len) {
  *len = r->raw_len;
  return r->raw;
}

void sl_record_set_raw(sl_record *r, const void *raw, size_t len) {
  r->raw = raw;
  r->raw_len = raw ? len : 0;
}

int sl_record_header_add(sl_record *r, const char *name, const void *value, size_t len) {
  if (r->header_count == r->header_cap) {
    uint32_t ncap = r->header_cap ? r->header_cap * 2 : 4;
    sl_header *nh = sl_arena_alloc(r->arena, ncap * sizeof *nh);
    if (!nh)
      return SL_ERR_NOMEM;
    if (r->header_count)
      memcpy(nh, r->headers, r->header_count * sizeof *nh);
    r->headers = nh;
    r->header_cap = ncap;
  }
  r->headers[r->header_count].name = name;
  r->headers[r->header_count].value = value;
  r->headers[r->header_count].len = len;
  r->header_count++;
  return SL_OK;
}

size_t sl_record_header_count(const sl_record *r) { return r->header_count; }

const char *sl_record_header_at(const sl_record *r, size_t i, const void **value, size_t *len) {
  *value = r->headers[i].value;
  *len = r->headers[i].len;
  return r->headers[i].name;
}

sl_array *sl_array_new(sl_arena *a, size_t capacity) {
  sl_array *arr = sl_arena_calloc(a, 1, sizeof *arr);
  if (!arr)
    return NULL;
  arr->arena = a;
  if (capacity) {
    arr->items = sl_arena_alloc(a, capacity * sizeof *arr->items);
    if (!arr->items)
      return NULL;
    arr->cap = capacity;
  }
  return arr;
}

int sl_array_push(sl_array *arr, sl_value v) {
  if (arr->len == arr->cap) {
    size_t ncap = arr->cap ? arr->cap * 2 : 8;
    sl_value *ni = sl_arena_alloc(arr->arena, ncap * sizeof *ni);
    if (!ni)
      return SL_ERR_NOMEM;
    if (arr->len)
      memcpy(ni, arr->items, arr->len * sizeof *ni);
    arr->items = ni;
    arr->cap = ncap;
  }
  arr->items[arr->len++] = v;
  return SL_OK;
}

size_t sl_array_len(const sl_array *arr) { return arr->len; }
const sl_value *sl_array_at(const sl_array *arr, size_t i) { return &arr->items[i]; }

void sl_batch_init(sl_batch *b, sl_arena *arena) {
  b->arena = arena;
  b->records = NULL;
  b->count = b->cap = 0;
}

int sl_batch_push(sl_batch *b, sl_record *r) {
  if (b->count == b->cap) {
    size_t ncap = b->cap ? b->cap * 2 : 64;
    sl_record **nr = realloc(b->records, ncap * sizeof *nr);
    if (!nr)
      return SL_ERR_NOMEM;
    b->records = nr;
    b->cap = ncap;
  }
  b->records[b->count++] = r;
  return SL_OK;
}

int sl_batch_push_all(sl_batch *b, sl_record *const *rs, size_t n) {
  if (n > b->cap - b->count) {
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap - b->count < n)
      ncap *= 2;
    sl_record **nr = realloc(b->records, ncap * sizeof *nr);
    if (!nr)
      return SL_ERR_NOMEM;
    b->records = nr;
    b->cap = ncap;
  }
  if (n)
    memcpy(b->records + b->count, rs, n * sizeof *rs);
  b->count += n;
  return SL_OK;
}

void sl_batch_clear(sl_batch *b) { b->count = 0; }

void sl_batch_release(sl_batch *b) {
  free(b->records);
  b->records = NULL;
  b->count = b->cap = 0;
}

size_t sl_batch_count(const sl_batch *b) { return b->count; }
sl_record *sl_batch_at(const sl_batch *b, size_t i) { return b->records[i]; }
sl_arena *sl_batch_arena(const sl_batch *b) { return b->arena; }

int sl_record_names_absent(const sl_record *r, const sl_name *names, size_t n) {
  for (uint32_t i = 0; i < r->count; i++)
    for (size_t j = 0; j < n; j++)
      if (r->fields[i].name == names[j])
        return 0;
  return 1;
}

/* Set names[j] to values[j] in `c`, which has room for n more fields. */
static void set_each(sl_record *c, const sl_name *names, const sl_value *values, size_t n) {
  c->shape = NULL;
  for (size_t j = 0; j < n; j++) {
    uint32_t i = 0;
    while (i < c->count && c->fields[i].name != names[j])
      i++;
    c->fields[i].name = names[j];
    c->fields[i].value = values[j];
    c->count += i == c->count;
  }
}

int sl_record_extend_in_place(sl_record *r, const sl_name *names, const sl_value *values, size_t n,
                              int known_new) {
  if (n > UINT32_MAX - r->count)
    return SL_ERR_LIMIT;
  if (r->cap - r->count < n) {
    /* Room for all of them at once (a replaced name leaves a slot unused). */
    sl_field *nf = sl_arena_alloc(r->arena, (r->count + n) * sizeof *nf);
    if (!nf)
      return SL_ERR_NOMEM;
    if (r->count)
      memcpy(nf, r->fields, r->count * sizeof *nf);
    r->fields = nf;
    r->cap = r->count + (uint32_t)n;
  }
  if (!known_new && !sl_record_names_absent(r, names, n)) {
    set_each(r, names, values, n);
    return SL_OK;
  }
  for (size_t j = 0; j < n; j++)
    r->fields[r->count++] = (sl_field){names[j], values[j]};
  r->shape = NULL;
  return SL_OK;
}

sl_record *sl_record_extend(sl_arena *a, const sl_record *r, const sl_name *names,
                            const sl_value *values, size_t n, int known_new) {
  if (n > UINT32_MAX - r->count)
    return NULL;
  uint32_t cap = r->count + (uint32_t)n;
  sl_record *c = sl_arena_alloc(a, sizeof *c + cap * sizeof(sl_field));
  if (!c)
    return NULL;
  *c = *r;
  c->arena = a;
  c->cap = cap;
  c->fields = (sl_field *)(c + 1);
  if (r->count)
    memcpy(c->fields, r->fields, r->count * sizeof *r->fields);
  if (r->header_count) {
    c->headers = sl_arena_alloc(a, r->header_count * sizeof *r->headers);
    if (!c->headers)
      return NULL;
    memcpy(c->headers, r->headers, r->header_count * sizeof *r->headers);
    c->header_cap = r->header_count;
  }
  if (!known_new && !sl_record_names_absent(r, names, n)) {
    set_each(c, names, values, n);
    return c;
  }
  for (size_t j = 0; j < n; j++)
    c->fields[c->count++] = (sl_field){names[j], values[j]};
  c->shape = NULL;
  return c;
}

/* ---- shapes: interned name lists ------------------------------------------ */

struct sl_shape {
  struct sl_shape *next;
  uint64_t hash;
  uint32_t n;
  sl_name names[];
};

static pthread_mutex_t shapes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sl_shape *shapes[256]; /* buckets: shapes are few (one per schema or entry layout) */
static size_t shapes_count;

static int shape_is(const struct sl_shape *s, const sl_record *r) {
  if (s->n != r->count)
    return 0;
  for (uint32_t i = 0; i < s->n; i++)
    if (s->names[i] != r->fields[i].name)
      return 0;
  return 1;
}

const struct sl_shape *sl_shape_of(const sl_record *r) {
  if (r->count > SL_SHAPE_MAX)
    return NULL;
  uint64_t h = r->count;
  for (uint32_t i = 0; i < r->count; i++)
    h = (h ^ (uint64_t)(uintptr_t)r->fields[i].name) * 0x9E3779B97F4A7C15u;
  struct sl_shape *found = NULL;
  pthread_mutex_lock(&shapes_lock);
  struct sl_shape **bucket = &shapes[(h >> 40) & 255];
  for (struct sl_shape *s = *bucket; s && !found; s = s->next)
    if (s->hash == h && shape_is(s, r))
      found = s;
  if (!found && shapes_count < SL_SHAPES_MAX &&
      (found = malloc(sizeof *found + r->count * sizeof(sl_name)))) {
    found->hash = h;
    found->n = r->count;
    for (uint32_t i = 0; i < r->count; i++)
      found->names[i] = r->fields[i].name;
    found->next = *bucket;
    *bucket = found;
    shapes_count++;
  }
  pthread_mutex_unlock(&shapes_lock);
  return found;
}

/* Shapes live for the process; free them at exit so leak checkers stay quiet. */
__attribute__((destructor)) static void shapes_free_all(void) {
  for (size_t b = 0; b < sizeof shapes / sizeof shapes[0]; b++)
    while (shapes[b]) {
      struct sl_shape *next = shapes[b]->next;
      free(shapes[b]);
      shapes[b] = next;
    }
  shapes_count = 0;
}
