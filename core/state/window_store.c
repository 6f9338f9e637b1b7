/* SPDX-License-Identifier: Apache-2.0 */
/* The aligned-window store (see window_store.h): groups sorted by window
 * end, each an entry array, its key bytes and an open-addressing index. */
#define _GNU_SOURCE /* qsort_r */
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"
#include "state/key_short.h"
#include "state/window_assign.h"
#include "state/window_store.h"

#define KEY_OFF_MAX ((UINT32_C(1) << (32 - WF_BITS)) - 1)
#define MAX_SLOT_BITS 31u

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return SL_OK;
  size_t ncap = *cap ? *cap : 8;
  while (ncap < need)
    ncap *= 2;
  void *n = realloc(*arr, ncap * elem);
  if (!n)
    return SL_ERR_NOMEM;
  *arr = n;
  *cap = ncap;
  return SL_OK;
}

int sl_wstore_init(sl_wstore *s, const sl_agg_set *aggs, int64_t lateness) {
  memset(s, 0, sizeof *s);
  s->aggs = aggs;
  s->lateness = lateness;
  s->stride = sizeof(went) + aggs->block_size;
  s->next_action = INT64_MAX;
  return SL_OK;
}

static void group_free(const sl_wstore *s, sl_wgroup *g) {
  for (size_t i = 0; i < g->count; i++)
    sl_agg_release(s->aggs, sl_wst_blk(sl_wst_ent(s, g, i)));
  free(g->slots);
  free(g->entries);
  sl_buf_free(&g->keys);
  free(g->dirty);
  free(g->held);
  free(g);
}

void sl_wstore_free(sl_wstore *s) {
  for (size_t i = 0; i < s->ngroups; i++)
    group_free(s, s->groups[i]);
  free(s->groups);
  free(s->parts);
  free(s->srcs);
  sl_buf_free(&s->deletes);
  memset(s, 0, sizeof *s);
}

static int64_t action_time(const sl_wstore *s, const sl_wgroup *g) {
  return g->unfired ? g->end : sl_sat_add(g->end, s->lateness);
}

static void note_action(sl_wstore *s, const sl_wgroup *g) {
  int64_t t = action_time(s, g);
  if (t < s->next_action)
    s->next_action = t;
}

static void recompute_next(sl_wstore *s) {
  s->next_action = INT64_MAX;
  for (size_t i = 0; i < s->ngroups; i++) {
    int64_t t = action_time(s, s->groups[i]);
    if (t < s->next_action)
      s->next_action = t;
  }
}

/* ---- partitions ----------------------------------------------------------- */

static int part_index(sl_wstore *s, int32_t partition, uint16_t *out) {
  if (s->parts_last < s->nparts && s->parts[s->parts_last] == partition) {
    *out = (uint16_t)s->parts_last;
    return SL_OK;
  }
  for (size_t i = 0; i < s->nparts; i++)
    if (s->parts[i] == partition) {
      *out = (uint16_t)(s->parts_last = i);
      return SL_OK;
    }
  if (s->nparts > UINT16_MAX)
    return SL_ERR_LIMIT;
  if (grow((void **)&s->parts, &s->parts_cap, s->nparts + 1, sizeof *s->parts) != SL_OK)
    return SL_ERR_NOMEM;
  s->parts[s->nparts] = partition;
  *out = (uint16_t)(s->parts_last = s->nparts++);
  return SL_OK;
}

/* Records of a few partitions come interleaved (a source partitioned by
 * the window key sends each key's records on one partition): a pair's
 * number is found by one compare in a small direct-mapped cache. */
static int src_find(sl_wstore *s, int32_t source_id, int32_t partition, uint32_t *out) {
  size_t i = 0;
  while (i < s->nsrcs && (s->srcs[i].source_id != source_id || s->srcs[i].partition != partition))
    i++;
  if (i == s->nsrcs) {
    uint16_t p;
    int rc = i >= UINT32_MAX - 1 ? SL_ERR_LIMIT : part_index(s, partition, &p);
    if (rc == SL_OK)
      rc = grow((void **)&s->srcs, &s->srcs_cap, s->nsrcs + 1, sizeof *s->srcs);
    if (rc != SL_OK)
      return rc;
    s->srcs[s->nsrcs++] = (sl_wsrc){source_id, partition, p};
  }
  s->src_cache[sl_wst_src_slot(source_id, partition)] = (uint32_t)(i + 1);
  *out = (uint32_t)i;
  return SL_OK;
}

static int src_of(sl_wstore *s, int32_t source_id, int32_t partition, uint32_t *out) {
  uint32_t i = s->src_cache[sl_wst_src_slot(source_id, partition)] - 1;
  if (i < s->nsrcs && s->srcs[i].partition == partition && s->srcs[i].source_id == source_id) {
    *out = i;
    return SL_OK;
  }
  return src_find(s, source_id, partition, out);
}

/* ---- index ---------------------------------------------------------------- */

static void slot_put(sl_wgroup *g, uint32_t hash, size_t idx) {
  uint32_t mask = (UINT32_C(1) << g->bits) - 1, pos = hash & mask;
  while (g->slots[pos])
    pos = (pos + 1) & mask;
  g->slots[pos] = sl_wst_tag(hash, g->bits) << g->bits | (uint32_t)(idx + 1);
}

/* Index the entries into `slots` (2^bits of them, zeroed): cannot fail. */
static void index_into(const sl_wstore *s, sl_wgroup *g, uint32_t *slots, uint32_t bits) {
  free(g->slots);
  g->slots = slots;
  g->bits = bits;
  for (size_t i = 0; i < g->count; i++) {
    size_t len;
    const unsigned char *k = sl_wst_key(g, sl_wst_ent(s, g, i), &len);
    slot_put(g, sl_key_hash(k, len), i);
  }
}

/* Rebuild the index with 2^bits slots from the entries. */
static int reindex(const sl_wstore *s, sl_wgroup *g, uint32_t bits) {
  if (bits > MAX_SLOT_BITS)
    return SL_ERR_LIMIT;
  uint32_t *slots = calloc((size_t)1 << bits, sizeof *slots);
  if (!slots)
    return SL_ERR_NOMEM;
  index_into(s, g, slots, bits);
  return SL_OK;
}

/* ---- groups --------------------------------------------------------------- */

static int group_cmp(const sl_wgroup *g, int64_t start, int64_t end) {
  if (g->end != end)
    return g->end < end ? -1 : 1;
  return (g->start > start) - (g->start < start);
}

/* Position of (start, end) in s->groups; *found when it is there. */
static size_t group_pos(const sl_wstore *s, int64_t start, int64_t end, int *found) {
  size_t lo = 0, hi = s->ngroups;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = group_cmp(s->groups[mid], start, end);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = 0;
  return lo;
}

/* The window starting at `start`: a window is known by its start, as in
 * snapshot keys, so a window restored with another size (the pipeline's
 * window changed) keeps taking its key's records, as it always did. */
static int group_get(sl_wstore *s, int64_t start, int64_t end, sl_wgroup **out) {
  if (s->last < s->ngroups && s->groups[s->last]->start == start) {
    *out = s->groups[s->last];
    return SL_OK;
  }
  int found;
  size_t pos = group_pos(s, start, end, &found);
  for (size_t i = 0; !found && i < s->ngroups; i++) /* rare: another size */
    if (s->groups[i]->start == start) {
      found = 1;
      pos = i;
    }
  if (!found) {
    sl_wgroup *g = calloc(1, sizeof *g);
    if (!g || grow((void **)&s->groups, &s->groups_cap, s->ngroups + 1, sizeof *s->groups)) {
      free(g);
      return SL_ERR_NOMEM;
    }
    g->start = start;
    g->end = end;
    if (reindex(s, g, 4) != SL_OK) {
      free(g);
      return SL_ERR_NOMEM;
    }
    memmove(s->groups + pos + 1, s->groups + pos, (s->ngroups - pos) * sizeof *s->groups);
    s->groups[pos] = g;
    s->ngroups++;
    note_action(s, g);
  }
  s->last = pos;
  *out = s->groups[pos];
  return SL_OK;
}

static void group_remove(sl_wstore *s, size_t pos) {
  group_free(s, s->groups[pos]);
  memmove(s->groups + pos, s->groups + pos + 1, (s->ngroups - pos - 1) * sizeof *s->groups);
  s->ngroups--;
  s->last = 0;
}

/* ---- entries -------------------------------------------------------------- */

static int touch(sl_wstore *s, sl_wgroup *g, size_t idx) {
  went *e = sl_wst_ent(s, g, idx);
  if (!s->tracking || (e->key & WF_DIRTY))
    return SL_OK;
  if (grow((void **)&g->dirty, &g->dirty_cap, g->ndirty + 1, sizeof *g->dirty) != SL_OK)
    return SL_ERR_NOMEM;
  g->dirty[g->ndirty++] = (uint32_t)idx;
  e->key |= WF_DIRTY;
  return SL_OK;
}

static int entry_add(sl_wstore *s, sl_wgroup *g, uint32_t hash, const void *key, size_t len,
                     size_t *idx) {
  if (len > UINT16_MAX)
    return SL_ERR_LIMIT;
  if ((g->count + 1) * 4 > ((size_t)3 << g->bits)) { /* load above 3/4 */
    int rc = reindex(s, g, g->bits + 1);
    if (rc != SL_OK)
      return rc;
  }
  if (grow((void **)&g->entries, &g->cap, g->count + 1, s->stride) != SL_OK)
    return SL_ERR_NOMEM;
  size_t off = g->keys.len;
  if (off > KEY_OFF_MAX)
    return SL_ERR_LIMIT;
  unsigned char pre[3] = {(unsigned char)len, 0, 0};
  size_t npre = 1;
  if (len >= 0x80) {
    pre[0] = 0x80, pre[1] = (unsigned char)len, pre[2] = (unsigned char)(len >> 8);
    npre = 3;
  }
  if (sl_buf_append(&g->keys, pre, npre) || sl_buf_append(&g->keys, key, len))
    return SL_ERR_NOMEM;
  went *e = sl_wst_ent(s, g, g->count);
  e->key = (uint32_t)off << WF_BITS;
  e->part = e->snap = 0;
  sl_agg_init(s->aggs, sl_wst_blk(e));
  slot_put(g, hash, g->count);
  *idx = g->count++;
  s->count++;
  g->unfired++;
  note_action(s, g);
  return touch(s, g, *idx);
}

static int get_entry(sl_wstore *s, int64_t start, int64_t end, uint32_t hash, const void *key,
                     size_t len, sl_wref *out, int *created) {
  sl_wgroup *g;
  int rc = group_get(s, start, end, &g);
  if (rc != SL_OK)
    return rc;
  long idx = sl_wst_find(s, g, hash, key, len);
  *created = idx < 0;
  if (idx < 0) {
    size_t n;
    if ((rc = entry_add(s, g, hash, key, len, &n)) != SL_OK)
      return rc;
    idx = (long)n;
  }
  out->g = g;
  out->idx = (uint32_t)idx;
  out->block = sl_wst_blk(sl_wst_ent(s, g, (size_t)idx));
  out->end = g->end;
  return SL_OK;
}

int sl_wstore_get(sl_wstore *s, int64_t start, int64_t end, uint32_t hash, const void *key,
                  size_t len, sl_wref *out) {
  int created;
  return get_entry(s, start, end, hash, key, len, out, &created);
}

void *sl_wstore_block(const sl_wstore *s, sl_wref r) {
  return sl_wst_blk(sl_wst_ent(s, r.g, r.idx));
}

int64_t sl_wstore_end(sl_wref r) { return r.g->end; }

void sl_wstore_view(const sl_wstore *s, sl_wref r, sl_wview *out) {
  went *e = sl_wst_ent(s, r.g, r.idx);
  out->start = r.g->start;
  out->end = r.g->end;
  out->partition = s->parts ? s->parts[e->part] : -1;
  out->key = sl_wst_key(r.g, e, &out->key_len);
  out->block = sl_wst_blk(e);
}

/* Hold `offset` of pair i in g: -1 in the pairs' slots it did not have. */
static int hold(sl_wgroup *g, uint32_t i, int64_t offset) {
  if (i >= g->nheld) { /* at least doubled: many pairs do not realloc each */
    size_t size = (size_t)i + 1 > 2 * g->nheld ? (size_t)i + 1 : 2 * g->nheld;
    int64_t *n = realloc(g->held, size * sizeof *n);
    if (!n)
      return SL_ERR_NOMEM;
    for (size_t k = g->nheld; k < size; k++)
      n[k] = -1;
    g->held = n;
    g->nheld = size;
  }
  if (g->held[i] < 0 || offset < g->held[i])
    g->held[i] = offset;
  return SL_OK;
}

int sl_wstore_absorb(sl_wstore *s, sl_wref r, int32_t source_id, int32_t partition,
                     int64_t offset) {
  uint32_t i;
  int rc = src_of(s, source_id, partition, &i);
  if (rc != SL_OK)
    return rc;
  sl_wgroup *g = r.g;
  sl_wst_ent(s, g, r.idx)->part = s->srcs[i].part;
  if (partition >= 0 && offset >= 0 && !(i < g->nheld && g->held[i] >= 0 && g->held[i] <= offset) &&
      (rc = hold(g, i, offset)) != SL_OK)
    return rc;
  return touch(s, g, r.idx);
}

int sl_wstore_join_any(sl_wstore *s, const sl_wjoin *j, sl_wref *out) {
  int rc = sl_wstore_get(s, j->start, j->end, j->hash, j->key, j->len, out);
  return rc == SL_OK ? sl_wstore_absorb(s, *out, j->source_id, j->partition, j->offset) : rc;
}

int sl_wstore_fired(const sl_wstore *s, sl_wref r) {
  return (sl_wst_ent(s, r.g, r.idx)->key & WF_FIRED) != 0;
}

int sl_wstore_set_fired(sl_wstore *s, sl_wref r) {
  went *e = sl_wst_ent(s, r.g, r.idx);
  if (!(e->key & WF_FIRED)) {
    e->key |= WF_FIRED;
    r.g->unfired--;
  }
  return touch(s, r.g, r.idx);
}

/* ---- firing and closing --------------------------------------------------- */

typedef struct order_ctx {
  const sl_wstore *s;
  const sl_wgroup *g;
} order_ctx;

/* An entry to sort: the first 8 key bytes, big-endian and zero-padded,
 * order most keys without reading them again (a window fires thousands of
 * keys at once and sorting them was 7 % of the reference pipeline). */
typedef struct sort_item {
  uint64_t prefix;
  uint32_t idx;
} sort_item;

static uint64_t key_prefix(const unsigned char *k, size_t len) {
  uint64_t p = 0;
  for (size_t i = 0; i < 8; i++)
    p = p << 8 | (i < len ? k[i] : 0);
  return p;
}

static int key_cmp(const void *a, const void *b, void *ctx) {
  const sort_item *x = a, *y = b;
  if (x->prefix != y->prefix) /* the same order as memcmp, shorter first */
    return x->prefix < y->prefix ? -1 : 1;
  const order_ctx *c = ctx;
  size_t la, lb;
  const unsigned char *ka = sl_wst_key(c->g, sl_wst_ent(c->s, c->g, x->idx), &la);
  const unsigned char *kb = sl_wst_key(c->g, sl_wst_ent(c->s, c->g, y->idx), &lb);
  int r = memcmp(ka, kb, la < lb ? la : lb);
  return r ? r : (la > lb) - (la < lb);
}

/* Emit the entries not fired yet in key order; each is marked fired once
 * its callback succeeded, so a failed emit can be retried. */
static int fire_group(sl_wstore *s, sl_wgroup *g, sl_wstore_emit_fn emit, void *ctx) {
  size_t n = 0;
  sort_item *order = malloc((g->count ? g->count : 1) * sizeof *order);
  if (!order)
    return SL_ERR_NOMEM;
  for (size_t i = 0; i < g->count; i++) {
    went *e = sl_wst_ent(s, g, i);
    if (e->key & WF_FIRED)
      continue;
    size_t len;
    const unsigned char *k = sl_wst_key(g, e, &len);
    order[n++] = (sort_item){key_prefix(k, len), (uint32_t)i};
  }
  order_ctx oc = {s, g};
  qsort_r(order, n, sizeof *order, key_cmp, &oc);
  int rc = SL_OK;
  for (size_t i = 0; i < n && rc == SL_OK; i++) {
    sl_wref r = {.g = g, .idx = order[i].idx};
    sl_wview v;
    sl_wstore_view(s, r, &v);
    rc = emit(ctx, &v);
    if (rc == SL_OK)
      rc = sl_wstore_set_fired(s, r);
  }
  free(order);
  return rc;
}

/* The snapshot must forget what it holds of a closing window. */
static int close_group(sl_wstore *s, sl_wgroup *g) {
  for (size_t i = 0; i < g->count; i++) {
    went *e = sl_wst_ent(s, g, i);
    if (!(e->key & WF_PERSISTED))
      continue;
    size_t len;
    const unsigned char *k = sl_wst_key(g, e, &len);
    int rc = sl_kstate_deletes_queue(&s->deletes, s->parts[e->snap], g->start, k, len);
    if (rc != SL_OK)
      return rc;
  }
  s->count -= g->count;
  return SL_OK;
}

int sl_wstore_advance(sl_wstore *s, int64_t wm, sl_wstore_emit_fn emit, void *ctx) {
  if (wm < s->next_action)
    return SL_OK;
  int rc = SL_OK;
  for (size_t i = 0; i < s->ngroups && rc == SL_OK;) {
    sl_wgroup *g = s->groups[i];
    if (g->end > wm)
      break; /* groups are in end order: nothing later is due */
    if (g->unfired && (rc = fire_group(s, g, emit, ctx)) != SL_OK)
      break;
    if (action_time(s, g) <= wm) {
      if ((rc = close_group(s, g)) != SL_OK)
        break;
      group_remove(s, i);
      continue;
    }
    i++;
  }
  recompute_next(s);
  return rc;
}

/* ---- snapshots ------------------------------------------------------------ */

static int write_entry(sl_wstore *s, sl_wgroup *g, size_t idx, sl_kstate_put_fn put,
                       sl_kstate_del_fn del, void *ctx, sl_buf *k, sl_buf *v) {
  went *e = sl_wst_ent(s, g, idx);
  size_t len;
  const unsigned char *key = sl_wst_key(g, e, &len);
  int rc = sl_kstate_snap_key(k, g->start, key, len);
  if (rc == SL_OK && (e->key & WF_PERSISTED) && e->snap != e->part) /* its partition changed */
    rc = del(ctx, s->parts[e->snap], k->data, k->len);
  if (rc == SL_OK)
    rc = sl_kstate_snap_value(v, g->end, e->key & WF_FIRED, s->aggs, sl_wst_blk(e));
  if (rc == SL_OK)
    rc = put(ctx, s->parts[e->part], k->data, k->len, v->data, v->len);
  if (rc == SL_OK) {
    e->key = (e->key | WF_PERSISTED) & ~WF_DIRTY;
    e->snap = e->part;
  }
  return rc;
}

int sl_wstore_snapshot(sl_wstore *s, sl_kstate_put_fn put, sl_kstate_del_fn del, void *ctx) {
  int rc = sl_kstate_deletes_flush(&s->deletes, del, ctx);
  if (rc != SL_OK)
    return rc;
  sl_buf k = SL_BUF_INIT, v = SL_BUF_INIT;
  for (size_t gi = 0; gi < s->ngroups && rc == SL_OK; gi++) {
    sl_wgroup *g = s->groups[gi];
    if (!s->tracking) { /* the first snapshot writes everything */
      for (size_t i = 0; i < g->count && rc == SL_OK; i++)
        rc = write_entry(s, g, i, put, del, ctx, &k, &v);
      continue;
    }
    for (size_t i = 0; i < g->ndirty && rc == SL_OK; i++)
      if (sl_wst_ent(s, g, g->dirty[i])->key & WF_DIRTY)
        rc = write_entry(s, g, g->dirty[i], put, del, ctx, &k, &v);
    if (rc == SL_OK)
      g->ndirty = 0;
  }
  if (rc == SL_OK)
    s->tracking = 1;
  sl_buf_free(&k);
  sl_buf_free(&v);
  return rc;
}

int sl_wstore_restore(sl_wstore *s, int32_t partition, const void *key, size_t key_len,
                      const void *val, size_t val_len) {
  sl_kstate_snap sn;
  if (sl_kstate_snap_parse(key, key_len, val, val_len, &sn) != SL_OK)
    return SL_ERR_PARSE;
  /* into a scratch block first: a bad value must not leave an empty entry */
  void *tmp = malloc(s->aggs->block_size ? s->aggs->block_size : 1);
  if (!tmp)
    return SL_ERR_NOMEM;
  sl_agg_init(s->aggs, tmp);
  int rc = sl_agg_deserialize(s->aggs, tmp, sn.agg, sn.agg_len);
  uint16_t p;
  if (rc == SL_OK)
    rc = part_index(s, partition, &p);
  sl_wref r;
  int created;
  if (rc == SL_OK)
    rc = get_entry(s, sn.start, sn.end, sl_key_hash(sn.key, sn.key_len), sn.key, sn.key_len, &r,
                   &created);
  if (rc != SL_OK) {
    sl_agg_release(s->aggs, tmp);
    free(tmp);
    return rc;
  }
  went *e = sl_wst_ent(s, r.g, r.idx);
  if (!created) /* restoring twice replaces */
    sl_agg_release(s->aggs, sl_wst_blk(e));
  memcpy(sl_wst_blk(e), tmp, s->aggs->block_size); /* the block now owns what tmp held */
  free(tmp);
  if (!(e->key & WF_FIRED) != !sn.fired) { /* a new entry counts as unfired */
    if (sn.fired)
      r.g->unfired--;
    else
      r.g->unfired++;
  }
  e->key = (e->key & ~(WF_FIRED | WF_DIRTY)) | WF_PERSISTED | (sn.fired ? WF_FIRED : 0);
  e->part = e->snap = p;
  note_action(s, r.g);
  return SL_OK;
}

/* ---- partitions moving away ----------------------------------------------- */

/* Drop the entries of partition index p from g, compacting in place. */
/* Drop the entries of partition index p and what the window holds of the
 * partition: a worker holds offsets only of partitions it owns (a window
 * that keeps another partition's entry fed by this one would otherwise pin
 * the partition's commits if it ever comes back, below what its owner in
 * between committed). */
static int group_drop(sl_wstore *s, sl_wgroup *g, long p, int32_t partition) {
  for (size_t i = 0; i < g->nheld && i < s->nsrcs; i++) /* held may have spare room */
    if (s->srcs[i].partition == partition)
      g->held[i] = -1;
  if (p < 0)
    return SL_OK; /* no entry of it here */
  /* the only allocation first: past it the group changes shape for good */
  uint32_t *slots = calloc((size_t)1 << g->bits, sizeof *slots);
  if (!slots)
    return SL_ERR_NOMEM;
  size_t kept = 0, key_off = 0;
  for (size_t i = 0; i < g->count; i++) {
    went *e = sl_wst_ent(s, g, i);
    size_t len;
    const unsigned char *k = sl_wst_key(g, e, &len);
    size_t rec = (size_t)(k - (const unsigned char *)g->keys.data) - (e->key >> WF_BITS) + len;
    if ((long)e->part == p) {
      if (!(e->key & WF_FIRED))
        g->unfired--;
      sl_agg_release(s->aggs, sl_wst_blk(e));
      continue;
    }
    /* both the entry and its key bytes only move towards the front */
    memmove(g->keys.data + key_off, g->keys.data + (e->key >> WF_BITS), rec);
    e->key = (uint32_t)key_off << WF_BITS | (e->key & ((1u << WF_BITS) - 1));
    key_off += rec;
    if (kept != i)
      memmove(sl_wst_ent(s, g, kept), e, s->stride);
    kept++;
  }
  s->count -= g->count - kept;
  g->count = kept;
  g->keys.len = key_off;
  /* entries flagged dirty were each listed once: the list has room */
  g->ndirty = 0;
  for (size_t i = 0; i < g->count; i++)
    if (sl_wst_ent(s, g, i)->key & WF_DIRTY)
      g->dirty[g->ndirty++] = (uint32_t)i;
  index_into(s, g, slots, g->bits);
  return SL_OK;
}

int sl_wstore_drop_partition(sl_wstore *s, int32_t partition) {
  long p = -1;
  for (size_t i = 0; i < s->nparts; i++)
    if (s->parts[i] == partition)
      p = (long)i;
  int rc = SL_OK;
  for (size_t i = 0; i < s->ngroups && rc == SL_OK;) {
    rc = group_drop(s, s->groups[i], p, partition);
    if (rc == SL_OK && s->groups[i]->count == 0) {
      group_remove(s, i);
      continue;
    }
    i++;
  }
  recompute_next(s);
  sl_kstate_deletes_drop(&s->deletes, partition); /* the new owner has that state */
  return rc;
}

int64_t sl_wstore_held_offset(const sl_wstore *s, int32_t source_id, int32_t partition) {
  size_t k = 0;
  while (k < s->nsrcs && (s->srcs[k].source_id != source_id || s->srcs[k].partition != partition))
    k++;
  int64_t min = -1;
  for (size_t i = 0; i < s->ngroups && k < s->nsrcs; i++) {
    const sl_wgroup *g = s->groups[i];
    if (k < g->nheld && g->held[k] >= 0 && (min < 0 || g->held[k] < min))
      min = g->held[k];
  }
  return min;
}
