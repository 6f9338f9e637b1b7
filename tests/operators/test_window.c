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
#include "state/keyed_state.h"
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

static const char *const AGGS[] = {"n",  "count()",     "nv", "count(v)", "s", "sum(v)",
                                   "lo", "min(v)",      "hi", "max(v)",   "f", "first(v)",
                                   "l",  "last(v)",     "a",  "avg(v)",   "p", "p50(v)",
                                   "d",  "distinct(v)", NULL};

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
  const int *ent; /* keys of every kind: the key pool entry of each record */
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

/* The scenario's window keyed by `key` (a comma list) with `aggs`. */
static int init_keyed(th_op *t, const scenario *sc, const char *key, const char *const *aggs) {
  const char *kind = sc->kind == REF_TUMBLING  ? "tumbling"
                     : sc->kind == REF_HOPPING ? "hopping"
                                               : "session";
  const char *opts[] = {kind,
                        sc->size_s,
                        "key",
                        key,
                        "time",
                        "ts",
                        "delay",
                        sc->delay_s,
                        "lateness",
                        sc->late_s,
                        sc->kind == REF_HOPPING ? "every" : NULL,
                        sc->every_s,
                        NULL};
  return init_op(t, opts, aggs);
}

static int init_scenario(th_op *t, const scenario *sc) { return init_keyed(t, sc, "k", AGGS); }

static sl_record *kp_rec(th_op *t, const ref_rec *x, const int *ent);

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
      batch[k] =
          sc->ent ? kp_rec(t, &sc->recs[i + k], sc->ent) : mkrec(t, &sc->recs[i + k], sc->str_keys);
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
  const sl_value *a = sl_record_get_cstr(o, "a"), *p = sl_record_get_cstr(o, "p"),
                 *d = sl_record_get_cstr(o, "d");
  if (e->nv == 0 ? (a->type != SL_TYPE_NULL || p->type != SL_TYPE_NULL || d->type != SL_TYPE_NULL)
                 : (a->type != SL_TYPE_DOUBLE ||
                    fabs(a->as.d - (double)e->sum / (double)e->nv) > 1e-9 * (1 + fabs(a->as.d)) ||
                    p->type != SL_TYPE_DOUBLE || p->as.d < (double)e->lo - 1e-9 ||
                    p->as.d > (double)e->hi + 1e-9 || d->type != SL_TYPE_INT || d->as.i < 1 ||
                    d->as.i > e->nv))
    return 12; /* sketches: bounded by min/max and the value count */
  size_t klen;
  const char *key = sl_record_key(o, &klen);
  char ktext[32];
  snprintf(ktext, sizeof ktext, str_keys ? "k%lld" : "%lld", (long long)e->key);
  if (!key || klen != strlen(ktext) || memcmp(key, ktext, klen) != 0)
    return 11;
  return 0;
}

/* The dead letters of a (then b) are the reference's, ids and reasons. */
static int dead_match(const ref *r, th_op *a, th_op *b, const char *what) {
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
  return 1;
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
      printf("\n%s: result %zu differs (%d): got [%lld,%lld) n=%lld, want key %lld [%lld,%lld) "
             "n=%lld\n",
             what, i, d, (long long)geti(o, "window_start", &nul),
             (long long)geti(o, "window_end", &nul), (long long)geti(o, "n", &nul),
             (long long)r->outs[i].key, (long long)r->outs[i].s, (long long)r->outs[i].e,
             (long long)r->outs[i].n);
      return 0;
    }
  }
  if (!dead_match(r, a, b, what))
    return 0;
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

/* ---- keys of every kind ---------------------------------------------------- */

/* Key values of every type and length, one or two fields (the second a dotted
 * path): short strings, integers and nulls take the inline encoder of
 * key_short.h, the rest sl_key_encode. The reference groups records by
 * sl_key_encode's bytes (0.0 and -0.0, every NaN, null and a missing field
 * are one key each) and orders results by them. */
#define KP_MAX 14

typedef struct key_pool {
  sl_value v[KP_MAX][2];
  int missing[KP_MAX][2];
  char text[KP_MAX][2][128];
  int cls[KP_MAX];      /* entry -> class: entries whose canonical bytes are equal */
  sl_buf bytes[KP_MAX]; /* canonical bytes per class */
  int n, ncls, nfields;
} key_pool;

static key_pool kp;

static int kp_cmp(int64_t a, int64_t b) {
  const sl_buf *x = &kp.bytes[a], *y = &kp.bytes[b];
  int c = memcmp(x->data, y->data, x->len < y->len ? x->len : y->len);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void kp_value(int e, int f) {
  static const size_t lens[] = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 63, 64, 65, 100};
  static const int64_t ints[] = {INT64_MIN, -1, 0, 1, INT64_MAX, 1700000000000};
  static const double dbls[] = {0.0, -0.0, 1.5, -2.25, 1e300};
  char *t = kp.text[e][f];
  kp.missing[e][f] = 0;
  switch (rnd() % 10) {
  case 0:
  case 1:
  case 2:
  case 3:
  case 4: {
    size_t n = lens[rnd() % 16];
    for (size_t i = 0; i < n; i++)
      t[i] = (char)('a' + rnd() % 3); /* few letters: equal keys happen */
    if (n && rnd() % 4 == 0)
      t[rnd() % n] = '\0';
    kp.v[e][f] = rnd() % 4 ? sl_value_string(t, n) : sl_value_bytes(t, n);
    break;
  }
  case 5: kp.v[e][f] = sl_value_int(rnd() % 2 ? ints[rnd() % 6] : (int64_t)(rnd() % 5)); break;
  case 6: kp.v[e][f] = sl_value_double(rnd() % 5 ? dbls[rnd() % 5] : NAN); break;
  case 7: kp.v[e][f] = sl_value_bool(rnd() % 2); break;
  case 8: kp.v[e][f] = sl_value_null(); break;
  default: kp.missing[e][f] = 1;
  }
}

static void kp_gen(void) {
  for (int i = 0; i < kp.ncls; i++)
    sl_buf_free(&kp.bytes[i]);
  memset(&kp, 0, sizeof kp);
  kp.nfields = 1 + (int)(rnd() % 2);
  kp.n = 1 + (int)(rnd() % KP_MAX);
  sl_buf b = SL_BUF_INIT;
  for (int e = 0; e < kp.n; e++) {
    sl_buf_reset(&b);
    for (int f = 0; f < kp.nfields; f++) {
      kp_value(e, f);
      CU_ASSERT_EQUAL_FATAL(sl_key_encode(kp.missing[e][f] ? NULL : &kp.v[e][f], &b), SL_OK);
    }
    int c = 0;
    while (c < kp.ncls &&
           !(kp.bytes[c].len == b.len && memcmp(kp.bytes[c].data, b.data, b.len) == 0))
      c++;
    if (c == kp.ncls)
      sl_buf_append(&kp.bytes[kp.ncls++], b.data, b.len);
    kp.cls[e] = c;
  }
  sl_buf_free(&b);
}

/* Record x of the scenario with the key of pool entry ent[x->id]. */
static sl_record *kp_rec(th_op *t, const ref_rec *x, const int *ent) {
  sl_record *r = sl_record_new(t->arena, 5);
  int e = ent[x->id];
  sl_record_set(r, sl_name_cstr("id"), sl_value_int(x->id));
  sl_record_set(r, sl_name_cstr("ts"), sl_value_int(x->t));
  if (!kp.missing[e][0])
    sl_record_set(r, sl_name_cstr("k"), kp.v[e][0]);
  if (kp.nfields == 2) {
    sl_record *g = sl_record_new(t->arena, 1);
    if (!kp.missing[e][1])
      sl_record_set(g, sl_name_cstr("k2"), kp.v[e][1]);
    sl_record_set(r, sl_name_cstr("g"), sl_value_record(g));
  }
  sl_record_set(r, sl_name_cstr("v"), sl_value_int(x->v));
  sl_record_set_position(r, 0, "topic", x->part, x->id);
  return r;
}

static int kp_init(th_op *t, const scenario *sc) {
  static const char *const aggs[] = {"n", "count()", "s", "sum(v)", NULL};
  return init_keyed(t, sc, kp.nfields == 2 ? "k,g.k2" : "k", aggs);
}

/* Results of a then b equal the reference: bounds, count, sum, and key
 * fields that encode (sl_key_encode) to the class's bytes. */
static int kp_matches(const ref *r, th_op *a, th_op *b, const char *what) {
  size_t na = a->out_count, nb = b ? b->out_count : 0;
  if (na + nb != (size_t)r->nouts) {
    printf("\n%s: %zu results, expected %d\n", what, na + nb, r->nouts);
    return 0;
  }
  sl_buf k = SL_BUF_INIT;
  int ok = 1;
  for (size_t i = 0; i < na + nb && ok; i++) {
    const sl_record *o = i < na ? a->out[i] : b->out[i - na];
    const ref_out *e = &r->outs[i];
    int nul;
    sl_buf_reset(&k);
    sl_key_encode(sl_record_get_cstr(o, "k"), &k);
    if (kp.nfields == 2)
      sl_key_encode(sl_record_get_cstr(o, "g.k2"), &k);
    const sl_buf *want = &kp.bytes[e->key];
    ok = k.len == want->len && memcmp(k.data, want->data, k.len) == 0 &&
         geti(o, "window_start", &nul) == e->s && geti(o, "window_end", &nul) == e->e &&
         geti(o, "n", &nul) == e->n && geti(o, "s", &nul) == e->sum;
    if (!ok)
      printf(
          "\n%s: result %zu differs: got [%lld,%lld) n=%lld, want class %lld [%lld,%lld) n=%lld\n",
          what, i, (long long)geti(o, "window_start", &nul), (long long)geti(o, "window_end", &nul),
          (long long)geti(o, "n", &nul), (long long)e->key, (long long)e->s, (long long)e->e,
          (long long)e->n);
  }
  sl_buf_free(&k);
  return ok && dead_match(r, a, b, what);
}

static int results_match(const ref *r, th_op *a, th_op *b, const scenario *sc, const char *what) {
  return sc->ent ? kp_matches(r, a, b, what) : matches(r, a, b, sc->str_keys, what);
}

/* key_kinds: keys of every kind from a fresh pool per iteration (kp_*). */
static void property(int kind, int iterations, uint64_t seed, int key_kinds) {
  rs = seed;
  int failures = 0;
  for (int it = 0; it < iterations && failures < 3; it++) {
    scenario sc;
    gen(&sc, kind);
    int *ent = NULL;
    ref r;
    memset(&r, 0, sizeof r);
    if (key_kinds) {
      kp_gen();
      ent = calloc((size_t)sc.n + 1, sizeof *ent);
      for (int i = 0; i < sc.n; i++) {
        ent[i] = (int)(rnd() % (uint64_t)kp.n);
        sc.recs[i].key = kp.cls[ent[i]];
        sc.recs[i].has_v = 1; /* kp_rec always sets v */
      }
      sc.ent = ent;
      r.key_cmp = kp_cmp;
    }
    r.kind = kind;
    r.str_keys = sc.str_keys;
    r.size = sc.size;
    r.every = sc.every;
    r.delay = sc.delay;
    r.lateness = sc.lateness;
    ref_run(&r, sc.recs, sc.n);

    char what[200];
    snprintf(what, sizeof what,
             "kind %d iteration %d (size %lld every %lld delay %lld late %lld parts %d, "
             "key pool %d of %d fields)",
             kind, it, (long long)sc.size, (long long)sc.every, (long long)sc.delay,
             (long long)sc.lateness, sc.nparts, key_kinds ? kp.n : 0, kp.nfields);
    int (*init)(th_op *, const scenario *) = key_kinds ? kp_init : init_scenario;
    /* 1: one record per batch; 2: random batches; 3: snapshot, restore into
     * a fresh operator at a random cut, continue there */
    th_op a, b, c, d;
    CU_ASSERT_EQUAL_FATAL(init(&a, &sc), SL_OK);
    CU_ASSERT_EQUAL_FATAL(init(&b, &sc), SL_OK);
    feed(&a, &sc, 0, sc.n, 1, 0);
    feed(&b, &sc, 0, sc.n, 40, 0);
    th_watermark(&a, SL_WATERMARK_END);
    th_watermark(&b, SL_WATERMARK_END);
    int ok = results_match(&r, &a, NULL, &sc, what) && results_match(&r, &b, NULL, &sc, what);

    int cut = sc.n ? (int)(rnd() % (uint64_t)(sc.n + 1)) : 0;
    CU_ASSERT_EQUAL_FATAL(init(&c, &sc), SL_OK);
    CU_ASSERT_EQUAL_FATAL(init(&d, &sc), SL_OK);
    feed(&c, &sc, 0, cut, 8, 1);
    CU_ASSERT_EQUAL(th_snapshot(&c), SL_OK);
    CU_ASSERT_EQUAL(th_restore_into(&c, &d), SL_OK);
    feed(&d, &sc, cut, sc.n, 8, 1);
    th_watermark(&d, SL_WATERMARK_END);
    ok = ok && results_match(&r, &c, &d, &sc, what);
    CU_ASSERT(ok);
    failures += !ok;
    th_op_free(&a);
    th_op_free(&b);
    th_op_free(&c);
    th_op_free(&d);
    ref_free(&r);
    free(sc.recs);
    free(ent);
  }
  for (int i = 0; i < kp.ncls; i++)
    sl_buf_free(&kp.bytes[i]);
  memset(&kp, 0, sizeof kp);
}

static void test_property_tumbling(void) { property(REF_TUMBLING, 400, 0x1234567u, 0); }
static void test_property_hopping(void) { property(REF_HOPPING, 400, 0xabcdefu, 0); }
static void test_property_session(void) { property(REF_SESSION, 400, 0x5eed5u, 0); }
static void test_property_key_kinds(void) {
  property(REF_TUMBLING, 250, 0x6b657973u, 1);
  property(REF_HOPPING, 150, 0x6b657974u, 1);
  property(REF_SESSION, 150, 0x6b657975u, 1);
}

/* ---- edge cases ---------------------------------------------------------- */

static sl_record *R(th_op *t, const char *k, int64_t ts, sl_value v) {
  return th_rec(t, "k", th_str(t, k), "ts", sl_value_int(ts), "v", v, NULL);
}

static void one(th_op *t, sl_record *r) { CU_ASSERT_EQUAL(th_process(t, &r, 1), SL_OK); }

static int64_t outi(th_op *t, size_t i, const char *f) {
  const sl_value *v = th_out_field(t, i, f);
  return v && v->type == SL_TYPE_INT ? v->as.i : INT64_MIN;
}

static void test_bad_config(void) {
  th_op t;
  const char *none[] = {"key", "k", NULL};
  CU_ASSERT_EQUAL(init_op(&t, none, AGGS), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "exactly one of tumbling, hopping or session"));
  th_op_free(&t);
  const char *two[] = {"tumbling", "10s", "session", "5s", "key", "k", NULL};
  CU_ASSERT_EQUAL(init_op(&t, two, AGGS), SL_ERR_INVALID);
  th_op_free(&t);
  const char *noevery[] = {"hopping", "10s", "key", "k", NULL};
  CU_ASSERT_EQUAL(init_op(&t, noevery, AGGS), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "every"));
  th_op_free(&t);
  const char *bigevery[] = {"hopping", "10s", "every", "11s", "key", "k", NULL};
  CU_ASSERT_EQUAL(init_op(&t, bigevery, AGGS), SL_ERR_INVALID);
  th_op_free(&t);
  const char *ok[] = {"tumbling", "10s", "key", "k", NULL};
  const char *mean[] = {"avg_temp", "mean(temperature)", NULL};
  CU_ASSERT_EQUAL(init_op(&t, ok, mean), SL_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(t.err.message, "unknown aggregate 'mean' (did you mean 'avg'?)");
  th_op_free(&t);
  CU_ASSERT_EQUAL(init_op(&t, ok, NULL), SL_ERR_INVALID);
  th_op_free(&t);
  const char *clash[] = {"window_end", "count()", NULL};
  CU_ASSERT_EQUAL(init_op(&t, ok, clash), SL_ERR_INVALID);
  th_op_free(&t);
  const char *neg[] = {"tumbling", "0", "key", "k", NULL};
  CU_ASSERT_EQUAL(init_op(&t, neg, AGGS), SL_ERR_INVALID);
  th_op_free(&t);
  sl_op_window.destroy(NULL);
}

static const char *const T10[] = {"tumbling", "10", "key", "k", "time", "ts", NULL};

static void test_boundaries_and_late(void) {
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, T10, AGGS), SL_OK);
  CU_ASSERT_EQUAL(th_process(&t, NULL, 0), SL_OK); /* empty batch */
  CU_ASSERT_EQUAL(t.out_count, 0);
  one(&t, R(&t, "a", 0, sl_value_int(1)));
  one(&t, R(&t, "a", 8, sl_value_int(2)));
  CU_ASSERT_EQUAL(t.out_count, 0);
  /* SPEC 5: [s, e) fires when the watermark reaches e. t = e - 1 (the
   * window's last millisecond) leaves the watermark at 9: still open, so a
   * second record of that millisecond is on time. */
  one(&t, R(&t, "a", 9, sl_value_int(3)));
  one(&t, R(&t, "b", 9, sl_value_int(3)));
  CU_ASSERT_EQUAL(t.out_count, 0);
  CU_ASSERT_EQUAL(t.dead_count, 0);
  one(&t, R(&t, "a", 10, sl_value_int(4))); /* t = e: the watermark reaches 10, [0, 10) fires */
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_EQUAL(outi(&t, 0, "window_start"), 0);
  CU_ASSERT_EQUAL(outi(&t, 0, "window_end"), 10);
  CU_ASSERT_EQUAL(outi(&t, 0, "n"), 3); /* a: 0, 8, 9 */
  CU_ASSERT_EQUAL(outi(&t, 1, "n"), 1); /* b: 9 */
  CU_ASSERT_EQUAL(sl_record_timestamp(t.out[0]), 9);
  one(&t, R(&t, "a", 5, sl_value_int(5))); /* late */
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 1);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "late");
  CU_ASSERT_STRING_EQUAL(t.dead[0].message, "window [0, 10) closed at watermark 10");
  CU_ASSERT_DOUBLE_EQUAL(th_counter(&t, "sluice_late_records_total"), 1, 0);
  CU_ASSERT_EQUAL(th_watermark(&t, SL_WATERMARK_END), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 3);
  CU_ASSERT_EQUAL(outi(&t, 2, "n"), 1);
  CU_ASSERT_EQUAL(th_watermark(&t, SL_WATERMARK_END), SL_OK); /* idempotent */
  CU_ASSERT_EQUAL(t.out_count, 3);
  th_op_free(&t);
}

static void test_event_time_forms(void) {
  const char *opts[] = {"tumbling", "1s", "key", "k", "time", "meta.at", "delay", "10s", NULL};
  const char *aggs[] = {"n", "count()", NULL};
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, opts, aggs), SL_OK);
  const char *good[] = {"1970-01-01T00:00:01.5Z", "1970-01-01T01:00:01.999+01:00",
                        "1969-12-31T23:00:01-01:00", "1970-01-01 00:00:01.123456Z"};
  for (int i = 0; i < 4; i++) {
    sl_record *m = th_rec(&t, "at", th_str(&t, good[i]), NULL);
    one(&t, th_rec(&t, "k", th_str(&t, "x"), "meta", sl_value_record(m), NULL));
  }
  sl_record *m = th_rec(&t, "at", sl_value_double(1999.9), NULL);
  one(&t, th_rec(&t, "k", th_str(&t, "x"), "meta", sl_value_record(m), NULL));
  const char *bad[] = {"yesterday", "2026-02-30T00:00:00Z", "2026-11-27T10:00:00", ""};
  for (int i = 0; i < 4; i++) {
    sl_record *b = th_rec(&t, "at", th_str(&t, bad[i]), NULL);
    one(&t, th_rec(&t, "k", th_str(&t, "x"), "meta", sl_value_record(b), NULL));
  }
  one(&t, th_rec(&t, "k", th_str(&t, "x"), NULL)); /* missing */
  sl_record *nan = th_rec(&t, "at", sl_value_double(NAN), NULL);
  one(&t, th_rec(&t, "k", th_str(&t, "x"), "meta", sl_value_record(nan), NULL));
  CU_ASSERT_EQUAL(t.dead_count, 6);
  for (size_t i = 0; i < t.dead_count; i++)
    CU_ASSERT_STRING_EQUAL(t.dead[i].reason, "eval");
  th_watermark(&t, SL_WATERMARK_END);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  CU_ASSERT_EQUAL(outi(&t, 0, "window_start"), 1000);
  CU_ASSERT_EQUAL(outi(&t, 0, "n"), 5);
  th_op_free(&t);
  /* without `time`: the record timestamp */
  const char *nt[] = {"tumbling", "10", "key", "k", NULL};
  CU_ASSERT_EQUAL_FATAL(init_op(&t, nt, aggs), SL_OK);
  sl_record *r = th_rec(&t, "k", th_str(&t, "x"), NULL);
  sl_record_set_timestamp(r, 12345);
  one(&t, r);
  th_watermark(&t, SL_WATERMARK_END);
  CU_ASSERT_EQUAL(outi(&t, 0, "window_start"), 12340);
  th_op_free(&t);
}

static void test_extreme_timestamps(void) {
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, T10, AGGS), SL_OK);
  int64_t ts[] = {
      -10,       -1,       -11, INT64_C(1) << 62, -(INT64_C(1) << 62), (INT64_C(1) << 62) + 1,
      INT64_MIN, INT64_MAX};
  for (int i = 0; i < 8; i++)
    one(&t, R(&t, "a", ts[i], sl_value_int(i)));
  /* -10 and -1 share [-10, 0), which -1 (= e - 1) closes at once; -11 in
   * [-20, -10) is then late; +-2^62 are accepted, beyond is refused */
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 5);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "late");
  CU_ASSERT_STRING_EQUAL(t.dead[1].reason, "late"); /* -2^62 after 2^62 */
  for (int i = 2; i < 5; i++)
    CU_ASSERT_STRING_EQUAL(t.dead[i].reason, "eval");
  CU_ASSERT_EQUAL(t.out_count, 1);
  th_watermark(&t, SL_WATERMARK_END);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_EQUAL(outi(&t, 0, "window_start"), -10);
  CU_ASSERT_EQUAL(outi(&t, 0, "window_end"), 0);
  CU_ASSERT_EQUAL(outi(&t, 0, "n"), 2);
  CU_ASSERT_EQUAL(outi(&t, 1, "window_start"), (INT64_C(1) << 62) - 4); /* 2^62 = 4 mod 10 */
  th_op_free(&t);
}

static void test_nan_inf_nulls_types(void) {
  const char *aggs[] = {"n",      "count()", "nv",     "count(v)", "lo",     "min(v)", "hi",
                        "max(v)", "s",       "sum(v)", "a",        "avg(v)", NULL};
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, T10, aggs), SL_OK);
  one(&t, R(&t, "a", 1, sl_value_double(NAN)));
  one(&t, R(&t, "a", 2, sl_value_double(INFINITY)));
  one(&t, R(&t, "a", 3, sl_value_int(-4)));
  one(&t, R(&t, "a", 3, sl_value_null()));
  one(&t, R(&t, "a", 4, th_str(&t, "oops"))); /* not a number: dead letter, not counted */
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 1);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "eval");
  CU_ASSERT_PTR_NOT_NULL(strstr(t.dead[0].message, "expected a number"));
  one(&t, R(&t, "b", 5, sl_value_null())); /* a key whose values are all null */
  th_watermark(&t, SL_WATERMARK_END);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_EQUAL(outi(&t, 0, "n"), 4);
  CU_ASSERT_EQUAL(outi(&t, 0, "nv"), 2);
  CU_ASSERT_EQUAL(outi(&t, 0, "lo"), -4);
  CU_ASSERT(isinf(th_out_field(&t, 0, "hi")->as.d));
  CU_ASSERT(isinf(th_out_field(&t, 0, "a")->as.d));
  CU_ASSERT_EQUAL(outi(&t, 1, "n"), 1);
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "nv")->type,
                  SL_TYPE_INT); /* count(f) of only nulls: 0 (SPEC 5) */
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "nv")->as.i, 0);
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "lo")->type, SL_TYPE_NULL);
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "s")->type, SL_TYPE_NULL);
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "a")->type, SL_TYPE_NULL);
  th_op_free(&t);
}

static void test_order_by_end_then_key(void) {
  const char *opts[] = {"tumbling", "10", "key", "k", "time", "ts", "delay", "100", NULL};
  const char *aggs[] = {"n", "count()", NULL};
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, opts, aggs), SL_OK);
  const char *keys[] = {"b", "a", "c", "ab"};
  for (int i = 0; i < 4; i++)
    one(&t, R(&t, keys[i], 25 - 10 * (i % 3), sl_value_null()));
  one(&t, R(&t, "z", 200, sl_value_null())); /* watermark 100 fires them all */
  CU_ASSERT_EQUAL_FATAL(t.out_count, 4);
  const char *want[] = {"c", "a", "ab", "b"}; /* [0,10) c; [10,20) a, ab; [20,30) b */
  for (int i = 0; i < 4; i++)
    CU_ASSERT_STRING_EQUAL(th_out_field(&t, (size_t)i, "k")->as.str.ptr, want[i]);
  th_op_free(&t);
}

static void test_sessions_merge_three_ways(void) {
  const char *opts[] = {"session", "10", "key", "k", "time", "ts", "delay", "50", NULL};
  const char *aggs[] = {"n", "count()", "f", "first(v)", "l", "last(v)", "sd", "stddev(v)", NULL};
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, opts, aggs), SL_OK);
  one(&t, R(&t, "a", 0, sl_value_int(1)));
  one(&t, R(&t, "a", 18, sl_value_int(2)));
  one(&t, R(&t, "a", 40, sl_value_int(3))); /* a separate session [40, 50) */
  one(&t, R(&t, "b", 9, sl_value_int(9)));  /* other key: never merges with a */
  one(&t, R(&t, "a", 9, sl_value_int(4)));  /* bridges [0,10) and [18,28) */
  th_watermark(&t, SL_WATERMARK_END);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 3);
  CU_ASSERT_STRING_EQUAL(th_out_field(&t, 0, "k")->as.str.ptr, "b");
  CU_ASSERT_EQUAL(outi(&t, 0, "window_start"), 9);
  CU_ASSERT_EQUAL(outi(&t, 1, "window_start"), 0);
  CU_ASSERT_EQUAL(outi(&t, 1, "window_end"), 28);
  CU_ASSERT_EQUAL(outi(&t, 1, "n"), 3);
  CU_ASSERT_EQUAL(outi(&t, 1, "f"), 1);
  CU_ASSERT_EQUAL(outi(&t, 1, "l"), 2);
  CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, 1, "sd")->as.d, 1.5275252316519468, 1e-12);
  CU_ASSERT_EQUAL(outi(&t, 2, "window_start"), 40);
  th_op_free(&t);
}

static void test_composite_and_dotted_keys(void) {
  const char *opts[] = {"tumbling", "10", "key", "site,dev.id", "time", "ts", NULL};
  const char *aggs[] = {"n", "count()", NULL};
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, opts, aggs), SL_OK);
  for (int i = 0; i < 5; i++) {
    sl_record *dev = th_rec(&t, "id", sl_value_int(i % 2 ? 7 : -3), NULL);
    one(&t, th_rec(&t, "site", th_str(&t, "north"), "dev", sl_value_record(dev), "ts",
                   sl_value_int(i), NULL));
  }
  sl_record *arr =
      th_rec(&t, "site", sl_value_array(sl_array_new(t.arena, 1)), "ts", sl_value_int(1), NULL);
  one(&t, arr); /* an array cannot be a key */
  CU_ASSERT_EQUAL(t.dead_count, 1);
  th_watermark(&t, SL_WATERMARK_END);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_EQUAL(outi(&t, 0, "dev.id"), -3); /* ints order numerically */
  CU_ASSERT_EQUAL(outi(&t, 0, "n"), 3);
  CU_ASSERT_EQUAL(outi(&t, 1, "dev.id"), 7);
  CU_ASSERT_STRING_EQUAL(th_out_field(&t, 1, "site")->as.str.ptr, "north");
  size_t len;
  const char *key = sl_record_key(t.out[1], &len);
  CU_ASSERT(len == 7 && memcmp(key, "north|7", 7) == 0);
  th_op_free(&t);
}

static void test_lateness_reemits(void) {
  const char *opts[] = {"tumbling", "10", "key", "k", "time", "ts", "lateness", "5", NULL};
  const char *aggs[] = {"n", "count()", NULL};
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, opts, aggs), SL_OK);
  one(&t, R(&t, "a", 1, sl_value_null()));
  one(&t, R(&t, "a", 12, sl_value_null())); /* fires [0,10) with n=1 */
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  one(&t, R(&t, "a", 3, sl_value_null())); /* within lateness: n=2 again */
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_EQUAL(outi(&t, 1, "window_start"), 0);
  CU_ASSERT_EQUAL(outi(&t, 1, "n"), 2);
  one(&t, R(&t, "a", 14, sl_value_null())); /* watermark 14 < 10 + 5: still open */
  one(&t, R(&t, "a", 4, sl_value_null()));
  CU_ASSERT_EQUAL(t.dead_count, 0);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 3);
  CU_ASSERT_EQUAL(outi(&t, 2, "n"), 3);
  one(&t, R(&t, "a", 15, sl_value_null())); /* watermark 15 reaches 10 + 5: closed */
  one(&t, R(&t, "a", 4, sl_value_null()));
  CU_ASSERT_EQUAL(t.dead_count, 1);
  CU_ASSERT_EQUAL(t.out_count, 3);
  th_op_free(&t);
}

static void test_hopping_late_only_when_all_closed(void) {
  const char *opts[] = {"hopping", "10", "every", "5", "key", "k", "time", "ts", NULL};
  const char *aggs[] = {"n", "count()", NULL};
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, opts, aggs), SL_OK);
  one(&t, R(&t, "a", 12, sl_value_null())); /* watermark 12 */
  one(&t, R(&t, "a", 7, sl_value_null()));  /* [0,10) closed, joins [5,15) */
  CU_ASSERT_EQUAL(t.dead_count, 0);
  one(&t, R(&t, "a", 20, sl_value_null())); /* fires [5,15) and [10,20) */
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_EQUAL(outi(&t, 0, "window_start"), 5);
  CU_ASSERT_EQUAL(outi(&t, 0, "n"), 2);
  CU_ASSERT_EQUAL(outi(&t, 1, "window_start"), 10);
  CU_ASSERT_EQUAL(outi(&t, 1, "n"), 1);
  one(&t, R(&t, "a", 7, sl_value_null())); /* every window closed now */
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 1);
  CU_ASSERT_STRING_EQUAL(t.dead[0].message, "window [5, 15) closed at watermark 20");
  th_op_free(&t);
}

static void test_idle_partitions(void) {
  const char *opts[] = {"tumbling", "10", "key", "k", "time", "ts", "idle", "30s", NULL};
  const char *aggs[] = {"n", "count()", NULL};
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, opts, aggs), SL_OK);
  int64_t t0 = t.now_ms;
  sl_record *r0 = R(&t, "a", 5, sl_value_null()), *r1 = R(&t, "a", 5, sl_value_null());
  sl_record_set_position(r0, 0, "topic", 0, 1);
  sl_record_set_position(r1, 0, "topic", 1, 1);
  one(&t, r0);
  one(&t, r1);
  t.now_ms = t0 + 20000;
  sl_record *r2 = R(&t, "a", 50, sl_value_null());
  sl_record_set_position(r2, 0, "topic", 0, 2);
  one(&t, r2); /* partition 1 holds the watermark at 5 */
  CU_ASSERT_EQUAL(t.out_count, 0);
  CU_ASSERT_EQUAL(th_tick(&t, t0 + 29999), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 0);
  CU_ASSERT_EQUAL(th_tick(&t, t0 + 30000), SL_OK); /* partition 1 idle: watermark 50 */
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  CU_ASSERT_EQUAL(outi(&t, 0, "n"), 2);
  th_op_free(&t);
}

static void test_drop_partition_and_restore_errors(void) {
  const char *aggs[] = {"n", "count()", "p", "p95(v)", "d", "distinct(v)", NULL};
  th_op t, u;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, T10, aggs), SL_OK);
  CU_ASSERT_EQUAL_FATAL(init_op(&u, T10, aggs), SL_OK);
  for (int i = 0; i < 6; i++) {
    sl_record *r = R(&t, i % 2 ? "odd" : "even", i, sl_value_int(i * 10));
    sl_record_set_position(r, 0, "topic", i % 2, i);
    one(&t, r);
  }
  CU_ASSERT_EQUAL(th_snapshot(&t), SL_OK);
  CU_ASSERT_EQUAL(th_restore_into(&t, &u), SL_OK);
  CU_ASSERT_EQUAL(sl_op_window.drop_partition(t.state, 1, &t.err), SL_OK);
  th_watermark(&t, SL_WATERMARK_END);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  CU_ASSERT_STRING_EQUAL(th_out_field(&t, 0, "k")->as.str.ptr, "even");
  th_watermark(&u, SL_WATERMARK_END); /* the restored copy still has both */
  CU_ASSERT_EQUAL_FATAL(u.out_count, 2);
  CU_ASSERT_EQUAL(outi(&u, 1, "d"), 3);
  CU_ASSERT_DOUBLE_EQUAL(th_out_field(&u, 1, "p")->as.d, 30, 0.3); /* rank floor(0.95 * 2) */
  CU_ASSERT_NOT_EQUAL(sl_op_window.restore(u.state, 0, "\x01\x02k", 3, "\x07", 1, &u.err), SL_OK);
  CU_ASSERT_NOT_EQUAL(sl_op_window.restore(u.state, 0, "zz", 2, "", 0, &u.err), SL_OK);
  th_op_free(&t);
  th_op_free(&u);
}

/* ---- held offsets (memory state backend) ---------------------------------- */

/* held_offset after every record equals the brute-force minimum over the
 * records of the reference's open windows, for every partition; offsets are
 * increasing per partition (as from Kafka) or scrambled (replays). */
static void held_property(int kind, int iterations, uint64_t seed) {
  rs = seed;
  int failures = 0;
  for (int it = 0; it < iterations && failures < 3; it++) {
    scenario sc;
    gen(&sc, kind);
    int64_t *offs = calloc((size_t)sc.n + 1, sizeof *offs);
    for (int i = 0; i < sc.n; i++)
      offs[i] = it % 2 ? (int64_t)(rnd() % 1000) : 1000 + i;
    ref r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.str_keys = sc.str_keys;
    r.size = sc.size;
    r.every = sc.every;
    r.delay = sc.delay;
    r.lateness = sc.lateness;
    ref_begin(&r, sc.recs, sc.n);
    th_op a;
    CU_ASSERT_EQUAL_FATAL(init_scenario(&a, &sc), SL_OK);
    int ok = 1;
    for (int i = 0; i < sc.n && ok; i++) {
      sl_record *rec = mkrec(&a, &sc.recs[i], sc.str_keys);
      sl_record_set_position(rec, 0, "topic", sc.recs[i].part, offs[i]);
      CU_ASSERT_EQUAL_FATAL(th_process(&a, &rec, 1), SL_OK);
      ref_step(&r, i);
      for (int32_t p = 0; p < 4 && ok; p++) {
        int64_t got = sl_op_window.held_offset(a.state, 0, p), want = ref_held(&r, offs, p);
        if (got != want) {
          printf("\nheld: kind %d iteration %d record %d partition %d: got %lld, want %lld\n", kind,
                 it, i, (int)p, (long long)got, (long long)want);
          ok = 0;
        }
      }
      if (sl_op_window.held_offset(a.state, 1, 0) != -1) /* another source */
        ok = 0;
    }
    th_watermark(&a, SL_WATERMARK_END);
    for (int32_t p = 0; p < 4; p++)
      ok = ok && sl_op_window.held_offset(a.state, 0, p) == -1;
    CU_ASSERT(ok);
    failures += !ok;
    th_op_free(&a);
    ref_free(&r);
    free(sc.recs);
    free(offs);
  }
}

static void test_held_tumbling(void) { held_property(REF_TUMBLING, 300, 0x48454c44u); }
static void test_held_hopping(void) { held_property(REF_HOPPING, 300, 0x686f70u); }
static void test_held_session(void) { held_property(REF_SESSION, 300, 0x73657373u); }

/* drop_partition releases the entries it drops; restored entries hold
 * nothing of before (the checkpoint has them) but hold what comes after. */
static void test_held_drop_restore(void) {
  const char *aggs[] = {"n", "count()", NULL};
  th_op t, u;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, T10, aggs), SL_OK);
  CU_ASSERT_EQUAL_FATAL(init_op(&u, T10, aggs), SL_OK);
  /* "odd" lives on partition 1 (offsets 11, 13), "even" on 0 (10, 12),
   * "mix" takes 20 from partition 1 and then 21 from partition 0 */
  for (int i = 0; i < 4; i++) {
    sl_record *r = R(&t, i % 2 ? "odd" : "even", i, sl_value_int(i));
    sl_record_set_position(r, 0, "topic", i % 2, 10 + i);
    one(&t, r);
  }
  sl_record *m1 = R(&t, "mix", 5, sl_value_int(0)), *m0 = R(&t, "mix", 6, sl_value_int(0));
  sl_record_set_position(m1, 0, "topic", 1, 20);
  sl_record_set_position(m0, 0, "topic", 0, 21);
  one(&t, m1);
  one(&t, m0);
  sl_record *nopos = R(&t, "nopos", 7, sl_value_int(0)); /* no offset: not counted */
  one(&t, nopos);
  CU_ASSERT_EQUAL(sl_op_window.held_offset(t.state, 0, 0), 10);
  CU_ASSERT_EQUAL(sl_op_window.held_offset(t.state, 0, 1), 11);
  CU_ASSERT_EQUAL(sl_op_window.held_offset(t.state, 0, 2), -1);
  CU_ASSERT_EQUAL(th_snapshot(&t), SL_OK);
  CU_ASSERT_EQUAL(th_restore_into(&t, &u), SL_OK);
  CU_ASSERT_EQUAL(sl_op_window.held_offset(u.state, 0, 0), -1);
  CU_ASSERT_EQUAL(sl_op_window.held_offset(u.state, 0, 1), -1);
  sl_record *late_in = R(&u, "odd", 8, sl_value_int(0));
  sl_record_set_position(late_in, 0, "topic", 1, 30);
  one(&u, late_in);
  CU_ASSERT_EQUAL(sl_op_window.held_offset(u.state, 0, 1), 30);
  /* dropping partition 1 drops "odd" (its last record came from 1) and
   * what the worker holds of partition 1 ("mix", last from 0, stays): a
   * worker holds offsets only of partitions it owns */
  CU_ASSERT_EQUAL(sl_op_window.drop_partition(t.state, 1, &t.err), SL_OK);
  CU_ASSERT_EQUAL(sl_op_window.held_offset(t.state, 0, 1), -1);
  CU_ASSERT_EQUAL(sl_op_window.held_offset(t.state, 0, 0), 10);
  CU_ASSERT_EQUAL(sl_op_window.drop_partition(t.state, 0, &t.err), SL_OK);
  CU_ASSERT_EQUAL(sl_op_window.held_offset(t.state, 0, 0), -1);
  th_watermark(&t, SL_WATERMARK_END);
  CU_ASSERT_EQUAL(t.out_count, 1); /* "nopos", the only entry left */
  th_op_free(&t);
  th_op_free(&u);
}

/* ---- partitions joining a worker ------------------------------------------ */

static sl_record *RP(th_op *t, const char *k, int64_t ts, int32_t part, int64_t off) {
  sl_record *r = R(t, k, ts, sl_value_int(1));
  sl_record_set_position(r, 0, "in", part, off);
  return r;
}

static const char *const TUMBLE10[] = {"tumbling", "10s", "key", "k", "time", "ts", NULL};
static const char *const COUNT_ONLY[] = {"n", "count()", NULL};

/* Regression (exactly_once_* e2e): at start-up one partition ran ahead and
 * the first records of a partition assigned with it were dead-lettered as
 * late. An assigned partition's first record pulls the watermark back. */
static void test_assigned_partition_not_late(void) {
  th_op t;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, TUMBLE10, COUNT_ONLY), SL_OK);
  sl_error err;
  for (int32_t p = 0; p < 2; p++)
    CU_ASSERT_EQUAL(sl_op_window.assign_partition(t.state, 0, p, &err), SL_OK);
  one(&t, RP(&t, "a", 100000, 0, 0)); /* partition 0 runs ahead */
  one(&t, RP(&t, "b", 5000, 1, 0));   /* partition 1 joins: not late */
  one(&t, RP(&t, "b", 6000, 1, 1));
  CU_ASSERT_EQUAL(t.dead_count, 0);
  CU_ASSERT_EQUAL(th_counter(&t, "sluice_late_records_total"), 0);
  th_watermark(&t, SL_WATERMARK_END);
  int found = 0;
  for (size_t i = 0; i < t.out_count; i++)
    if (th_out_field(&t, i, "window_start")->as.i == 0) {
      found = 1;
      CU_ASSERT_EQUAL(th_out_field(&t, i, "n")->as.i, 2);
    }
  CU_ASSERT(found);
  /* A partition that sends late records after its first one still gets
   * them judged late as usual. */
  th_op_free(&t);
}

/* Regression (exactly_once_zombie/rebalance e2e): a partition restored from
 * another worker's checkpoint found this worker's watermark ahead, and its
 * records were lost as late; the watermark falls back to the old owner's. */
static void test_restored_partition_rewinds(void) {
  th_op a, b;
  CU_ASSERT_EQUAL_FATAL(init_op(&a, TUMBLE10, COUNT_ONLY), SL_OK);
  CU_ASSERT_EQUAL_FATAL(init_op(&b, TUMBLE10, COUNT_ONLY), SL_OK);
  one(&a, RP(&a, "x", 5000, 1, 0)); /* worker A: partition 1, window [0, 10 s) open */
  CU_ASSERT_EQUAL(th_snapshot(&a), SL_OK);
  one(&b, RP(&b, "y", 100000, 0, 0)); /* worker B ran ahead on partition 0 */
  sl_error err;
  CU_ASSERT_EQUAL(sl_op_window.assign_partition(b.state, 0, 1, &err), SL_OK);
  CU_ASSERT_EQUAL(th_restore_into(&a, &b), SL_OK);
  one(&b, RP(&b, "x", 7000, 1, 1)); /* the next record of partition 1 */
  CU_ASSERT_EQUAL(b.dead_count, 0);
  th_watermark(&b, SL_WATERMARK_END);
  int found = 0;
  for (size_t i = 0; i < b.out_count; i++) {
    const sl_value *k = th_out_field(&b, i, "k");
    if (k && k->as.str.len == 1 && k->as.str.ptr[0] == 'x') {
      found = 1;
      CU_ASSERT_EQUAL(th_out_field(&b, i, "n")->as.i, 2); /* 5000 (restored) + 7000 */
    }
  }
  CU_ASSERT(found);
  th_op_free(&a);
  th_op_free(&b);
}

/* ---- windows that fired meet a watermark that moved back ------------------ */

static const char *const TUMBLE10_L20[] = {"tumbling", "10s",      "key", "k", "time",
                                           "ts",       "lateness", "20s", NULL};

/* How many results of (key, window_start), and the count of the last one. */
static int results_for(th_op *t, const char *key, int64_t start, int64_t *n) {
  int c = 0;
  for (size_t i = 0; i < t->out_count; i++) {
    const sl_value *k = th_out_field(t, i, "k");
    if (k && k->as.str.len == strlen(key) && memcmp(k->as.str.ptr, key, k->as.str.len) == 0 &&
        th_out_field(t, i, "window_start")->as.i == start) {
      *n = th_out_field(t, i, "n")->as.i;
      c++;
    }
  }
  return c;
}

/* A partition assigned mid-run pulls the watermark back below a window that
 * fired and is still open (lateness): a key that joins it then is emitted
 * once the watermark passes the window's end again (found in review: the
 * window had fired as a whole and the key was closed without a result). */
static void test_new_key_in_fired_window(void) {
  th_op t;
  int64_t n = -1;
  CU_ASSERT_EQUAL_FATAL(init_op(&t, TUMBLE10_L20, COUNT_ONLY), SL_OK);
  CU_ASSERT_EQUAL(sl_op_window.assign_partition(t.state, 0, 0, &t.err), SL_OK);
  one(&t, RP(&t, "a", 5000, 0, 0));
  one(&t, RP(&t, "a", 15000, 0, 1)); /* fires [0, 10 s) with a; open until 29999 */
  CU_ASSERT_EQUAL(t.out_count, 1);
  CU_ASSERT_EQUAL(sl_op_window.assign_partition(t.state, 0, 1, &t.err), SL_OK);
  one(&t, RP(&t, "b", 5000, 1, 0)); /* the watermark falls back to 5000 */
  CU_ASSERT_EQUAL(t.dead_count, 0);
  th_watermark(&t, SL_WATERMARK_END);
  CU_ASSERT_EQUAL(results_for(&t, "b", 0, &n), 1);
  CU_ASSERT_EQUAL(n, 1);
  CU_ASSERT_EQUAL(results_for(&t, "a", 0, &n), 1); /* not emitted again */
  th_op_free(&t);
}

/* The same through a restore: an unfired entry of another worker's
 * checkpoint lands in a window that already fired here. */
static void test_restore_unfired_into_fired_window(void) {
  th_op a, b;
  int64_t n = -1;
  CU_ASSERT_EQUAL_FATAL(init_op(&a, TUMBLE10_L20, COUNT_ONLY), SL_OK);
  CU_ASSERT_EQUAL_FATAL(init_op(&b, TUMBLE10_L20, COUNT_ONLY), SL_OK);
  one(&a, RP(&a, "x", 5000, 1, 0));
  CU_ASSERT_EQUAL(th_snapshot(&a), SL_OK);
  one(&b, RP(&b, "y", 5000, 0, 0));
  one(&b, RP(&b, "y", 15000, 0, 1)); /* b fired [0, 10 s), open until 29999 */
  CU_ASSERT_EQUAL(sl_op_window.assign_partition(b.state, 0, 1, &b.err), SL_OK);
  CU_ASSERT_EQUAL(th_restore_into(&a, &b), SL_OK);
  th_watermark(&b, SL_WATERMARK_END);
  CU_ASSERT_EQUAL(results_for(&b, "x", 0, &n), 1);
  CU_ASSERT_EQUAL(n, 1);
  th_op_free(&a);
  th_op_free(&b);
}

/* A checkpoint of 10 s windows restored into a pipeline now using 20 s
 * windows: a window is known by its start, so records of every key for the
 * restored window join it (x: one result, n = 2; y, new, too), the next
 * window has the new size, and closing the old one deletes its snapshot
 * entries and no other window's (found in review: [0, 20 s) and [0, 10 s)
 * both existed and shared snapshot keys). */
static void test_restored_window_of_another_size(void) {
  const char *const T20[] = {"tumbling", "20s", "key", "k", "time", "ts", NULL};
  th_op a, b, c;
  int64_t n = -1;
  CU_ASSERT_EQUAL_FATAL(init_op(&a, TUMBLE10, COUNT_ONLY), SL_OK);
  CU_ASSERT_EQUAL_FATAL(init_op(&b, T20, COUNT_ONLY), SL_OK);
  CU_ASSERT_EQUAL_FATAL(init_op(&c, T20, COUNT_ONLY), SL_OK);
  one(&a, RP(&a, "x", 5000, 0, 0));
  CU_ASSERT_EQUAL(th_snapshot(&a), SL_OK);
  CU_ASSERT_EQUAL(th_restore_into(&a, &b), SL_OK);
  one(&b, RP(&b, "x", 6000, 0, 1));
  one(&b, RP(&b, "y", 6000, 0, 2));
  one(&b, RP(&b, "x", 25000, 0, 3)); /* the next window: [20 s, 40 s) */
  CU_ASSERT_EQUAL(th_snapshot(&b), SL_OK);
  CU_ASSERT_EQUAL(b.out_count, 2); /* [0, 10 s) fired and closed */
  CU_ASSERT_EQUAL(results_for(&b, "x", 0, &n), 1);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(results_for(&b, "y", 0, &n), 1);
  CU_ASSERT_EQUAL(n, 1);
  for (size_t i = 0; i < b.out_count; i++)
    CU_ASSERT_EQUAL(th_out_field(&b, i, "window_end")->as.i, 10000);
  CU_ASSERT_EQUAL(th_restore_into(&b, &c), SL_OK); /* a restart after that checkpoint */
  th_watermark(&c, SL_WATERMARK_END);
  CU_ASSERT_FATAL(c.out_count == 1);
  CU_ASSERT_EQUAL(results_for(&c, "x", 20000, &n), 1);
  CU_ASSERT_EQUAL(th_out_field(&c, 0, "window_end")->as.i, 40000);
  th_op_free(&a);
  th_op_free(&b);
  th_op_free(&c);
}

/* Entries of `from`'s last snapshot for `partition` only, into `to`: what a
 * worker assigned just that partition reads from Redis. */
static int restore_partition(th_op *from, th_op *to, int32_t partition, size_t *entries) {
  *entries = 0;
  for (size_t i = 0; i < from->snap_count; i++) {
    th_snap_entry *e = &from->snap[i];
    if (!e->val || e->partition != partition)
      continue;
    (*entries)++;
    int rc = to->desc->restore(to->state, e->partition, e->key, e->key_len, e->val, e->val_len,
                               &to->err);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

/* Partitions [0, n) assigned to t's operator. */
static void assign_all(th_op *t, int32_t n) {
  for (int32_t p = 0; p < n; p++)
    CU_ASSERT_EQUAL(sl_op_window.assign_partition(t->state, 0, p, &t->err), SL_OK);
}

/* Regression (issue 12, two workers started together): worker A was
 * assigned partitions 0 and 1 and checkpointed while only partition 0 had
 * sent; the snapshot held a watermark entry for the silent partition 1
 * too, and worker B, assigned partition 1 next, took A's watermark for it
 * and dead-lettered its first on-time records as late. */
static void test_silent_partition_moves_without_a_watermark(void) {
  th_op a, b;
  size_t entries = 99;
  int64_t n = -1;
  CU_ASSERT_EQUAL_FATAL(init_op(&a, TUMBLE10, COUNT_ONLY), SL_OK);
  CU_ASSERT_EQUAL_FATAL(init_op(&b, TUMBLE10, COUNT_ONLY), SL_OK);
  assign_all(&a, 2);
  one(&a, RP(&a, "a", 100000, 0, 0));
  CU_ASSERT_EQUAL(th_snapshot(&a), SL_OK);
  CU_ASSERT_EQUAL(sl_op_window.assign_partition(b.state, 0, 1, &b.err), SL_OK);
  CU_ASSERT_EQUAL(restore_partition(&a, &b, 1, &entries), SL_OK);
  CU_ASSERT_EQUAL(entries, 0); /* nothing to restore: it never sent */
  one(&b, RP(&b, "b", 5000, 1, 0));
  one(&b, RP(&b, "b", 6000, 1, 1));
  CU_ASSERT_EQUAL(b.dead_count, 0);
  th_watermark(&b, SL_WATERMARK_END);
  CU_ASSERT_EQUAL(results_for(&b, "b", 0, &n), 1);
  CU_ASSERT_EQUAL(n, 2);
  th_op_free(&a);
  th_op_free(&b);
}

/* Regression (issue 12, restart with half the partitions silent): after a
 * restart every partition is restored at once; the silent ones' first
 * records are not late although the others ran ahead before the restart. */
static void test_restart_with_silent_partitions(void) {
  th_op a, b;
  int64_t n = -1;
  CU_ASSERT_EQUAL_FATAL(init_op(&a, TUMBLE10, COUNT_ONLY), SL_OK);
  CU_ASSERT_EQUAL_FATAL(init_op(&b, TUMBLE10, COUNT_ONLY), SL_OK);
  assign_all(&a, 4);
  one(&a, RP(&a, "a", 100000, 0, 0));
  one(&a, RP(&a, "c", 101000, 1, 0));
  CU_ASSERT_EQUAL(th_snapshot(&a), SL_OK);
  assign_all(&b, 4);
  CU_ASSERT_EQUAL(th_restore_into(&a, &b), SL_OK);
  one(&b, RP(&b, "x", 5000, 2, 0)); /* the silent partitions start far behind */
  one(&b, RP(&b, "y", 7000, 3, 0));
  one(&b, RP(&b, "x", 6000, 2, 1));
  CU_ASSERT_EQUAL(b.dead_count, 0);
  th_watermark(&b, SL_WATERMARK_END);
  CU_ASSERT_EQUAL(results_for(&b, "x", 0, &n), 1);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(results_for(&b, "y", 0, &n), 1);
  CU_ASSERT_EQUAL(results_for(&b, "a", 100000, &n), 1);
  CU_ASSERT_EQUAL(results_for(&b, "c", 100000, &n), 1);
  th_op_free(&a);
  th_op_free(&b);
}

int suite_operators_window(void) {
  CU_pSuite s = CU_add_suite("operators/window", NULL, NULL);
  if (!s || !CU_add_test(s, "property: tumbling == reference", test_property_tumbling) ||
      !CU_add_test(s, "a key joins a fired window after the watermark fell back",
                   test_new_key_in_fired_window) ||
      !CU_add_test(s, "an unfired entry restored into a fired window",
                   test_restore_unfired_into_fired_window) ||
      !CU_add_test(s, "a restored window of another size", test_restored_window_of_another_size) ||
      !CU_add_test(s, "property: hopping == reference", test_property_hopping) ||
      !CU_add_test(s, "property: session == reference", test_property_session) ||
      !CU_add_test(s, "property: keys of every kind == reference", test_property_key_kinds) ||
      !CU_add_test(s, "bad config and destroy(NULL)", test_bad_config) ||
      !CU_add_test(s, "boundaries t = e-1, t = e, late, empty", test_boundaries_and_late) ||
      !CU_add_test(s, "event time forms and bad times", test_event_time_forms) ||
      !CU_add_test(s, "negative and extreme timestamps", test_extreme_timestamps) ||
      !CU_add_test(s, "NaN, Inf, nulls, wrong types", test_nan_inf_nulls_types) ||
      !CU_add_test(s, "results ordered by end, then key", test_order_by_end_then_key) ||
      !CU_add_test(s, "sessions merge three ways", test_sessions_merge_three_ways) ||
      !CU_add_test(s, "composite and dotted keys", test_composite_and_dotted_keys) ||
      !CU_add_test(s, "lateness re-emits", test_lateness_reemits) ||
      !CU_add_test(s, "hopping: late only when all closed",
                   test_hopping_late_only_when_all_closed) ||
      !CU_add_test(s, "idle partitions (fake clock)", test_idle_partitions) ||
      !CU_add_test(s, "drop_partition, sketches restored, bad state",
                   test_drop_partition_and_restore_errors) ||
      !CU_add_test(s, "held_offset == brute force: tumbling", test_held_tumbling) ||
      !CU_add_test(s, "held_offset == brute force: hopping", test_held_hopping) ||
      !CU_add_test(s, "held_offset == brute force: sessions", test_held_session) ||
      !CU_add_test(s, "held_offset: drop_partition, restore", test_held_drop_restore) ||
      !CU_add_test(s, "an assigned partition's first records are not late",
                   test_assigned_partition_not_late) ||
      !CU_add_test(s, "a restored partition rewinds the watermark",
                   test_restored_partition_rewinds) ||
      !CU_add_test(s, "a silent partition moves without a watermark",
                   test_silent_partition_moves_without_a_watermark) ||
      !CU_add_test(s, "a restart with silent partitions", test_restart_with_silent_partitions))
    return -1;
  return 0;
}
