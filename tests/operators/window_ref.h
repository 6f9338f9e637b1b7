/* SPDX-License-Identifier: Apache-2.0 */
/* A brute-force reference of SPEC section 5 for the window operator tests,
 * written independently of operators/window.c: it keeps every record,
 * recomputes the watermark record by record and decides firing, closing and
 * lateness straight from the definitions in docs/windows.md:
 *   - a record is assigned with the watermark W before it;
 *   - window [s, e) fires when W reaches e and closes when W reaches e + L;
 *   - a record whose windows are all closed is late;
 *   - a record landing in a fired, open window re-emits it at once;
 *   - results of one advance come out by (e, key). */
#ifndef WINDOW_REF_H
#define WINDOW_REF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { REF_TUMBLING, REF_HOPPING, REF_SESSION };

typedef struct ref_rec {
  int id;
  int64_t key;
  int64_t t;
  int has_v;
  int64_t v;
  int32_t part;
} ref_rec;

typedef struct ref_out { /* one expected result */
  int64_t key, s, e;
  int64_t n, nv, sum, lo, hi, first, last;
} ref_out;

typedef struct ref_win {
  int64_t key, s, e;
  int fired, alive;
  int *ids;
  int n;
} ref_win;

typedef struct ref {
  int kind, str_keys;
  int (*key_cmp)(int64_t a, int64_t b); /* when set: the order of keys */
  int64_t size, every, delay, lateness;
  const ref_rec *recs;
  ref_win *wins;
  int nwins;
  int nrecs;
  int64_t pmax[8];
  int pseen[8];
  int64_t wm;
  ref_out *outs;
  int nouts;
  int *dead_ids;     /* late and eval dead letters, in order */
  char *dead_reason; /* 'l' late, 'e' eval */
  int ndead;
} ref;

#define REF_TMAX (INT64_C(1) << 62)

static int ref_key_cmp(const ref *r, int64_t a, int64_t b) {
  if (r->key_cmp)
    return r->key_cmp(a, b);
  if (!r->str_keys)
    return (a > b) - (a < b);
  char x[32], y[32];
  snprintf(x, sizeof x, "k%lld", (long long)a);
  snprintf(y, sizeof y, "k%lld", (long long)b);
  return strcmp(x, y);
}

static void ref_emit(ref *r, const ref_win *w) {
  ref_out *o = &r->outs[r->nouts++];
  memset(o, 0, sizeof *o);
  o->key = w->key;
  o->s = w->s;
  o->e = w->e;
  int first = -1, last = -1;
  for (int i = 0; i < w->n; i++) {
    const ref_rec *x = &r->recs[w->ids[i]];
    o->n++;
    if (!x->has_v)
      continue;
    if (o->nv == 0 || x->v < o->lo)
      o->lo = x->v;
    if (o->nv == 0 || x->v > o->hi)
      o->hi = x->v;
    o->nv++;
    o->sum += x->v;
    /* ids are arrival order: ties go to the earlier (first) / later (last) */
    if (first < 0 || x->t < r->recs[first].t || (x->t == r->recs[first].t && x->id < first))
      first = x->id;
    if (last < 0 || x->t > r->recs[last].t || (x->t == r->recs[last].t && x->id > last))
      last = x->id;
  }
  if (first >= 0) {
    o->first = r->recs[first].v;
    o->last = r->recs[last].v;
  }
}

static ref_win *ref_find(ref *r, int64_t key, int64_t s) {
  for (int i = 0; i < r->nwins; i++)
    if (r->wins[i].alive && r->wins[i].key == key && r->wins[i].s == s)
      return &r->wins[i];
  return NULL;
}

static ref_win *ref_new(ref *r, int64_t key, int64_t s, int64_t e) {
  ref_win *w = &r->wins[r->nwins++];
  memset(w, 0, sizeof *w);
  w->key = key;
  w->s = s;
  w->e = e;
  w->alive = 1;
  w->ids = malloc(sizeof(int) * ((size_t)r->nrecs + 1));
  return w;
}

static int ref_closed(const ref *r, int64_t e) { return r->wm >= e + r->lateness; }

static void ref_add(ref *r, ref_win *w, int id) {
  w->ids[w->n++] = id;
  if (r->wm >= w->e) {
    w->fired = 1;
    ref_emit(r, w);
  }
}

static void ref_late(ref *r, int id, char why) {
  r->dead_ids[r->ndead] = id;
  r->dead_reason[r->ndead++] = why;
}

static int64_t floordiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0); }

static void ref_assign(ref *r, const ref_rec *x) {
  if (r->kind == REF_SESSION) {
    int64_t s = x->t, e = x->t + r->size;
    for (int i = 0; i < r->nwins; i++) {
      ref_win *w = &r->wins[i];
      if (w->alive && w->key == x->key && w->s < x->t + r->size && x->t < w->e) {
        if (w->s < s)
          s = w->s;
        if (w->e > e)
          e = w->e;
      }
    }
    if (ref_closed(r, e)) {
      ref_late(r, x->id, 'l');
      return;
    }
    ref_win *m = ref_new(r, x->key, s, e);
    for (int i = 0; i < r->nwins - 1; i++) {
      ref_win *w = &r->wins[i];
      if (w->alive && w->key == x->key && w->s < x->t + r->size && x->t < w->e) {
        memcpy(m->ids + m->n, w->ids, sizeof(int) * (size_t)w->n);
        m->n += w->n;
        w->alive = 0;
      }
    }
    ref_add(r, m, x->id);
    return;
  }
  int64_t every = r->kind == REF_TUMBLING ? r->size : r->every;
  /* every window [k*every, k*every+size) containing t, ascending end */
  int64_t ks[64];
  int nk = 0;
  for (int64_t k = floordiv(x->t, every); k * every + r->size > x->t; k--)
    ks[nk++] = k;
  int joined = 0;
  for (int i = nk - 1; i >= 0; i--) {
    int64_t s = ks[i] * every, e = s + r->size;
    if (ref_closed(r, e))
      continue;
    joined = 1;
    ref_win *w = ref_find(r, x->key, s);
    ref_add(r, w ? w : ref_new(r, x->key, s, e), x->id);
  }
  if (!joined)
    ref_late(r, x->id, 'l');
}

static void ref_fire(ref *r) {
  for (;;) { /* the ripe window with the smallest (e, key), repeatedly */
    ref_win *best = NULL;
    for (int i = 0; i < r->nwins; i++) {
      ref_win *w = &r->wins[i];
      if (!w->alive || w->fired || r->wm < w->e)
        continue;
      if (!best || w->e < best->e || (w->e == best->e && ref_key_cmp(r, w->key, best->key) < 0))
        best = w;
    }
    if (!best)
      break;
    best->fired = 1;
    ref_emit(r, best);
  }
  for (int i = 0; i < r->nwins; i++)
    if (r->wins[i].alive && (r->wm == INT64_MAX || ref_closed(r, r->wins[i].e)))
      r->wins[i].alive = 0;
}

/* Step by step: ref_begin, ref_step per record, ref_end (end of input). */
static void ref_begin(ref *r, const ref_rec *recs, int n) {
  r->recs = recs;
  r->nrecs = n;
  r->wins = calloc((size_t)n * 16 + 8, sizeof *r->wins);
  r->outs = calloc((size_t)n * 16 + 8, sizeof *r->outs);
  r->dead_ids = calloc((size_t)n + 1, sizeof(int));
  r->dead_reason = calloc((size_t)n + 1, 1);
  r->wm = INT64_MIN;
}

static void ref_step(ref *r, int i) {
  const ref_rec *x = &r->recs[i];
  if (x->t > REF_TMAX || x->t < -REF_TMAX) {
    ref_late(r, x->id, 'e');
    return;
  }
  ref_assign(r, x);
  if (!r->pseen[x->part] || x->t > r->pmax[x->part])
    r->pmax[x->part] = x->t;
  r->pseen[x->part] = 1;
  int64_t m = INT64_MAX;
  for (int p = 0; p < 8; p++)
    if (r->pseen[p] && r->pmax[p] - r->delay < m)
      m = r->pmax[p] - r->delay;
  if (m > r->wm) {
    r->wm = m;
    ref_fire(r);
  }
}

static void ref_end(ref *r) {
  r->wm = INT64_MAX;
  ref_fire(r);
}

/* Run the whole input, then the end-of-input watermark. */
static void ref_run(ref *r, const ref_rec *recs, int n) {
  ref_begin(r, recs, n);
  for (int i = 0; i < n; i++)
    ref_step(r, i);
  ref_end(r);
}

/* Brute force of held_offset: the smallest offs[id] over the records of
 * partition `part` in windows still open (alive), -1 if none. */
static int64_t ref_held(const ref *r, const int64_t *offs, int32_t part) {
  int64_t m = -1;
  for (int i = 0; i < r->nwins; i++) {
    const ref_win *w = &r->wins[i];
    for (int k = 0; w->alive && k < w->n; k++)
      if (r->recs[w->ids[k]].part == part && (m < 0 || offs[w->ids[k]] < m))
        m = offs[w->ids[k]];
  }
  return m;
}

static void ref_free(ref *r) {
  for (int i = 0; i < r->nwins; i++)
    free(r->wins[i].ids);
  free(r->wins);
  free(r->outs);
  free(r->dead_ids);
  free(r->dead_reason);
}

#endif
