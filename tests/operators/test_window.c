/* SPDX-License-Identifier: Apache-2.0 */
/* The window operator through the fake host: randomized property tests of
 * tumbling, hopping and session windows against the brute-force reference
 * in window_ref.h (every result, every late record, any batch split, with
 * and without a snapshot/restore in the middle), then edge cases. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../operators/builtin.h"
#include "harness.h"
#include "window_ref.h"

static uint64_t rs;
static uint64_t rnd(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return rs;
}

/* opts: NULL-terminated name/value pairs ("key" takes a comma list);
 * aggs: NULL-terminated output/spec pairs. */
static sl_config *mk(const char *const *opts, const char *const *aggs) {
  sl_config *c = sl_config_new("test.lua", 7);
  for (; opts && *opts; opts += 2) {
    if (strcmp(opts[0], "key") == 0) {
      char buf[256], *items[8], *save = NULL;
      size_t n = 0;
      snprintf(buf, sizeof buf, "%s", opts[1]);
      for (char *p = strtok_r(buf, ",", &save); p && n < 8; p = strtok_r(NULL, ",", &save))
        items[n++] = p;
      sl_config_put_list(c, "key", (const char *const *)items, n);
    } else {
      sl_config_put_string(c, opts[0], opts[1]);
    }
  }
  if (aggs) {
    sl_config *a = sl_config_new("test.lua", 7);
    for (; *aggs; aggs += 2)
      sl_config_put_string(a, aggs[0], aggs[1]);
    sl_config_put_table(c, "aggregate", a);
  }
  return c;
}

static const char *const AGGS[] = {"n", "count()", "nv", "count(v)", "s", "sum(v)", "lo", "min(v)",
                                   "hi", "max(v)", "f", "first(v)", "l", "last(v)", NULL};

static int init_op(th_op *t, const char *const *opts, const char *const *aggs) {
  sl_config *c = mk(opts, aggs);
  int rc = th_op_init(t, &sl_op_window, c);
  sl_config_destroy(c);
  return rc;
}

/* ---- property tests ------------------------------------------------------ */

typedef struct scenario {
  int kind, str_keys, nparts;
  int64_t size, every, delay, lateness;
  char size_s[32], every_s[32], delay_s[32], late_s[32];
  ref_rec *recs;
  int n;
} scenario;

static void gen(scenario *sc, int kind) {
  memset(sc, 0, sizeof *sc);
  sc->kind = kind;
  static const int64_t sizes[] = {1, 7, 10, 100};
  sc->size = sizes[rnd() % 4];
  if (kind == REF_HOPPING) {
    sc->size = 2 + (int64_t)(rnd() % 29);
    sc->every = 1 + (int64_t)(rnd() % (uint64_t)sc->size);
    if (sc->size / sc->every > 8)
      sc->every = sc->size / 8 + 1;
  }
  sc->delay = rnd() % 3 ? (int64_t)(rnd() % (uint64_t)(2 * sc->size + 1)) : 0;
  sc->lateness = rnd() % 2 ? (int64_t)(rnd() % (uint64_t)(2 * sc->size + 1)) : 0;
  sc->str_keys = (int)(rnd() % 2);
  sc->nparts = 1 + (int)(rnd() % 3);
  snprintf(sc->size_s, sizeof sc->size_s, "%lld", (long long)sc->size);
  snprintf(sc->every_s, sizeof sc->every_s, "%lld", (long long)sc->every);
  snprintf(sc->delay_s, sizeof sc->delay_s, "%lldms", (long long)sc->delay);
  snprintf(sc->late_s, sizeof sc->late_s, "%lld", (long long)sc->lateness);
  static const int64_t bases[] = {0, -1000003, 1700000000000, REF_TMAX - 3000, -REF_TMAX};
  int64_t clock = bases[rnd() % 5];
  sc->n = (int)(rnd() % 160);
  sc->recs = calloc((size_t)sc->n + 1, sizeof *sc->recs);
  int nkeys = 1 + (int)(rnd() % 6);
  for (int i = 0; i < sc->n; i++) {
    ref_rec *x = &sc->recs[i];
    x->id = i;
    x->key = (int64_t)(rnd() % (uint64_t)nkeys) - (sc->str_keys ? 0 : 2);
    clock += (int64_t)(rnd() % (uint64_t)(sc->size / 2 + 2));
    int64_t t = clock;
    uint64_t j = rnd() % 10;
    if (j < 3) /* out of order within roughly the delay */
      t -= (int64_t)(rnd() % (uint64_t)(sc->delay + 1));
    else if (j == 3) /* beyond it: often late */
      t -= (int64_t)(rnd() % (uint64_t)(4 * sc->size + sc->delay + 1));
    x->t = t;
    x->has_v = rnd() % 8 != 0;
    x->v = (int64_t)(rnd() % 201) - 100;
    x->part = (int32_t)(rnd() % (uint64_t)sc->nparts);
  }
}

static sl_record *mkrec(th_op *t, const ref_rec *x, int str_keys) {
  sl_record *r = sl_record_new(t->arena, 4);
  char k[32];
  snprintf(k, sizeof k, "k%lld", (long long)x->key);
  sl_record_set(r, sl_name_cstr("id"), sl_value_int(x->id));
  sl_record_set(r, sl_name_cstr("k"), str_keys ? th_str(t, k) : sl_value_int(x->key));
  sl_record_set(r, sl_name_cstr("ts"), sl_value_int(x->t));
  sl_record_set(r, sl_name_cstr("v"), x->has_v ? sl_value_int(x->v) : sl_value_null());
  sl_record_set_position(r, 0, "topic", x->part, x->id);
  return r;
}

static int init_scenario(th_op *t, const scenario *sc) {
  const char *kind = sc->kind == REF_TUMBLING ? "tumbling" : sc->kind == REF_HOPPING ? "hopping" : "session";
  const char *opts[] = {kind, sc->size_s, "key", "k", "time", "ts", "delay", sc->delay_s,
                        "lateness", sc->late_s, sc->kind == REF_HOPPING ? "every" : NULL, sc->every_s,
                        NULL};
  return init_op(t, opts, AGGS);
}

/* Feed records [from, to) in random batch sizes; snapshot at random batch
 * boundaries when `snap` is set. */
static void feed(th_op *t, const scenario *sc, int from, int to, int max_batch, int snap) {
  sl_record *batch[64];
  int i = from;
  while (i < to) {
    int b = max_batch <= 1 ? 1 : 1 + (int)(rnd() % (uint64_t)max_batch);
    if (b > to - i)
      b = to - i;
    for (int k = 0; k < b; k++)
      batch[k] = mkrec(t, &sc->recs[i + k], sc->str_keys);
    CU_ASSERT_EQUAL_FATAL(th_process(t, batch, (size_t)b), SL_OK);
    i += b;
    if (snap && rnd() % 3 == 0)
      CU_ASSERT_EQUAL_FATAL(th_snapshot(t), SL_OK);
  }
}

static int64_t geti(const sl_record *r, const char *f, int *isnull) {
  const sl_value *v = sl_record_get_cstr(r, f);
  *isnull = !v || v->type == SL_TYPE_NULL;
  return *isnull ? 0 : v->as.i;
}

/* Compare one emitted record with the expected result; 0 when equal. */
static int diff_out(const sl_record *o, const ref_out *e, int str_keys) {
  int nul;
  const sl_value *k = sl_record_get_cstr(o, "k");
  char want[32];
  snprintf(want, sizeof want, "k%lld", (long long)e->key);
  if (str_keys ? (!k || k->type != SL_TYPE_STRING || strcmp(k->as.str.ptr, want) != 0)
               : (!k || k->type != SL_TYPE_INT || k->as.i != e->key))
    return 1;
  if (geti(o, "window_start", &nul) != e->s || geti(o, "window_end", &nul) != e->e)
    return 2;
  if (sl_record_timestamp(o) != e->e - 1)
    return 3;
  if (geti(o, "n", &nul) != e->n || geti(o, "nv", &nul) != e->nv)
    return 4;
  const char *f[] = {"s", "lo", "hi", "f", "l"};
  int64_t w[] = {e->sum, e->lo, e->hi, e->first, e->last};
  for (int i = 0; i < 5; i++) {
    int64_t got = geti(o, f[i], &nul);
    if (nul != (e->nv == 0) || (!nul && got != w[i]))
      return 5 + i;
  }
  size_t klen;
  const char *key = sl_record_key(o, &klen);
  char ktext[32];
  snprintf(ktext, sizeof ktext, str_keys ? "k%lld" : "%lld", (long long)e->key);
  if (!key || klen != strlen(ktext) || memcmp(key, ktext, klen) != 0)
    return 11;
  return 0;
}

/* Outputs of a (then b, if given) equal the reference, in order. */
static int matches(const ref *r, th_op *a, th_op *b, int str_keys, const char *what) {
  size_t na = a->out_count, nb = b ? b->out_count : 0;
  if (na + nb != (size_t)r->nouts) {
    printf("\n%s: %zu results, expected %d\n", what, na + nb, r->nouts);
    return 0;
  }
  for (size_t i = 0; i < na + nb; i++) {
    const sl_record *o = i < na ? a->out[i] : b->out[i - na];
    int d = diff_out(o, &r->outs[i], str_keys);
    if (d) {
      int nul;
      printf("\n%s: result %zu differs (%d): got [%lld,%lld) n=%lld, want key %lld [%lld,%lld) n=%lld\n",
             what, i, d, (long long)geti(o, "window_start", &nul),
             (long long)geti(o, "window_end", &nul), (long long)geti(o, "n", &nul),
             (long long)r->outs[i].key, (long long)r->outs[i].s, (long long)r->outs[i].e,
             (long long)r->outs[i].n);
      return 0;
    }
  }
  size_t da = a->dead_count, db = b ? b->dead_count : 0;
  if (da + db != (size_t)r->ndead) {
    printf("\n%s: %zu dead letters, expected %d\n", what, da + db, r->ndead);
    return 0;
  }
  for (size_t i = 0; i < da + db; i++) {
    const th_dead *d = i < da ? &a->dead[i] : &b->dead[i - da];
    int nul;
    const char *reason = r->dead_reason[i] == 'l' ? "late" : "eval";
    if (geti(d->record, "id", &nul) != r->dead_ids[i] || strcmp(d->reason, reason) != 0) {
      printf("\n%s: dead letter %zu: got id %lld (%s), want %d (%s)\n", what, i,
             (long long)geti(d->record, "id", &nul), d->reason, r->dead_ids[i], reason);
      return 0;
    }
  }
  int nlate = 0;
  for (int i = 0; i < r->ndead; i++)
    nlate += r->dead_reason[i] == 'l';
  double counted = th_counter(a, "sluice_late_records_total") +
                   (b ? th_counter(b, "sluice_late_records_total") : 0);
  if (counted != nlate) {
    printf("\n%s: late counter %g, expected %d\n", what, counted, nlate);
    return 0;
  }
  return 1;
}

static void property(int kind, int iterations, uint64_t seed) {
  rs = seed;
  int failures = 0;
  for (int it = 0; it < iterations && failures < 3; it++) {
    scenario sc;
    gen(&sc, kind);
    ref r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.str_keys = sc.str_keys;
    r.size = sc.size;
    r.every = sc.every;
    r.delay = sc.delay;
    r.lateness = sc.lateness;
    ref_run(&r, sc.recs, sc.n);

    char what[160];
    snprintf(what, sizeof what, "kind %d iteration %d (size %lld every %lld delay %lld late %lld parts %d)",
             kind, it, (long long)sc.size, (long long)sc.every, (long long)sc.delay,
             (long long)sc.lateness, sc.nparts);
    /* 1: one record per batch; 2: random batches; 3: snapshot, restore into
     * a fresh operator at a random cut, continue there */
    th_op a, b, c, d;
    CU_ASSERT_EQUAL_FATAL(init_scenario(&a, &sc), SL_OK);
    CU_ASSERT_EQUAL_FATAL(init_scenario(&b, &sc), SL_OK);
    feed(&a, &sc, 0, sc.n, 1, 0);
    feed(&b, &sc, 0, sc.n, 40, 0);
    th_watermark(&a, SL_WATERMARK_END);
    th_watermark(&b, SL_WATERMARK_END);
    int ok = matches(&r, &a, NULL, sc.str_keys, what) && matches(&r, &b, NULL, sc.str_keys, what);

    int cut = sc.n ? (int)(rnd() % (uint64_t)(sc.n + 1)) : 0;
    CU_ASSERT_EQUAL_FATAL(init_scenario(&c, &sc), SL_OK);
    CU_ASSERT_EQUAL_FATAL(init_scenario(&d, &sc), SL_OK);
    feed(&c, &sc, 0, cut, 8, 1);
    CU_ASSERT_EQUAL(th_snapshot(&c), SL_OK);
    CU_ASSERT_EQUAL(th_restore_into(&c, &d), SL_OK);
    feed(&d, &sc, cut, sc.n, 8, 1);
    th_watermark(&d, SL_WATERMARK_END);
    ok = ok && matches(&r, &c, &d, sc.str_keys, what);
    CU_ASSERT(ok);
    failures += !ok;
    th_op_free(&a);
    th_op_free(&b);
    th_op_free(&c);
    th_op_free(&d);
    ref_free(&r);
    free(sc.recs);
  }
}

static void test_property_tumbling(void) { property(REF_TUMBLING, 400, 0x1234567u); }
static void test_property_hopping(void) { property(REF_HOPPING, 400, 0xabcdefu); }
static void test_property_session(void) { property(REF_SESSION, 400, 0x5eed5u); }

/* EDGE_CASES */

int suite_operators_window(void) {
  CU_pSuite s = CU_add_suite("operators/window", NULL, NULL);
  if (!s || !CU_add_test(s, "property: tumbling == reference", test_property_tumbling) ||
      !CU_add_test(s, "property: hopping == reference", test_property_hopping) ||
      !CU_add_test(s, "property: session == reference", test_property_session))
    return -1;
  return 0;
}
