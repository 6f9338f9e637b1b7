/* SPDX-License-Identifier: Apache-2.0 */
/* The aligned-window store on its own: index growth with many keys, firing
 * order and closing, incremental snapshots (first one full, then only what
 * changed, deletes at close), restore, dropping a partition (compaction of
 * entries and keys, long keys), held offsets and retrying a failed emit.
 * sl_wstore_join against sl_wstore_get + sl_wstore_absorb on random records.
 * The window operator's property tests cover it against a brute force. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/window_store.h"

static sl_agg_set AGGS = SL_AGG_SET_INIT;

static size_t mkkey(char *buf, size_t cap, long i, size_t pad) {
  int n = snprintf(buf, cap, "k%06ld", i);
  size_t len = (size_t)n;
  while (len < pad && len < cap)
    buf[len] = (char)('a' + len % 26), len++;
  return len;
}

static sl_wref get(sl_wstore *s, int64_t start, const char *key, size_t len) {
  sl_wref r = {0};
  CU_ASSERT_EQUAL(sl_wstore_get(s, start, start + 10, sl_key_hash(key, len), key, len, &r), SL_OK);
  return r;
}

static int64_t count_of(const void *block) { return *(const int64_t *)block; /* count() first */ }

/* ---- emit capture --------------------------------------------------------- */

typedef struct cap {
  size_t n, fail_at; /* fail the emit numbered fail_at (1-based), 0: never */
  char last[512];
  size_t last_len;
  int ordered;
  int64_t sum;
} cap;

static int on_emit(void *ctx, const sl_wview *v) {
  cap *c = ctx;
  if (c->fail_at && c->n + 1 == c->fail_at) {
    c->fail_at = 0;
    return SL_ERR_IO;
  }
  size_t n = v->key_len < c->last_len ? v->key_len : c->last_len;
  int cmp = memcmp(c->last, v->key, n);
  if (c->n && (cmp > 0 || (cmp == 0 && c->last_len > v->key_len)))
    c->ordered = 0;
  memcpy(c->last, v->key, v->key_len);
  c->last_len = v->key_len;
  c->sum += count_of(v->block);
  c->n++;
  return SL_OK;
}

/* ---- snapshot map --------------------------------------------------------- */

typedef struct snap {
  size_t puts, dels, live;
} snap;

static int on_put(void *ctx, int32_t p, const void *k, size_t kl, const void *v, size_t vl) {
  (void)p, (void)k, (void)kl, (void)v, (void)vl;
  ((snap *)ctx)->puts++;
  return SL_OK;
}
static int on_del(void *ctx, int32_t p, const void *k, size_t kl) {
  (void)p, (void)k, (void)kl;
  ((snap *)ctx)->dels++;
  return SL_OK;
}

static void add(sl_wstore *s, sl_wref r, int32_t part, int64_t off) {
  ++*(int64_t *)sl_wstore_block(s, r);
  CU_ASSERT_EQUAL(sl_wstore_absorb(s, r, 0, part, off), SL_OK);
}

static void test_many_keys_fire_close(void) {
  sl_wstore s;
  sl_wstore_init(&s, &AGGS, 0);
  char k[64];
  for (int round = 0; round < 2; round++) /* every key twice: the second finds it */
    for (long i = 0; i < 50000; i++) {
      size_t len = mkkey(k, sizeof k, (i * 7919) % 50000, 0);
      add(&s, get(&s, 0, k, len), 0, i);
    }
  CU_ASSERT_EQUAL(s.count, 50000);
  cap c = {.ordered = 1};
  CU_ASSERT_EQUAL(sl_wstore_advance(&s, 9, on_emit, &c),
                  SL_OK); /* not ripe: fires at the end, 10 */
  CU_ASSERT_EQUAL(c.n, 0);
  CU_ASSERT_EQUAL(sl_wstore_advance(&s, 10, on_emit, &c), SL_OK);
  CU_ASSERT_EQUAL(c.n, 50000);
  CU_ASSERT_EQUAL(c.sum, 100000);
  CU_ASSERT(c.ordered);
  CU_ASSERT_EQUAL(s.count, 0); /* lateness 0: closed at once */
  CU_ASSERT_EQUAL(s.ngroups, 0);
  CU_ASSERT_EQUAL(sl_wstore_held_offset(&s, 0, 0), -1);
  sl_wstore_free(&s);
}

static void test_windows_in_end_order_and_lateness(void) {
  sl_wstore s;
  sl_wstore_init(&s, &AGGS, 5);
  add(&s, get(&s, 20, "b", 1), 0, 1);
  add(&s, get(&s, 0, "z", 1), 0, 2);
  add(&s, get(&s, 10, "a", 1), 0, 3);
  CU_ASSERT_EQUAL(s.ngroups, 3);
  CU_ASSERT_EQUAL(sl_wstore_held_offset(&s, 0, 0), 1);
  cap c = {.ordered = 1};
  CU_ASSERT_EQUAL(sl_wstore_advance(&s, 20, on_emit, &c), SL_OK);
  CU_ASSERT_EQUAL(c.n, 2); /* [0,10) then [10,20) */
  CU_ASSERT_EQUAL(c.last[0], 'a');
  CU_ASSERT_EQUAL(s.ngroups, 2); /* [0,10) closed at 10 + 5, [10,20) open until 25 */
  CU_ASSERT_EQUAL(sl_wstore_held_offset(&s, 0, 0), 1);
  /* a late record within lateness: the entry is marked and the window
   * does not emit it again when it closes */
  sl_wref r = get(&s, 10, "a", 1);
  CU_ASSERT(sl_wstore_fired(&s, r));
  sl_wref n = get(&s, 10, "new", 3);
  CU_ASSERT(!sl_wstore_fired(&s, n));
  CU_ASSERT_EQUAL(sl_wstore_set_fired(&s, n), SL_OK);
  CU_ASSERT_EQUAL(sl_wstore_advance(&s, 25, on_emit, &c), SL_OK);
  CU_ASSERT_EQUAL(c.n, 2);
  CU_ASSERT_EQUAL(s.ngroups, 1);
  CU_ASSERT_EQUAL(sl_wstore_advance(&s, 30, on_emit, &c), SL_OK);
  CU_ASSERT_EQUAL(c.n, 3);
  CU_ASSERT_EQUAL(c.last[0], 'b');
  sl_wstore_free(&s);
}

static void test_incremental_snapshots(void) {
  sl_wstore s;
  sl_wstore_init(&s, &AGGS, 0);
  char k[64];
  for (long i = 0; i < 1000; i++) { /* nothing is tracked before the first snapshot */
    size_t len = mkkey(k, sizeof k, i, 0);
    add(&s, get(&s, 0, k, len), 0, i);
  }
  snap m = {0};
  CU_ASSERT_EQUAL(sl_wstore_snapshot(&s, on_put, on_del, &m), SL_OK);
  CU_ASSERT_EQUAL(m.puts, 1000); /* the first one writes everything */
  memset(&m, 0, sizeof m);
  CU_ASSERT_EQUAL(sl_wstore_snapshot(&s, on_put, on_del, &m), SL_OK);
  CU_ASSERT_EQUAL(m.puts, 0);
  add(&s, get(&s, 0, "k000007", 7), 0, 2000);
  add(&s, get(&s, 0, "k000007", 7), 0, 2001); /* twice: written once */
  add(&s, get(&s, 0, "fresh", 5), 0, 2002);
  add(&s, get(&s, 0, "k000009", 7), 3, 2003); /* moved to partition 3 */
  CU_ASSERT_EQUAL(sl_wstore_snapshot(&s, on_put, on_del, &m), SL_OK);
  CU_ASSERT_EQUAL(m.puts, 3);
  CU_ASSERT_EQUAL(m.dels, 1); /* k000009 under its old partition */
  memset(&m, 0, sizeof m);
  cap c = {.ordered = 1};
  CU_ASSERT_EQUAL(sl_wstore_advance(&s, 10, on_emit, &c), SL_OK);
  CU_ASSERT_EQUAL(c.n, 1001);
  CU_ASSERT_EQUAL(sl_wstore_snapshot(&s, on_put, on_del, &m), SL_OK);
  CU_ASSERT_EQUAL(m.dels, 1001); /* the closed window leaves the snapshot */
  CU_ASSERT_EQUAL(m.puts, 0);
  sl_wstore_free(&s);
}

/* restore through a real snapshot value; a second restore replaces */
static void test_restore(void) {
  sl_wstore s;
  sl_wstore_init(&s, &AGGS, 0);
  sl_buf k = SL_BUF_INIT, v = SL_BUF_INIT;
  int64_t block = 41;
  CU_ASSERT_EQUAL(sl_kstate_snap_key(&k, 0, "m1", 2), SL_OK);
  CU_ASSERT_EQUAL(sl_kstate_snap_value(&v, 10, 0, &AGGS, &block), SL_OK);
  CU_ASSERT_EQUAL(sl_wstore_restore(&s, 2, k.data, k.len, v.data, v.len), SL_OK);
  CU_ASSERT_EQUAL(sl_wstore_restore(&s, 2, k.data, k.len, v.data, v.len), SL_OK);
  CU_ASSERT_EQUAL(s.count, 1);
  CU_ASSERT_EQUAL(sl_wstore_restore(&s, 2, k.data, k.len, v.data, v.len - 1), SL_ERR_PARSE);
  CU_ASSERT_EQUAL(s.count, 1);
  CU_ASSERT_EQUAL(sl_wstore_held_offset(&s, 0, 2), -1); /* the checkpoint has those records */
  sl_wref r = get(&s, 0, "m1", 2);
  CU_ASSERT_EQUAL(count_of(sl_wstore_block(&s, r)), 41);
  sl_wview view;
  sl_wstore_view(&s, r, &view);
  CU_ASSERT_EQUAL(view.partition, 2);
  snap m = {0};
  CU_ASSERT_EQUAL(sl_wstore_snapshot(&s, on_put, on_del, &m), SL_OK);
  CU_ASSERT_EQUAL(m.puts, 1);
  sl_buf_free(&k);
  sl_buf_free(&v);
  sl_wstore_free(&s);
}

static void test_drop_partition(void) {
  sl_wstore s;
  sl_wstore_init(&s, &AGGS, 0);
  char k[300];
  for (long i = 0; i < 3000; i++) { /* every third key is 200 bytes long */
    size_t len = mkkey(k, sizeof k, i, i % 3 == 0 ? 200 : 0);
    add(&s, get(&s, 0, k, len), (int32_t)(i % 2), 100 + i);
  }
  CU_ASSERT_EQUAL(sl_wstore_drop_partition(&s, 1), SL_OK);
  CU_ASSERT_EQUAL(s.count, 1500);
  for (long i = 0; i < 3000; i += 2) { /* the kept keys are found, intact */
    size_t len = mkkey(k, sizeof k, i, i % 3 == 0 ? 200 : 0);
    sl_wref r = get(&s, 0, k, len);
    CU_ASSERT_EQUAL(count_of(sl_wstore_block(&s, r)), 1);
  }
  CU_ASSERT_EQUAL(s.count, 1500);
  CU_ASSERT_EQUAL(sl_wstore_held_offset(&s, 0, 0), 100);
  CU_ASSERT_EQUAL(sl_wstore_drop_partition(&s, 0), SL_OK);
  CU_ASSERT_EQUAL(s.count, 0);
  CU_ASSERT_EQUAL(s.ngroups, 0);
  CU_ASSERT_EQUAL(sl_wstore_held_offset(&s, 0, 0), -1);
  sl_wstore_free(&s);
}

static void test_emit_failure_retries(void) {
  sl_wstore s;
  sl_wstore_init(&s, &AGGS, 0);
  add(&s, get(&s, 0, "a", 1), 0, 1);
  add(&s, get(&s, 0, "b", 1), 0, 2);
  add(&s, get(&s, 0, "c", 1), 0, 3);
  cap c = {.ordered = 1, .fail_at = 2};
  CU_ASSERT_EQUAL(sl_wstore_advance(&s, 10, on_emit, &c), SL_ERR_IO);
  CU_ASSERT_EQUAL(c.n, 1);
  CU_ASSERT_EQUAL(s.count, 3); /* nothing closed */
  CU_ASSERT_EQUAL(sl_wstore_advance(&s, 10, on_emit, &c), SL_OK);
  CU_ASSERT_EQUAL(c.n, 3); /* b and c, not a again */
  CU_ASSERT(c.ordered);
  CU_ASSERT_EQUAL(s.count, 0);
  sl_wstore_free(&s);
}

/* ---- sl_wstore_join == sl_wstore_get + sl_wstore_absorb --------------------- */

/* Everything a store shows outside: emitted views and snapshot writes as
 * text lines, compared between the two stores. */
typedef struct trace {
  sl_buf log;
} trace;

static void trace_bytes(sl_buf *b, const void *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    sl_buf_printf(b, "%02x", ((const unsigned char *)p)[i]);
}

static int trace_emit(void *ctx, const sl_wview *v) {
  sl_buf *b = &((trace *)ctx)->log;
  sl_buf_printf(b, "emit [%lld,%lld) p%d n%lld ", (long long)v->start, (long long)v->end,
                (int)v->partition, (long long)count_of(v->block));
  trace_bytes(b, v->key, v->key_len);
  sl_buf_putc(b, '\n');
  return SL_OK;
}

static int trace_put(void *ctx, int32_t p, const void *k, size_t kl, const void *v, size_t vl) {
  sl_buf *b = &((trace *)ctx)->log;
  sl_buf_printf(b, "put p%d ", (int)p);
  trace_bytes(b, k, kl);
  sl_buf_putc(b, ' ');
  trace_bytes(b, v, vl);
  sl_buf_putc(b, '\n');
  return SL_OK;
}

static int trace_del(void *ctx, int32_t p, const void *k, size_t kl) {
  sl_buf *b = &((trace *)ctx)->log;
  sl_buf_printf(b, "del p%d ", (int)p);
  trace_bytes(b, k, kl);
  sl_buf_putc(b, '\n');
  return SL_OK;
}

static uint64_t rs = 0x6a6f696eu;
static uint64_t rnd(void) {
  rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
  return rs;
}

/* Random records through join (store a) and get + absorb (store b): keys of
 * several lengths, records of a few windows interleaved (the window of the
 * record before changes), two sources, partitions -1..5, offsets missing,
 * rising or falling, snapshots (tracking), partitions dropped, watermarks:
 * the same entries, counts, held offsets, results and snapshot writes. */
static void test_join_is_get_absorb(void) {
  for (int round = 0; round < 40; round++) {
    sl_wstore a, b;
    sl_wstore_init(&a, &AGGS, (int64_t)(rnd() % 3) * 10);
    sl_wstore_init(&b, &AGGS, a.lateness);
    trace ta = {SL_BUF_INIT}, tb = {SL_BUF_INIT};
    int64_t wm = 0, base = 0;
    int nkeys = 1 + (int)(rnd() % 300);
    for (int i = 0; i < 3000; i++) {
      char k[200];
      size_t len =
          mkkey(k, sizeof k, (long)(rnd() % (uint64_t)nkeys), rnd() % 4 ? rnd() % 12 : rnd() % 150);
      int64_t start = base + (int64_t)(rnd() % 3) * 10; /* mostly the newest window */
      if (rnd() % 2)
        start = base;
      if (start + 10 + a.lateness <= wm)
        continue; /* closed: the operator sends such records to the dead letters */
      sl_wjoin j = {start,
                    start + 10,
                    k,
                    len,
                    sl_key_hash(k, len),
                    (int32_t)(rnd() % 8 == 0),
                    (int32_t)(rnd() % 7) - 1,
                    rnd() % 10 == 0 ? -1
                    : rnd() % 2     ? (int64_t)i
                                    : (int64_t)(rnd() % 5000)};
      sl_wref ra, rb;
      CU_ASSERT_EQUAL_FATAL(sl_wstore_join(&a, &j, &ra), SL_OK);
      CU_ASSERT_EQUAL_FATAL(sl_wstore_get(&b, start, start + 10, j.hash, k, len, &rb), SL_OK);
      CU_ASSERT_EQUAL_FATAL(sl_wstore_absorb(&b, rb, j.source_id, j.partition, j.offset), SL_OK);
      CU_ASSERT_PTR_EQUAL(ra.block, sl_wstore_block(&a, ra));
      CU_ASSERT_EQUAL(ra.end, sl_wstore_end(ra));
      ++*(int64_t *)ra.block;
      ++*(int64_t *)sl_wstore_block(&b, rb);
      CU_ASSERT_EQUAL_FATAL(a.count, b.count);
      switch (rnd() % 50) {
      case 0:
        CU_ASSERT_EQUAL(sl_wstore_snapshot(&a, trace_put, trace_del, &ta), SL_OK);
        CU_ASSERT_EQUAL(sl_wstore_snapshot(&b, trace_put, trace_del, &tb), SL_OK);
        break;
      case 1: {
        int32_t p = (int32_t)(rnd() % 7) - 1;
        CU_ASSERT_EQUAL(sl_wstore_drop_partition(&a, p), SL_OK);
        CU_ASSERT_EQUAL(sl_wstore_drop_partition(&b, p), SL_OK);
        break;
      }
      case 2:
      case 3:
        base += 10;
        wm = base;
        CU_ASSERT_EQUAL(sl_wstore_advance(&a, wm, trace_emit, &ta), SL_OK);
        CU_ASSERT_EQUAL(sl_wstore_advance(&b, wm, trace_emit, &tb), SL_OK);
        break;
      default: break;
      }
      for (int32_t src = 0; src < 2; src++)
        for (int32_t p = -1; p < 6; p++)
          CU_ASSERT_EQUAL_FATAL(sl_wstore_held_offset(&a, src, p),
                                sl_wstore_held_offset(&b, src, p));
    }
    CU_ASSERT_EQUAL(sl_wstore_snapshot(&a, trace_put, trace_del, &ta), SL_OK);
    CU_ASSERT_EQUAL(sl_wstore_snapshot(&b, trace_put, trace_del, &tb), SL_OK);
    CU_ASSERT_EQUAL(sl_wstore_advance(&a, INT64_MAX, trace_emit, &ta), SL_OK);
    CU_ASSERT_EQUAL(sl_wstore_advance(&b, INT64_MAX, trace_emit, &tb), SL_OK);
    CU_ASSERT(ta.log.len > 0);
    CU_ASSERT_FATAL(ta.log.len == tb.log.len && memcmp(ta.log.data, tb.log.data, ta.log.len) == 0);
    sl_buf_free(&ta.log);
    sl_buf_free(&tb.log);
    sl_wstore_free(&a);
    sl_wstore_free(&b);
  }
}

/* Pairs of (source, partition) are numbered past 65535 (only partitions
 * are limited to that many): each keeps its own held offset. */
static void test_many_source_pairs(void) {
  sl_wstore s;
  sl_wstore_init(&s, &AGGS, 0);
  for (int32_t src = 0; src < 70000; src++) {
    sl_wjoin j = {0, 10, "k", 1, sl_key_hash("k", 1), src, src % 3, 1000 + src};
    sl_wref r;
    CU_ASSERT_EQUAL_FATAL(sl_wstore_join(&s, &j, &r), SL_OK);
    ++*(int64_t *)r.block;
  }
  CU_ASSERT_EQUAL(s.count, 1);
  CU_ASSERT_EQUAL(s.nsrcs, 70000);
  for (int32_t src = 0; src < 70000; src += 6999)
    CU_ASSERT_EQUAL(sl_wstore_held_offset(&s, src, src % 3), 1000 + src);
  CU_ASSERT_EQUAL(sl_wstore_held_offset(&s, 5, 0), -1); /* source 5 sent on partition 2 */
  sl_wstore_free(&s);
}

static int setup(void) {
  sl_error err;
  return sl_agg_set_add(&AGGS, "n", "count()", &err) == SL_OK ? 0 : -1;
}
static int teardown(void) {
  sl_agg_set_free(&AGGS);
  return 0;
}

int suite_core_window_store(void) {
  CU_pSuite s = CU_add_suite("core/window_store", setup, teardown);
  if (!s ||
      !CU_add_test(s, "50k keys: index growth, key order, close", test_many_keys_fire_close) ||
      !CU_add_test(s, "windows in end order; lateness", test_windows_in_end_order_and_lateness) ||
      !CU_add_test(s, "snapshots: full, then only changes, deletes at close",
                   test_incremental_snapshots) ||
      !CU_add_test(s, "restore, restore twice, bad value", test_restore) ||
      !CU_add_test(s, "drop partition compacts entries and keys", test_drop_partition) ||
      !CU_add_test(s, "a failed emit is retried without duplicates", test_emit_failure_retries) ||
      !CU_add_test(s, "join == get + absorb on random records", test_join_is_get_absorb) ||
      !CU_add_test(s, "more than 65535 source pairs", test_many_source_pairs))
    return -1;
  return 0;
}
