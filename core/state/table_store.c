/* SPDX-License-Identifier: Apache-2.0 */
/* The table store: the writer's open-addressing map of refcounted entries,
 * immutable published snapshots, and the process-wide registry of tables by
 * id (how `enrich` and the HTTP API find a table declared by `p:table{}`). */
#include "state/table_store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash64.h"
#include "base/record_internal.h"

#define ENTRY_ARENA_CHUNK 512 /* most device records fit one chunk */

typedef struct entry {
  int refs; /* the writer's map and every snapshot holding it */
  uint64_t hash;
  size_t bytes;    /* memory of this entry: its arena */
  sl_arena *arena; /* owns this struct and the deep copy of the value */
  sl_record *value;
  size_t klen;
  char key[]; /* NUL-terminated for the API */
} entry;

typedef struct map {
  entry **slots; /* power-of-two count, NULL = empty */
  size_t cap, count, bytes;
} map;

struct sl_table_snap {
  int refs;
  uint64_t version;
  size_t cap, count, bytes;
  entry *slots[]; /* a copy of the writer's slots at publish time */
};

struct sl_table {
  char *id;
  size_t max_entries;
  map w;                /* the writer's map */
  pthread_mutex_t lock; /* guards `cur` against a swap during acquire */
  sl_table_snap *cur;
  uint64_t version;
  int registered;
};

static void entry_release(entry *e) {
  if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
    sl_arena_destroy(e->arena); /* the entry lives in it too */
}

#define SEED 0x5eed

/* Keys hash with sl_hash64_short, in memory only (tables are rebuilt at start). */
static inline __attribute__((always_inline)) uint64_t key_hash(const void *key, size_t klen) {
  return sl_hash64_short(key, klen, SEED);
}

/* Equal keys of length n, without a call for short ones (as key_hash reads
 * them: overlapping words cover every byte). */
static inline int key_eq(const char *x, const void *key, size_t n) {
  const unsigned char *a = (const unsigned char *)x, *b = key;
  if (n >= 8 && n <= 16)
    return sl_load64(a) == sl_load64(b) && sl_load64(a + n - 8) == sl_load64(b + n - 8);
  if (n >= 4 && n < 8)
    return sl_load32(a) == sl_load32(b) && sl_load32(a + n - 4) == sl_load32(b + n - 4);
  return memcmp(a, b, n) == 0;
}

/* Slot of `key` in `slots`, or of the empty slot where it would go. */
static inline __attribute__((always_inline)) size_t
probe(entry *const *slots, size_t cap, uint64_t h, const void *key, size_t klen) {
  size_t i = (size_t)h & (cap - 1);
  while (slots[i] &&
         !(slots[i]->hash == h && slots[i]->klen == klen && key_eq(slots[i]->key, key, klen)))
    i = (i + 1) & (cap - 1);
  return i;
}

static int map_grow(map *m) {
  size_t ncap = m->cap ? m->cap * 2 : 64;
  entry **ns = calloc(ncap, sizeof *ns);
  if (!ns)
    return SL_ERR_NOMEM;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i])
      ns[probe(ns, ncap, m->slots[i]->hash, m->slots[i]->key, m->slots[i]->klen)] = m->slots[i];
  free(m->slots);
  m->bytes += (ncap - m->cap) * sizeof *ns;
  m->slots = ns;
  m->cap = ncap;
  return SL_OK;
}

static void map_clear(map *m) {
  for (size_t i = 0; i < m->cap; i++)
    entry_release(m->slots[i]);
  free(m->slots);
  memset(m, 0, sizeof *m);
}

sl_table *sl_table_new(const char *id, size_t max_entries) {
  sl_table *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->id = strdup(id);
  t->max_entries = max_entries;
  t->cur = calloc(1, sizeof *t->cur);
  if (!t->id || !t->cur) {
    free(t->id);
    free(t->cur);
    free(t);
    return NULL;
  }
  t->cur->refs = 1;
  pthread_mutex_init(&t->lock, NULL);
  return t;
}

void sl_table_free(sl_table *t) {
  if (!t)
    return;
  map_clear(&t->w);
  sl_table_snap_release(t->cur);
  pthread_mutex_destroy(&t->lock);
  free(t->id);
  free(t);
}

const char *sl_table_id(const sl_table *t) { return t->id; }

int sl_table_put(sl_table *t, const void *key, size_t klen, const sl_record *value, sl_error *err) {
  map *m = &t->w;
  uint64_t h = key_hash(key, klen);
  size_t i = m->cap ? probe(m->slots, m->cap, h, key, klen) : 0;
  int fresh = !m->cap || !m->slots[i];
  if (fresh && t->max_entries && m->count >= t->max_entries)
    return sl_error_set(err, SL_ERR_LIMIT,
                        "table '%s': key '%.*s' would be entry %zu, past max_entries = %zu; raise "
                        "max_entries or remove keys",
                        t->id, (int)(klen > 64 ? 64 : klen), (const char *)key, m->count + 1,
                        t->max_entries);
  if (fresh && (m->count + 1) * 2 > m->cap) {
    if (map_grow(m) != SL_OK)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    i = probe(m->slots, m->cap, h, key, klen);
  }
  /* The entry, then its value, in one arena: a lookup reads the key, the
   * value's record and its fields from neighbouring cache lines. */
  sl_arena *a = sl_arena_new(ENTRY_ARENA_CHUNK);
  entry *e = a ? sl_arena_alloc(a, sizeof *e + klen + 1) : NULL;
  sl_record *v = e ? sl_record_clone(a, value) : NULL;
  if (v) /* enrich reads the fields of entries of one shape by position */
    v->shape = sl_shape_of(v);
  if (!v) {
    sl_arena_destroy(a);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  e->refs = 1;
  e->hash = h;
  e->arena = a;
  e->value = v;
  e->klen = klen;
  memcpy(e->key, key, klen);
  e->key[klen] = '\0';
  e->bytes = sl_arena_used(a);
  if (!fresh) {
    m->bytes -= m->slots[i]->bytes;
    entry_release(m->slots[i]);
  } else {
    m->count++;
  }
  m->slots[i] = e;
  m->bytes += e->bytes;
  return SL_OK;
}

int sl_table_delete(sl_table *t, const void *key, size_t klen) {
  map *m = &t->w;
  if (!m->cap)
    return 0;
  size_t i = probe(m->slots, m->cap, key_hash(key, klen), key, klen);
  if (!m->slots[i])
    return 0;
  m->bytes -= m->slots[i]->bytes;
  entry_release(m->slots[i]);
  m->slots[i] = NULL;
  m->count--;
  /* Backward-shift deletion: move later members of the probe run into the
   * hole when their home slot allows, so lookups never need tombstones. */
  size_t hole = i, j = i;
  for (;;) {
    j = (j + 1) & (m->cap - 1);
    if (!m->slots[j])
      break;
    size_t home = (size_t)m->slots[j]->hash & (m->cap - 1);
    if (((j - home) & (m->cap - 1)) >= ((j - hole) & (m->cap - 1))) {
      m->slots[hole] = m->slots[j];
      m->slots[j] = NULL;
      hole = j;
    }
  }
  return 1;
}

void sl_table_clear(sl_table *t) { map_clear(&t->w); }

size_t sl_table_writer_count(const sl_table *t) { return t->w.count; }
size_t sl_table_writer_bytes(const sl_table *t) { return t->w.bytes; }

int sl_table_publish(sl_table *t, sl_error *err) {
  map *m = &t->w;
  sl_table_snap *s = malloc(sizeof *s + m->cap * sizeof(entry *));
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->refs = 1;
  s->cap = m->cap;
  s->count = m->count;
  s->bytes = m->bytes;
  for (size_t i = 0; i < m->cap; i++) {
    s->slots[i] = m->slots[i];
    if (m->slots[i])
      __atomic_add_fetch(&m->slots[i]->refs, 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_lock(&t->lock);
  s->version = ++t->version;
  sl_table_snap *old = t->cur;
  t->cur = s;
  pthread_mutex_unlock(&t->lock);
  sl_table_snap_release(old);
  return SL_OK;
}

sl_table_snap *sl_table_acquire(sl_table *t) {
  pthread_mutex_lock(&t->lock);
  sl_table_snap *s = t->cur;
  __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&t->lock);
  return s;
}

void sl_table_snap_release(sl_table_snap *s) {
  if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
    return;
  for (size_t i = 0; i < s->cap; i++)
    entry_release(s->slots[i]);
  free(s);
}

static __attribute__((noinline)) const sl_record *snap_get_any(const sl_table_snap *s,
                                                               const void *key, size_t klen) {
  if (!s->count)
    return NULL;
  size_t i = probe(s->slots, s->cap, key_hash(key, klen), key, klen);
  return s->slots[i] ? s->slots[i]->value : NULL;
}

/* Keys of 4 to 16 bytes (device ids) take a path that calls nothing, so it
 * saves no registers: a third of the lookup's cost was the call frame. */
const sl_record *sl_table_snap_get(const sl_table_snap *s, const void *key, size_t klen) {
  if (klen < 4 || klen > 16 || !s->count)
    return snap_get_any(s, key, klen);
  const unsigned char *p = key;
  uint64_t a = klen >= 8 ? sl_load64(p) : sl_load32(p);
  uint64_t b = klen >= 8 ? sl_load64(p + klen - 8) : sl_load32(p + klen - 4);
  uint64_t h = sl_hash64_mix2(a, b, klen, SEED); /* as key_hash */
  for (size_t i = (size_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    const entry *e = s->slots[i];
    if (!e)
      return NULL;
    if (e->hash == h && e->klen == klen && key_eq(e->key, key, klen))
      return e->value;
  }
}

size_t sl_table_snap_count(const sl_table_snap *s) { return s->count; }
size_t sl_table_snap_bytes(const sl_table_snap *s) { return s->bytes; }
uint64_t sl_table_snap_version(const sl_table_snap *s) { return s->version; }

int sl_table_key_of(const sl_value *v, char *buf, size_t cap, const char **key, size_t *klen) {
  int n;
  switch (v->type) {
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES:
    *key = v->as.str.ptr;
    *klen = v->as.str.len;
    return 1;
  case SL_TYPE_INT: n = snprintf(buf, cap, "%" PRId64, v->as.i); break;
  case SL_TYPE_DOUBLE:
    if (v->as.d != (double)(int64_t)v->as.d)
      return 0;
    n = snprintf(buf, cap, "%" PRId64, (int64_t)v->as.d);
    break;
  default: return 0;
  }
  if (n < 0 || (size_t)n >= cap)
    return 0;
  *key = buf;
  *klen = (size_t)n;
  return 1;
}

/* ---- registry ------------------------------------------------------------ */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static sl_table **reg_tables;
static size_t reg_count, reg_cap;

static size_t reg_index(const char *id) {
  for (size_t i = 0; i < reg_count; i++)
    if (strcmp(reg_tables[i]->id, id) == 0)
      return i;
  return SIZE_MAX;
}

int sl_table_register(sl_table *t, sl_error *err) {
  int rc = SL_OK;
  pthread_mutex_lock(&reg_lock);
  if (reg_index(t->id) != SIZE_MAX) {
    rc = sl_error_set(err, SL_ERR_INVALID, "table '%s' is already open", t->id);
  } else if (reg_count == reg_cap) {
    size_t ncap = reg_cap ? reg_cap * 2 : 8;
    sl_table **n = realloc(reg_tables, ncap * sizeof *n);
    if (!n)
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    else {
      reg_tables = n;
      reg_cap = ncap;
    }
  }
  if (rc == SL_OK) {
    reg_tables[reg_count++] = t;
    t->registered = 1;
  }
  pthread_mutex_unlock(&reg_lock);
  return rc;
}

void sl_table_unregister(sl_table *t) {
  if (!t)
    return;
  pthread_mutex_lock(&reg_lock);
  size_t i = t->registered ? reg_index(t->id) : SIZE_MAX;
  if (i != SIZE_MAX) {
    reg_tables[i] = reg_tables[--reg_count];
    t->registered = 0;
  }
  if (!reg_count) {
    free(reg_tables);
    reg_tables = NULL;
    reg_cap = 0;
  }
  pthread_mutex_unlock(&reg_lock);
}

sl_table *sl_table_find(const char *id) {
  pthread_mutex_lock(&reg_lock);
  size_t i = reg_index(id);
  sl_table *t = i == SIZE_MAX ? NULL : reg_tables[i];
  pthread_mutex_unlock(&reg_lock);
  return t;
}

sl_table_snap *sl_table_acquire_id(const char *id) {
  pthread_mutex_lock(&reg_lock);
  size_t i = reg_index(id);
  sl_table_snap *s = i == SIZE_MAX ? NULL : sl_table_acquire(reg_tables[i]);
  pthread_mutex_unlock(&reg_lock);
  return s;
}
