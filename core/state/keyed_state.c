/* SPDX-License-Identifier: Apache-2.0 */
/* The window state table (see keyed_state.h): chained hash on the key bytes
 * (all windows of a key share a chain, which sessions need), an indexed
 * min-heap of action times, dirty tracking and the canonical key codec. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/varint.h"
#include "sluice/operator.h"
#include "state/key_short.h"
#include "state/keyed_state.h"
#include "state/window_assign.h"

#define NO_IDX UINT32_MAX

int sl_kstate_init(sl_kstate *s, const sl_agg_set *aggs, int64_t lateness) {
  memset(s, 0, sizeof *s);
  s->aggs = aggs;
  s->lateness = lateness;
  s->nbuckets = 64;
  s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
  return s->buckets ? SL_OK : SL_ERR_NOMEM;
}

static void entry_free(sl_kstate *s, sl_kentry *e) {
  sl_agg_release(s->aggs, sl_kentry_block(e));
  free(e);
}

void sl_kstate_free(sl_kstate *s) {
  for (size_t i = 0; i < s->nbuckets; i++) {
    sl_kentry *e = s->buckets[i];
    while (e) {
      sl_kentry *n = e->next;
      entry_free(s, e);
      e = n;
    }
  }
  sl_kstate_held_free(s);
  free(s->buckets);
  free(s->heap);
  free(s->dirty);
  sl_buf_free(&s->deletes);
  memset(s, 0, sizeof *s);
}

/* The key bytes sit after the aggregate block; the block size is the same
 * for every entry of a table, but entries do not point at their table, so
 * the key offset is stored implicitly: key bytes are the last key_len bytes
 * of the allocation, which starts at e + 1 + block_size. */
static unsigned char *key_ptr(const sl_kstate *s, const sl_kentry *e) {
  return (unsigned char *)(e + 1) + s->aggs->block_size;
}

const unsigned char *sl_kentry_key(const sl_kstate *s, const sl_kentry *e) { return key_ptr(s, e); }

static int same_key(const sl_kstate *s, const sl_kentry *e, uint32_t hash, const void *key,
                    size_t len) {
  return e->hash == hash && e->key_len == len && memcmp(key_ptr(s, e), key, len) == 0;
}

sl_kentry *sl_kstate_find(const sl_kstate *s, uint32_t hash, const void *key, size_t len,
                          int64_t start) {
  for (sl_kentry *e = s->buckets[hash & (s->nbuckets - 1)]; e; e = e->next)
    if (e->start == start && same_key(s, e, hash, key, len))
      return e;
  return NULL;
}

size_t sl_kstate_key_entries(const sl_kstate *s, uint32_t hash, const void *key, size_t len,
                             sl_kentry **out, size_t max) {
  size_t n = 0;
  for (sl_kentry *e = s->buckets[hash & (s->nbuckets - 1)]; e; e = e->next)
    if (same_key(s, e, hash, key, len)) {
      if (n < max)
        out[n] = e;
      n++;
    }
  return n;
}

/* ---- heap --------------------------------------------------------------- */

int64_t sl_kstate_action_time(const sl_kstate *s, const sl_kentry *e) {
  return (e->flags & SL_KE_FIRED) ? sl_sat_add(e->end, s->lateness) : e->end;
}

static void heap_set(sl_kstate *s, size_t i, sl_kentry *e) {
  s->heap[i] = e;
  e->heap_idx = (uint32_t)i;
}

static void sift_up(sl_kstate *s, size_t i) {
  sl_kentry *e = s->heap[i];
  int64_t t = sl_kstate_action_time(s, e);
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (sl_kstate_action_time(s, s->heap[p]) <= t)
      break;
    heap_set(s, i, s->heap[p]);
    i = p;
  }
  heap_set(s, i, e);
}

static void sift_down(sl_kstate *s, size_t i) {
  sl_kentry *e = s->heap[i];
  int64_t t = sl_kstate_action_time(s, e);
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->heap_len)
      break;
    if (c + 1 < s->heap_len &&
        sl_kstate_action_time(s, s->heap[c + 1]) < sl_kstate_action_time(s, s->heap[c]))
      c++;
    if (sl_kstate_action_time(s, s->heap[c]) >= t)
      break;
    heap_set(s, i, s->heap[c]);
    i = c;
  }
  heap_set(s, i, e);
}

void sl_kstate_heap_update(sl_kstate *s, sl_kentry *e) {
  sift_up(s, e->heap_idx);
  sift_down(s, e->heap_idx);
}

static void heap_remove(sl_kstate *s, sl_kentry *e) {
  size_t i = e->heap_idx;
  if (i == NO_IDX)
    return; /* popped by sl_kstate_pop */
  e->heap_idx = NO_IDX;
  sl_kentry *last = s->heap[--s->heap_len];
  if (i == s->heap_len)
    return;
  heap_set(s, i, last);
  sl_kstate_heap_update(s, last);
}

sl_kentry *sl_kstate_pop(sl_kstate *s) {
  sl_kentry *e = sl_kstate_top(s);
  if (e)
    heap_remove(s, e);
  return e;
}

/* ---- entries ------------------------------------------------------------ */

int sl_kstate_touch(sl_kstate *s, sl_kentry *e) {
  if (!s->tracking || e->dirty_idx != NO_IDX)
    return SL_OK;
  if (s->dirty_len == s->dirty_cap) {
    size_t ncap = s->dirty_cap ? s->dirty_cap * 2 : 64;
    sl_kentry **n = realloc(s->dirty, ncap * sizeof *n);
    if (!n)
      return SL_ERR_NOMEM;
    s->dirty = n;
    s->dirty_cap = ncap;
  }
  e->dirty_idx = (uint32_t)s->dirty_len;
  s->dirty[s->dirty_len++] = e;
  return SL_OK;
}

static int grow_buckets(sl_kstate *s) {
  size_t n = s->nbuckets * 2;
  sl_kentry **b = calloc(n, sizeof *b);
  if (!b)
    return SL_ERR_NOMEM;
  for (size_t i = 0; i < s->nbuckets; i++) {
    sl_kentry *e = s->buckets[i];
    while (e) {
      sl_kentry *next = e->next;
      e->next = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
      e = next;
    }
  }
  free(s->buckets);
  s->buckets = b;
  s->nbuckets = n;
  return SL_OK;
}

sl_kentry *sl_kstate_insert(sl_kstate *s, uint32_t hash, const void *key, size_t len, int64_t start,
                            int64_t end, int32_t partition) {
  if (len > UINT16_MAX)
    return NULL;
  if (s->count >= s->nbuckets && grow_buckets(s) != SL_OK)
    return NULL;
  if (s->heap_len == s->heap_cap) {
    size_t ncap = s->heap_cap ? s->heap_cap * 2 : 64;
    sl_kentry **n = realloc(s->heap, ncap * sizeof *n);
    if (!n)
      return NULL;
    s->heap = n;
    s->heap_cap = ncap;
  }
  sl_kentry *e = malloc(sizeof *e + s->aggs->block_size + len);
  if (!e)
    return NULL;
  memset(e, 0, sizeof *e);
  e->start = start;
  e->end = end;
  e->hash = hash;
  e->partition = partition;
  e->dirty_idx = NO_IDX;
  e->hold.idx = NO_IDX;
  e->key_len = (uint16_t)len;
  sl_agg_init(s->aggs, sl_kentry_block(e));
  memcpy(key_ptr(s, e), key, len);
  if (sl_kstate_touch(s, e) != SL_OK) {
    entry_free(s, e);
    return NULL;
  }
  size_t b = hash & (s->nbuckets - 1);
  e->next = s->buckets[b];
  s->buckets[b] = e;
  s->count++;
  s->heap[s->heap_len] = e;
  e->heap_idx = (uint32_t)s->heap_len++;
  sift_up(s, e->heap_idx);
  return e;
}

int sl_kstate_snap_key(sl_buf *out, int64_t start, const void *key, size_t len) {
  sl_buf_reset(out);
  if (sl_buf_putc(out, SL_KSTATE_TAG) || sl_varint_put(out, sl_zigzag(start)) ||
      sl_buf_append(out, key, len))
    return SL_ERR_NOMEM;
  return SL_OK;
}

int sl_kstate_snap_value(sl_buf *out, int64_t end, int fired, const sl_agg_set *aggs,
                         const void *block) {
  sl_buf_reset(out);
  if (sl_varint_put(out, 1) || sl_varint_put(out, sl_zigzag(end)) ||
      sl_varint_put(out, fired ? 1 : 0))
    return SL_ERR_NOMEM;
  return sl_agg_serialize(aggs, block, out);
}

int sl_kstate_snap_parse(const void *key, size_t key_len, const void *val, size_t val_len,
                         sl_kstate_snap *out) {
  sl_rd kr = {key, (const unsigned char *)key + key_len, 0};
  const unsigned char *tag = sl_bytes_get(&kr, 1);
  out->start = sl_unzigzag(sl_varint_get(&kr));
  if (!tag || *tag != SL_KSTATE_TAG || kr.bad)
    return SL_ERR_PARSE;
  sl_rd vr = {val, (const unsigned char *)val + val_len, 0};
  uint64_t version = sl_varint_get(&vr);
  out->end = sl_unzigzag(sl_varint_get(&vr));
  out->fired = sl_varint_get(&vr) != 0;
  if (vr.bad || version != 1 || out->end <= out->start)
    return SL_ERR_PARSE;
  out->key = kr.p;
  out->key_len = (size_t)(kr.end - kr.p);
  out->agg = vr.p;
  out->agg_len = (size_t)(vr.end - vr.p);
  return SL_OK;
}

int sl_kstate_deletes_queue(sl_buf *deletes, int32_t partition, int64_t start, const void *key,
                            size_t len) {
  sl_buf k = SL_BUF_INIT;
  int rc = sl_kstate_snap_key(&k, start, key, len);
  uint32_t n = (uint32_t)k.len;
  if (rc == SL_OK && (sl_buf_append(deletes, &partition, 4) || sl_buf_append(deletes, &n, 4) ||
                      sl_buf_append(deletes, k.data, n)))
    rc = SL_ERR_NOMEM;
  sl_buf_free(&k);
  return rc;
}

int sl_kstate_deletes_flush(sl_buf *deletes, sl_kstate_del_fn del, void *ctx) {
  int rc = SL_OK;
  for (size_t off = 0; off + 8 <= deletes->len && rc == SL_OK;) {
    int32_t part;
    uint32_t len;
    memcpy(&part, deletes->data + off, 4);
    memcpy(&len, deletes->data + off + 4, 4);
    rc = del(ctx, part, deletes->data + off + 8, len);
    off += 8 + len;
  }
  if (rc == SL_OK)
    sl_buf_reset(deletes);
  return rc;
}

void sl_kstate_deletes_drop(sl_buf *deletes, int32_t partition) {
  size_t keep = 0;
  for (size_t off = 0; off + 8 <= deletes->len;) {
    int32_t part;
    uint32_t len;
    memcpy(&part, deletes->data + off, 4);
    memcpy(&len, deletes->data + off + 4, 4);
    if (part != partition) {
      memmove(deletes->data + keep, deletes->data + off, 8 + len);
      keep += 8 + len;
    }
    off += 8 + len;
  }
  deletes->len = keep;
}

/* Snapshot key of an entry: tag, zigzag start, key bytes; 0 on OOM. */
static size_t snap_key(const sl_kstate *s, const sl_kentry *e, int64_t start, sl_buf *out) {
  return sl_kstate_snap_key(out, start, key_ptr(s, e), e->key_len) == SL_OK ? out->len : 0;
}

static int queue_delete(sl_kstate *s, const sl_kentry *e) {
  if (!(e->flags & SL_KE_PERSISTED))
    return SL_OK;
  return sl_kstate_deletes_queue(&s->deletes, e->snap_partition, e->start, key_ptr(s, e),
                                 e->key_len);
}

int sl_kstate_rebound(sl_kstate *s, sl_kentry *e, int64_t start, int64_t end) {
  int rc = SL_OK;
  if (start != e->start) { /* the snapshot key changes: drop the old one */
    rc = queue_delete(s, e);
    e->flags &= (uint8_t)~SL_KE_PERSISTED;
    e->start = start;
  }
  e->end = end;
  sl_kstate_heap_update(s, e);
  return rc != SL_OK ? rc : sl_kstate_touch(s, e);
}

void sl_kstate_set_fired(sl_kstate *s, sl_kentry *e, int fired) {
  if (fired)
    e->flags |= SL_KE_FIRED;
  else
    e->flags &= (uint8_t)~SL_KE_FIRED;
  sl_kstate_heap_update(s, e);
}

static void unlink_entry(sl_kstate *s, sl_kentry *e) {
  sl_kentry **pp = &s->buckets[e->hash & (s->nbuckets - 1)];
  while (*pp != e)
    pp = &(*pp)->next;
  *pp = e->next;
  s->count--;
  heap_remove(s, e);
  sl_kstate_unhold(s, e);
  if (e->dirty_idx != NO_IDX)
    s->dirty[e->dirty_idx] = NULL;
}

int sl_kstate_remove(sl_kstate *s, sl_kentry *e) {
  int rc = queue_delete(s, e);
  unlink_entry(s, e);
  entry_free(s, e);
  return rc;
}

/* ---- snapshots ---------------------------------------------------------- */

int sl_kstate_snapshot(sl_kstate *s, sl_kstate_put_fn put, sl_kstate_del_fn del, void *ctx) {
  int rc = SL_OK;
  sl_buf k = SL_BUF_INIT, v = SL_BUF_INIT;
  /* deletes first: a session that moved its start is deleted, then re-put */
  rc = sl_kstate_deletes_flush(&s->deletes, del, ctx);
  if (rc != SL_OK)
    goto out;
  if (!s->tracking) { /* the first snapshot writes every entry */
    s->tracking = 1;
    for (size_t b = 0; b < s->nbuckets && rc == SL_OK; b++)
      for (sl_kentry *e = s->buckets[b]; e && rc == SL_OK; e = e->next)
        rc = sl_kstate_touch(s, e);
    if (rc != SL_OK) { /* untracked again, so that the next one writes everything */
      for (size_t i = 0; i < s->dirty_len; i++)
        if (s->dirty[i])
          s->dirty[i]->dirty_idx = NO_IDX;
      s->dirty_len = 0;
      s->tracking = 0;
      goto out;
    }
  }
  for (size_t i = 0; i < s->dirty_len; i++) {
    sl_kentry *e = s->dirty[i];
    if (!e)
      continue;
    if (!snap_key(s, e, e->start, &k)) {
      rc = SL_ERR_NOMEM;
      goto out;
    }
    if ((e->flags & SL_KE_PERSISTED) && e->snap_partition != e->partition) {
      rc = del(ctx, e->snap_partition, k.data, k.len); /* its partition changed */
      if (rc != SL_OK)
        goto out;
    }
    rc = sl_kstate_snap_value(&v, e->end, e->flags & SL_KE_FIRED, s->aggs, sl_kentry_block(e));
    if (rc != SL_OK)
      goto out;
    rc = put(ctx, e->partition, k.data, k.len, v.data, v.len);
    if (rc != SL_OK)
      goto out;
    e->flags |= SL_KE_PERSISTED;
    e->snap_partition = e->partition;
    e->dirty_idx = NO_IDX;
    s->dirty[i] = NULL;
  }
  s->dirty_len = 0;
out:
  sl_buf_free(&k);
  sl_buf_free(&v);
  return rc;
}

int sl_kstate_restore(sl_kstate *s, int32_t partition, const void *key, size_t key_len,
                      const void *val, size_t val_len) {
  sl_kstate_snap sn;
  if (sl_kstate_snap_parse(key, key_len, val, val_len, &sn) != SL_OK)
    return SL_ERR_PARSE;
  int64_t start = sn.start, end = sn.end;
  int fired = sn.fired;
  size_t klen = sn.key_len;
  uint32_t hash = sl_key_hash(sn.key, klen);
  sl_kentry *old = sl_kstate_find(s, hash, sn.key, klen, start);
  if (old) { /* restoring twice replaces */
    unlink_entry(s, old);
    entry_free(s, old);
  }
  sl_kentry *e = sl_kstate_insert(s, hash, sn.key, klen, start, end, partition);
  if (!e)
    return SL_ERR_NOMEM;
  int rc = sl_agg_deserialize(s->aggs, sl_kentry_block(e), sn.agg, sn.agg_len);
  if (rc != SL_OK) {
    sl_kstate_remove(s, e);
    return rc;
  }
  e->flags = SL_KE_PERSISTED | (fired ? SL_KE_FIRED : 0);
  e->snap_partition = partition;
  sl_kstate_heap_update(s, e);
  if (e->dirty_idx != NO_IDX) { /* identical to the snapshot: clean */
    s->dirty[e->dirty_idx] = NULL;
    e->dirty_idx = NO_IDX;
  }
  return SL_OK;
}

void sl_kstate_drop_partition(sl_kstate *s, int32_t partition) {
  for (size_t i = 0; i < s->nbuckets; i++) {
    sl_kentry *e = s->buckets[i];
    while (e) {
      sl_kentry *next = e->next;
      if (e->partition == partition) {
        unlink_entry(s, e);
        entry_free(s, e);
      }
      e = next;
    }
  }
  sl_kstate_deletes_drop(&s->deletes, partition); /* the new owner has that state */
}

/* ---- canonical key codec ------------------------------------------------ */

static int put_be64(sl_buf *out, uint64_t u) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)(u >> (56 - 8 * i));
  return sl_buf_append(out, b, 8);
}

int sl_key_encode(const sl_value *v, sl_buf *out) {
  int rc;
  switch (v ? v->type : SL_TYPE_NULL) {
  case SL_TYPE_NULL: rc = sl_buf_putc(out, SL_KT_NULL); break;
  case SL_TYPE_BOOL:
    rc = sl_buf_putc(out, SL_KT_BOOL) || sl_buf_putc(out, (char)(v->as.b != 0));
    break;
  case SL_TYPE_INT:
    rc = sl_buf_putc(out, SL_KT_INT) || put_be64(out, (uint64_t)v->as.i ^ (UINT64_C(1) << 63));
    break;
  case SL_TYPE_DOUBLE: {
    double d = v->as.d == 0 ? 0.0 : v->as.d; /* -0.0 and 0.0 are one key */
    uint64_t u;
    if (isnan(d))
      d = NAN; /* one NaN */
    memcpy(&u, &d, 8);
    u = (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
    rc = sl_buf_putc(out, SL_KT_DOUBLE) || put_be64(out, u);
    break;
  }
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES: {
    /* Written straight into reserved room (per-byte appends were a
     * quarter of the window's cost per record). A NUL is followed by 0xff
     * so that the 00 01 terminator stays unambiguous. */
    const char *p = v->as.str.ptr, *end = p + v->as.str.len;
    size_t nuls = 0;
    for (const char *q = p; (q = memchr(q, 0, (size_t)(end - q))) != NULL; q++)
      nuls++;
    if (sl_buf_reserve(out, v->as.str.len + nuls + 3))
      return SL_ERR_NOMEM;
    char *w = out->data + out->len;
    *w++ = (char)(v->type == SL_TYPE_STRING ? SL_KT_STRING : SL_KT_BYTES);
    if (!nuls) {
      memcpy(w, p, v->as.str.len);
      w += v->as.str.len;
    } else {
      for (; p < end; p++) {
        *w++ = *p;
        if (!*p)
          *w++ = (char)0xff;
      }
    }
    *w++ = 0;
    *w++ = 1;
    out->len = (size_t)(w - out->data);
    out->data[out->len] = 0; /* as sl_buf_append leaves it */
    rc = 0;
    break;
  }
  default: return SL_ERR_TYPE;
  }
  return rc ? SL_ERR_NOMEM : SL_OK;
}

static uint64_t get_be64(const unsigned char *p) {
  uint64_t u = 0;
  for (int i = 0; i < 8; i++)
    u = u << 8 | p[i];
  return u;
}

int sl_key_decode(const unsigned char **pp, const unsigned char *end, sl_arena *a, sl_value *out) {
  const unsigned char *p = *pp;
  if (p >= end)
    return SL_ERR_PARSE;
  unsigned char tag = *p++;
  switch (tag) {
  case SL_KT_NULL: *out = sl_value_null(); break;
  case SL_KT_BOOL:
    if (p >= end)
      return SL_ERR_PARSE;
    *out = sl_value_bool(*p++);
    break;
  case SL_KT_INT:
    if (end - p < 8)
      return SL_ERR_PARSE;
    *out = sl_value_int((int64_t)(get_be64(p) ^ (UINT64_C(1) << 63)));
    p += 8;
    break;
  case SL_KT_DOUBLE: {
    if (end - p < 8)
      return SL_ERR_PARSE;
    uint64_t u = get_be64(p);
    u = (u >> 63) ? u & ~(UINT64_C(1) << 63) : ~u;
    double d;
    memcpy(&d, &u, 8);
    *out = sl_value_double(d);
    p += 8;
    break;
  }
  case SL_KT_STRING:
  case SL_KT_BYTES: {
    size_t n = 0;
    const unsigned char *q = p;
    for (;; q++) { /* measure */
      if (q + 1 >= end)
        return SL_ERR_PARSE;
      if (*q == 0) {
        if (q[1] == 1)
          break;
        q++;
      }
      n++;
    }
    char *s = sl_arena_alloc(a, n + 1);
    if (!s)
      return SL_ERR_NOMEM;
    size_t k = 0;
    while (p < q) {
      s[k++] = (char)*p;
      p += *p == 0 ? 2 : 1;
    }
    s[n] = 0;
    p = q + 2;
    *out = tag == SL_KT_STRING ? sl_value_string(s, n) : sl_value_bytes(s, n);
    break;
  }
  default: return SL_ERR_PARSE;
  }
  *pp = p;
  return SL_OK;
}

int sl_key_text(const sl_value *v, sl_buf *out) {
  switch (v->type) {
  case SL_TYPE_NULL: return SL_OK;
  case SL_TYPE_BOOL: return sl_buf_puts(out, v->as.b ? "true" : "false") ? SL_ERR_NOMEM : SL_OK;
  case SL_TYPE_INT: return sl_buf_printf(out, "%lld", (long long)v->as.i) ? SL_ERR_NOMEM : SL_OK;
  case SL_TYPE_DOUBLE: return sl_buf_printf(out, "%.17g", v->as.d) ? SL_ERR_NOMEM : SL_OK;
  default: return sl_buf_append(out, v->as.str.ptr, v->as.str.len) ? SL_ERR_NOMEM : SL_OK;
  }
}
