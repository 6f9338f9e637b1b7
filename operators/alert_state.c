/* SPDX-License-Identifier: Apache-2.0 */
/* The per-key table of the `alert` operator and the compact serialisation of
 * its entries. Chained hashing on the key's JSON text; the table doubles when
 * it holds more entries than buckets. Removal of a checkpointed entry queues
 * a snapshot delete so that resolved keys do not stay in the state store. */
#include <stdlib.h>
#include <string.h>

#include "alert_state.h"
#include "base/varint.h"

#define AL_FORMAT_VERSION 1

int al_table_init(al_table *t) {
  memset(t, 0, sizeof *t);
  t->nbuckets = 64;
  t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
  return t->buckets ? 0 : -1;
}

void al_table_free(al_table *t) {
  for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
    al_entry *e = t->buckets[i];
    while (e) {
      al_entry *next = e->next;
      free(e);
      e = next;
    }
  }
  free(t->buckets);
  sl_buf_free(&t->deletes);
  memset(t, 0, sizeof *t);
}

uint32_t al_hash(const void *key, size_t len) {
  const unsigned char *p = key;
  uint32_t h = 2166136261u; /* FNV-1a: keys are short JSON texts */
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 16777619u;
  }
  return h;
}

al_entry *al_table_find(const al_table *t, uint32_t hash, const void *key, size_t len) {
  for (al_entry *e = t->buckets[hash & (t->nbuckets - 1)]; e; e = e->next)
    if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
      return e;
  return NULL;
}

static void grow(al_table *t) {
  size_t n = t->nbuckets * 2;
  al_entry **b = calloc(n, sizeof *b);
  if (!b)
    return; /* longer chains, still correct */
  for (size_t i = 0; i < t->nbuckets; i++) {
    al_entry *e = t->buckets[i];
    while (e) {
      al_entry *next = e->next;
      e->next = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
      e = next;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
}

al_entry *al_table_insert(al_table *t, uint32_t hash, const void *key, size_t len,
                          int32_t partition) {
  al_entry *e = calloc(1, sizeof *e + len + 1);
  if (!e)
    return NULL;
  e->hash = hash;
  e->partition = partition;
  e->key_len = len;
  memcpy(e->key, key, len);
  if (t->count >= t->nbuckets)
    grow(t);
  al_entry **slot = &t->buckets[hash & (t->nbuckets - 1)];
  e->next = *slot;
  *slot = e;
  t->count++;
  return e;
}

static int queue_delete(al_table *t, int32_t partition, const void *key, size_t len) {
  uint32_t l = (uint32_t)len;
  if (sl_buf_append(&t->deletes, &partition, sizeof partition) ||
      sl_buf_append(&t->deletes, &l, sizeof l) || sl_buf_append(&t->deletes, key, len))
    return -1;
  return 0;
}

int al_table_remove(al_table *t, al_entry *e, int persist) {
  int rc = 0;
  if (persist && e->persisted)
    rc = queue_delete(t, e->snap_partition, e->key, e->key_len);
  al_entry **p = &t->buckets[e->hash & (t->nbuckets - 1)];
  while (*p && *p != e)
    p = &(*p)->next;
  if (*p)
    *p = e->next;
  t->count--;
  free(e);
  return rc;
}

void al_table_forget_deletes(al_table *t, int32_t partition) {
  char *p = t->deletes.data, *end = p + t->deletes.len, *keep = p;
  while (p && p < end) {
    int32_t part;
    uint32_t len;
    memcpy(&part, p, sizeof part);
    memcpy(&len, p + sizeof part, sizeof len);
    size_t n = sizeof part + sizeof len + len;
    if (part != partition) {
      memmove(keep, p, n);
      keep += n;
    }
    p += n;
  }
  if (t->deletes.data)
    t->deletes.len = (size_t)(keep - t->deletes.data);
}

int al_table_each(al_table *t, int (*fn)(void *ctx, al_entry *e), void *ctx) {
  for (size_t i = 0; i < t->nbuckets; i++) {
    al_entry *e = t->buckets[i];
    while (e) {
      al_entry *next = e->next; /* fn may free e */
      int rc = fn(ctx, e);
      if (rc)
        return rc;
      e = next;
    }
  }
  return 0;
}

int al_entry_encode(const al_entry *e, sl_buf *out) {
  if (sl_varint_put(out, AL_FORMAT_VERSION) ||
      sl_varint_put(out, (uint64_t)e->phase | (uint64_t)(e->absent ? 4 : 0)) ||
      sl_varint_put(out, sl_zigzag(e->since)) || sl_varint_put(out, sl_zigzag(e->last_sent)) ||
      sl_varint_put(out, sl_zigzag(e->last_seen)))
    return -1;
  return 0;
}

int al_entry_decode(al_entry *e, const void *val, size_t len) {
  sl_rd r = {val, (const unsigned char *)val + len, 0};
  uint64_t version = sl_varint_get(&r);
  uint64_t flags = sl_varint_get(&r);
  int64_t since = sl_unzigzag(sl_varint_get(&r));
  int64_t last_sent = sl_unzigzag(sl_varint_get(&r));
  int64_t last_seen = sl_unzigzag(sl_varint_get(&r));
  if (r.bad || version != AL_FORMAT_VERSION || (flags & 3) > AL_FIRING || flags > 7)
    return -1;
  e->phase = (uint8_t)(flags & 3);
  e->absent = (flags & 4) != 0;
  e->since = since;
  e->last_sent = last_sent;
  e->last_seen = last_seen;
  return 0;
}
