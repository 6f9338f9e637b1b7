/* SPDX-License-Identifier: Apache-2.0 */
/* The `alert` operator (SPEC section 6): per key, a FIRING record once `when`
 * has held continuously for `for` of event time, a RESOLVED record when
 * `clear` holds (default: `when` no longer holds), re-sends of a still-firing
 * alert at most every `cooldown`, and a dead-man switch (`absent`) that fires
 * when a key seen before sends nothing for D of event time.
 *
 * Time is event time only (sl_record_timestamp; window results carry
 * window_end - 1), records are taken in arrival order, so the output never
 * depends on batch boundaries or the wall clock. Absence runs on one clock
 * per operator: the maximum event time seen over all keys. The end of a
 * finite input (SL_WATERMARK_END) fires no absence: the input ended, the
 * devices did not go silent.
 *
 * State per key lives in alert_state.c; only keys that are pending, firing
 * or tracked for absence are kept, so state does not grow with resolved keys
 * unless `absent` is set (then every key seen is remembered, by design). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_state.h"
#include "base/buf.h"
#include "builtin.h"
#include "codec/json_codec.h"

typedef struct key_path {
  sl_name *names; /* malloc'd */
  size_t len;
  sl_name out; /* field name in the key object: the full dotted path */
} key_path;

typedef struct alert_op {
  const sl_host *host;
  sl_operator *op;
  char *name, *severity;               /* malloc'd copies */
  sl_expr *when, *clear;               /* clear may be NULL; when NULL only with absent */
  int64_t for_ms, cooldown_ms, absent_ms; /* cooldown/absent 0: off */
  key_path *keys;
  size_t nkeys;
  al_table tab;
  int64_t clock;    /* max event time seen (absence clock) */
  int64_t next_due; /* no absence can fire before this clock value */
  size_t n_firing, n_reported;
  sl_buf kbuf;  /* scratch: key JSON of the current record */
  sl_buf vbuf;  /* scratch: snapshot values */
  al_entry **due; /* scratch: keys going absent in one scan */
  size_t due_cap;
  sl_name n_alert, n_state, n_severity, n_key, n_ts, n_record, n_reason, n_window_start;
} alert_op;

static const sl_config_entry alert_config[] = {
    {"name", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "alert name, the `alert` field of its records"},
    {"when", SL_CFG_EXPR, 0, NULL, "condition that fires the alert (required unless `absent`)"},
    {"clear", SL_CFG_EXPR, 0, "not when", "condition that resolves a firing alert"},
    {"for", SL_CFG_DURATION, 0, "0", "how long `when` must hold (event time) before firing"},
    {"cooldown", SL_CFG_DURATION, 0, NULL, "re-send a still-firing alert at most this often"},
    {"absent", SL_CFG_DURATION, 0, NULL, "fire when a key seen before is silent this long"},
    {"severity", SL_CFG_STRING, 0, "warning", "info, warning or critical"},
    {"key", SL_CFG_STRING_LIST, 0, NULL, "key field(s); default: the window key fields"},
    {NULL, 0, 0, NULL, NULL},
};

static int64_t sat_add(int64_t a, int64_t b) {
  return a > INT64_MAX - b ? INT64_MAX : a + b; /* b >= 0 */
}

/* ---- configuration ------------------------------------------------------ */

static int split_path(const char *text, key_path *p, sl_error *err) {
  size_t n = 1, len = strlen(text);
  for (size_t i = 0; i < len; i++)
    n += text[i] == '.';
  p->names = calloc(n, sizeof *p->names);
  if (!p->names)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  p->out = sl_name_cstr(text);
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && text[i] != '.')
      continue;
    if (i == start)
      return sl_error_set(err, SL_ERR_INVALID, "key '%s' is not a field path", text);
    p->names[p->len++] = sl_name_intern(text + start, i - start);
    start = i + 1;
  }
  return SL_OK;
}

static int duration(const sl_config *cfg, const char *key, int64_t min, int64_t *out,
                    sl_error *err) {
  *out = sl_config_duration_ms(cfg, key, 0);
  if (sl_config_has(cfg, key) && *out < min)
    return sl_error_set(err, SL_ERR_INVALID, "%s must be %s", key,
                        min > 0 ? "positive" : "zero or more");
  return SL_OK;
}

static int compile(alert_op *a, const sl_config *cfg, const char *key, sl_expr **out,
                   sl_error *err) {
  const char *text = sl_config_string(cfg, key, NULL);
  if (!text)
    return SL_OK;
  *out = a->host->expr_compile(a->op, text, sl_config_line(cfg), err);
  return *out ? SL_OK : err->code ? err->code : SL_ERR_PARSE;
}

static int config_scalars(alert_op *a, const sl_config *cfg, sl_error *err) {
  const char *sev = sl_config_string(cfg, "severity", "warning");
  if (strcmp(sev, "info") && strcmp(sev, "warning") && strcmp(sev, "critical"))
    return sl_error_set(err, SL_ERR_INVALID,
                        "severity '%s' is not one of info, warning, critical", sev);
  a->name = strdup(sl_config_string(cfg, "name", ""));
  a->severity = strdup(sev);
  if (!a->name || !a->severity)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (!a->name[0])
    return sl_error_set(err, SL_ERR_INVALID, "name must not be empty");
  int rc = duration(cfg, "for", 0, &a->for_ms, err);
  if (rc == SL_OK)
    rc = duration(cfg, "cooldown", 1, &a->cooldown_ms, err);
  if (rc == SL_OK)
    rc = duration(cfg, "absent", 1, &a->absent_ms, err);
  if (rc == SL_OK && !sl_config_has(cfg, "when") && !a->absent_ms)
    rc = sl_error_set(err, SL_ERR_INVALID,
                      "alert '%s' needs `when` (e.g. when = \"avg_temp > 90\") or `absent`",
                      a->name);
  if (rc == SL_OK && sl_config_has(cfg, "clear") && !sl_config_has(cfg, "when"))
    rc = sl_error_set(err, SL_ERR_INVALID, "alert '%s': `clear` needs `when`", a->name);
  return rc;
}

static void alert_destroy(void *state);

static int alert_init(const sl_host *host, sl_operator *op, const sl_config *cfg, void **state,
                      sl_error *err) {
  alert_op *a = calloc(1, sizeof *a);
  if (!a)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  a->host = host;
  a->op = op;
  a->clock = INT64_MIN;
  a->next_due = INT64_MAX;
  a->n_alert = sl_name_cstr("alert");
  a->n_state = sl_name_cstr("state");
  a->n_severity = sl_name_cstr("severity");
  a->n_key = sl_name_cstr("key");
  a->n_ts = sl_name_cstr("ts");
  a->n_record = sl_name_cstr("record");
  a->n_reason = sl_name_cstr("reason");
  a->n_window_start = sl_name_cstr("window_start");
  int rc = config_scalars(a, cfg, err);
  if (rc == SL_OK)
    rc = compile(a, cfg, "when", &a->when, err);
  if (rc == SL_OK)
    rc = compile(a, cfg, "clear", &a->clear, err);
  if (rc != SL_OK)
    goto out_free;
  a->nkeys = sl_config_list_len(cfg, "key");
  if (a->nkeys && !(a->keys = calloc(a->nkeys, sizeof *a->keys))) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out_free;
  }
  for (size_t i = 0; i < a->nkeys && rc == SL_OK; i++)
    rc = split_path(sl_config_list_string(cfg, "key", i), &a->keys[i], err);
  if (rc != SL_OK)
    goto out_free;
  if (al_table_init(&a->tab) != 0) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out_free;
  }
  host->gauge_set(op, "sluice_alerts_firing", 0);
  *state = a;
  return SL_OK;
out_free:
  alert_destroy(a);
  return rc;
}

static void alert_destroy(void *state) {
  alert_op *a = state;
  if (!a)
    return;
  if (a->when)
    a->host->expr_free(a->when);
  if (a->clear)
    a->host->expr_free(a->clear);
  for (size_t i = 0; a->keys && i < a->nkeys; i++)
    free(a->keys[i].names);
  free(a->keys);
  al_table_free(&a->tab);
  sl_buf_free(&a->kbuf);
  sl_buf_free(&a->vbuf);
  free(a->due);
  free(a->name);
  free(a->severity);
  free(a);
}

/* ---- keys --------------------------------------------------------------- */

/* The key object of `r` (in arena `ar`) and its JSON text in a->kbuf.
 * Rule: the `key` fields when given; else the fields before `window_start`
 * (the window key fields of a window result); else {"key": <record key>}
 * when the record has key bytes; else {} (one key for the whole stream). */
static int build_key(alert_op *a, const sl_record *r, sl_arena *ar, sl_record **out,
                     sl_error *err) {
  sl_record *k = sl_record_new(ar, a->nkeys ? a->nkeys : 2);
  if (!k)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  int rc = SL_OK;
  if (a->nkeys) {
    for (size_t i = 0; i < a->nkeys && rc == SL_OK; i++) {
      const sl_value *v = sl_record_get_path(r, a->keys[i].names, a->keys[i].len);
      rc = sl_record_set(k, a->keys[i].out, v ? *v : sl_value_null());
    }
  } else if (sl_record_get(r, a->n_window_start)) {
    for (size_t i = 0; i < sl_record_count(r) && rc == SL_OK; i++) {
      if (sl_record_name_at(r, i) == a->n_window_start)
        break;
      rc = sl_record_set(k, sl_record_name_at(r, i), *sl_record_value_at(r, i));
    }
  } else {
    size_t len;
    const char *bytes = sl_record_key(r, &len);
    if (bytes)
      rc = sl_record_set(k, a->n_key, sl_value_string(bytes, len));
  }
  if (rc != SL_OK)
    return sl_error_set(err, rc, "out of memory");
  sl_buf_reset(&a->kbuf);
  rc = sl_json_encode(k, &a->kbuf, err);
  if (rc != SL_OK)
    return rc;
  *out = k;
  return SL_OK;
}

/* ---- emitting ----------------------------------------------------------- */

static void report_gauge(alert_op *a) {
  if (a->n_firing != a->n_reported) {
    a->n_reported = a->n_firing;
    a->host->gauge_set(a->op, "sluice_alerts_firing", (double)a->n_firing);
  }
}

/* One alert record. `key` is NULL when only the entry's key JSON is known
 * (absence firing without a record); `trigger` is NULL for absences. */
static int emit_alert(alert_op *a, sl_emitter *out, const al_entry *e, sl_record *key,
                      const char *state, int64_t ts, sl_record *trigger, int absent,
                      sl_error *err) {
  sl_arena *ar = a->host->arena(out);
  sl_record *r = sl_record_new(ar, 7);
  char *kjson = sl_arena_strndup(ar, e->key, e->key_len);
  if (!r || !kjson)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (!key) {
    int rc = sl_json_decode(e->key, e->key_len, ar, &key, err);
    if (rc != SL_OK)
      return rc;
  }
  int rc = sl_record_set(r, a->n_alert, sl_value_string(a->name, strlen(a->name)));
  if (rc == SL_OK)
    rc = sl_record_set(r, a->n_state, sl_value_string(state, strlen(state)));
  if (rc == SL_OK)
    rc = sl_record_set(r, a->n_severity, sl_value_string(a->severity, strlen(a->severity)));
  if (rc == SL_OK)
    rc = sl_record_set(r, a->n_key, sl_value_record(key));
  if (rc == SL_OK)
    rc = sl_record_set(r, a->n_ts, sl_value_int(ts));
  if (rc == SL_OK && absent)
    rc = sl_record_set(r, a->n_reason, sl_value_string("absent", 6));
  if (rc == SL_OK)
    rc = sl_record_set(r, a->n_record, trigger ? sl_value_record(trigger) : sl_value_null());
  if (rc != SL_OK)
    return sl_error_set(err, rc, "out of memory");
  sl_record_set_key(r, kjson, e->key_len);
  sl_record_set_timestamp(r, ts);
  sl_record_set_position(r, -1, NULL, e->partition, -1);
  rc = a->host->emit(out, r);
  return rc == SL_OK ? SL_OK : sl_error_set(err, rc, "alert: emit failed (%s)", sl_strerror(rc));
}

/* ---- absence ------------------------------------------------------------ */

static int cmp_due(const void *x, const void *y) {
  const al_entry *p = *(al_entry *const *)x, *q = *(al_entry *const *)y;
  if (p->last_seen != q->last_seen)
    return p->last_seen < q->last_seen ? -1 : 1;
  size_t n = p->key_len < q->key_len ? p->key_len : q->key_len;
  int c = memcmp(p->key, q->key, n);
  return c ? c : (p->key_len > q->key_len) - (p->key_len < q->key_len);
}

typedef struct scan_ctx {
  alert_op *a;
  size_t n;
  int64_t next_due;
} scan_ctx;

static int collect_due(void *ctx, al_entry *e) {
  scan_ctx *s = ctx;
  alert_op *a = s->a;
  if (e->absent)
    return 0;
  int64_t due = sat_add(e->last_seen, a->absent_ms);
  if (due > a->clock) {
    if (due < s->next_due)
      s->next_due = due;
    return 0;
  }
  if (s->n == a->due_cap) {
    size_t cap = a->due_cap ? a->due_cap * 2 : 16;
    al_entry **d = realloc(a->due, cap * sizeof *d);
    if (!d)
      return SL_ERR_NOMEM;
    a->due = d;
    a->due_cap = cap;
  }
  a->due[s->n++] = e;
  return 0;
}

/* Fire the absence alert of every key silent for `absent` up to the clock,
 * in order of (silent since, key). Scans only when something may be due. */
static int scan_absent(alert_op *a, sl_emitter *out, sl_error *err) {
  if (!a->absent_ms || a->clock < a->next_due)
    return SL_OK;
  scan_ctx s = {a, 0, INT64_MAX};
  if (al_table_each(&a->tab, collect_due, &s) != 0)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  a->next_due = s.next_due;
  if (s.n > 1)
    qsort(a->due, s.n, sizeof *a->due, cmp_due);
  for (size_t i = 0; i < s.n; i++) {
    al_entry *e = a->due[i];
    e->absent = 1;
    e->dirty = 1;
    a->n_firing++;
    int rc = emit_alert(a, out, e, NULL, "firing", sat_add(e->last_seen, a->absent_ms), NULL, 1,
                        err);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

/* ---- the state machine -------------------------------------------------- */

/* `when`/`clear` as SQL: only a true value holds (null does not). */
static int eval(alert_op *a, const sl_expr *x, const sl_record *r, sl_arena *ar, int *holds,
                sl_error *err) {
  sl_value v;
  int rc = a->host->expr_eval(x, r, ar, &v, err);
  *holds = rc == SL_OK && v.type == SL_TYPE_BOOL && v.as.b;
  return rc;
}

/* Apply `when`/`clear` of record r (event time t) to the key's entry. */
static int step(alert_op *a, al_entry **ep, sl_record *key, sl_record *r, int64_t t,
                sl_emitter *out, sl_error *err) {
  al_entry *e = *ep;
  sl_arena *ar = a->host->arena(out);
  sl_error eerr;
  sl_error_clear(&eerr);
  int firing = e && e->phase == AL_FIRING, holds = 0, rc;
  if (firing && a->clear)
    rc = eval(a, a->clear, r, ar, &holds, &eerr); /* holds = clear holds */
  else
    rc = eval(a, a->when, r, ar, &holds, &eerr);
  if (rc != SL_OK)
    return a->host->dead_letter(out, r, "eval", eerr.message);
  if (firing) {
    int resolved = a->clear ? holds : !holds;
    if (resolved) {
      e->phase = AL_OK;
      e->dirty = 1;
      a->n_firing--;
      return emit_alert(a, out, e, key, "resolved", t, r, 0, err);
    }
    if (a->cooldown_ms && t - e->last_sent >= a->cooldown_ms) {
      e->last_sent = t;
      e->dirty = 1;
      return emit_alert(a, out, e, key, "firing", t, r, 0, err);
    }
    return SL_OK;
  }
  if (!holds) {
    if (e && e->phase == AL_PENDING) {
      e->phase = AL_OK;
      e->dirty = 1;
    }
    return SL_OK;
  }
  if (!e && !(e = *ep = al_table_insert(&a->tab, al_hash(a->kbuf.data, a->kbuf.len),
                                        a->kbuf.data, a->kbuf.len, sl_record_partition(r))))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (e->phase == AL_OK) {
    e->phase = AL_PENDING;
    e->since = t;
    e->dirty = 1;
  }
  if (t - e->since < a->for_ms)
    return SL_OK;
  e->phase = AL_FIRING;
  e->last_sent = t;
  e->dirty = 1;
  a->n_firing++;
  return emit_alert(a, out, e, key, "firing", t, r, 0, err);
}

static int on_record(alert_op *a, sl_record *r, sl_emitter *out, sl_error *err) {
  sl_arena *ar = a->host->arena(out);
  int64_t t = sl_record_timestamp(r);
  sl_record *key = NULL;
  sl_error kerr;
  int rc = build_key(a, r, ar, &key, &kerr);
  if (rc == SL_ERR_NOMEM)
    return sl_error_set(err, rc, "out of memory");
  if (rc != SL_OK)
    return a->host->dead_letter(out, r, "eval", kerr.message);
  if (a->absent_ms && t > a->clock) {
    a->clock = t; /* may also fire this key's own absence: it was silent that long */
    if ((rc = scan_absent(a, out, err)) != SL_OK)
      return rc;
  }
  al_entry *e = al_table_find(&a->tab, al_hash(a->kbuf.data, a->kbuf.len), a->kbuf.data,
                              a->kbuf.len);
  if (a->absent_ms) {
    if (!e) {
      e = al_table_insert(&a->tab, al_hash(a->kbuf.data, a->kbuf.len), a->kbuf.data, a->kbuf.len,
                          sl_record_partition(r));
      if (!e)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      e->last_seen = t;
    }
    if (t > e->last_seen) /* an older record does not make a key look fresher */
      e->last_seen = t;
    e->dirty = 1;
    if (sat_add(e->last_seen, a->absent_ms) < a->next_due)
      a->next_due = sat_add(e->last_seen, a->absent_ms);
    if (e->absent) {
      e->absent = 0;
      a->n_firing--;
      if ((rc = emit_alert(a, out, e, key, "resolved", t, r, 1, err)) != SL_OK)
        return rc;
    }
  }
  if (e && e->partition != sl_record_partition(r)) {
    e->partition = sl_record_partition(r);
    e->dirty = 1;
  }
  if (a->when && (rc = step(a, &e, key, r, t, out, err)) != SL_OK)
    return rc;
  if (e && e->phase == AL_OK && !a->absent_ms)
    if (al_table_remove(&a->tab, e, 1) != 0)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  return SL_OK;
}

static int alert_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  alert_op *a = state;
  int rc = SL_OK;
  for (size_t i = 0; i < sl_batch_count(in) && rc == SL_OK; i++)
    rc = on_record(a, sl_batch_at(in, i), out, err);
  report_gauge(a);
  return rc;
}

/* A real watermark advances the absence clock; the end of a finite input
 * does not (see the file comment). */
static int alert_on_watermark(void *state, int64_t watermark, sl_emitter *out, sl_error *err) {
  alert_op *a = state;
  if (watermark == SL_WATERMARK_END || watermark == SL_WATERMARK_NONE || !a->absent_ms ||
      watermark <= a->clock)
    return SL_OK;
  a->clock = watermark;
  int rc = scan_absent(a, out, err);
  report_gauge(a);
  return rc;
}

/* ---- checkpoints -------------------------------------------------------- */

typedef struct snap_ctx {
  alert_op *a;
  sl_snapshot *snap;
} snap_ctx;

static int snap_entry(void *ctx, al_entry *e) {
  snap_ctx *s = ctx;
  const sl_host *h = s->a->host;
  if (!e->dirty)
    return 0;
  int rc;
  if (e->persisted && e->snap_partition != e->partition &&
      (rc = h->snapshot_delete(s->snap, e->snap_partition, e->key, e->key_len)) != SL_OK)
    return rc;
  sl_buf_reset(&s->a->vbuf);
  if (al_entry_encode(e, &s->a->vbuf) != 0)
    return SL_ERR_NOMEM;
  rc = h->snapshot_put(s->snap, e->partition, e->key, e->key_len, s->a->vbuf.data,
                       s->a->vbuf.len);
  if (rc != SL_OK)
    return rc;
  e->dirty = 0;
  e->persisted = 1;
  e->snap_partition = e->partition;
  return 0;
}

/* Deletes first: a key removed and seen again since the last snapshot is
 * deleted, then written anew. */
static int alert_snapshot(void *state, sl_snapshot *snap, sl_error *err) {
  alert_op *a = state;
  const char *p = a->tab.deletes.data, *end = p + a->tab.deletes.len;
  int rc = SL_OK;
  while (p && p < end && rc == SL_OK) {
    int32_t part;
    uint32_t len;
    memcpy(&part, p, sizeof part);
    memcpy(&len, p + sizeof part, sizeof len);
    p += sizeof part + sizeof len;
    rc = a->host->snapshot_delete(snap, part, p, len);
    p += len;
  }
  if (rc == SL_OK) {
    sl_buf_reset(&a->tab.deletes);
    snap_ctx c = {a, snap};
    rc = al_table_each(&a->tab, snap_entry, &c);
  }
  if (rc != SL_OK)
    return sl_error_set(err, rc, "alert: snapshot failed (%s)", sl_strerror(rc));
  return SL_OK;
}

static int alert_restore(void *state, int32_t partition, const void *key, size_t key_len,
                         const void *val, size_t val_len, sl_error *err) {
  alert_op *a = state;
  uint32_t h = al_hash(key, key_len);
  al_entry *e = al_table_find(&a->tab, h, key, key_len);
  if (!e && !(e = al_table_insert(&a->tab, h, key, key_len, partition)))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  a->n_firing -= (e->phase == AL_FIRING) + e->absent;
  if (al_entry_decode(e, val, val_len) != 0) {
    al_table_remove(&a->tab, e, 0);
    report_gauge(a);
    return sl_error_set(err, SL_ERR_PARSE,
                        "alert '%s': unreadable state entry for partition %d (%zu bytes)",
                        a->name, (int)partition, val_len);
  }
  a->n_firing += (e->phase == AL_FIRING) + e->absent;
  e->partition = e->snap_partition = partition;
  e->persisted = 1;
  e->dirty = 0;
  if (a->absent_ms) {
    if (e->last_seen > a->clock)
      a->clock = e->last_seen;
    if (!e->absent && sat_add(e->last_seen, a->absent_ms) < a->next_due)
      a->next_due = sat_add(e->last_seen, a->absent_ms);
  }
  report_gauge(a);
  return SL_OK;
}

typedef struct drop_ctx {
  alert_op *a;
  int32_t partition;
} drop_ctx;

static int drop_entry(void *ctx, al_entry *e) {
  drop_ctx *d = ctx;
  if (e->partition != d->partition)
    return 0;
  d->a->n_firing -= (e->phase == AL_FIRING) + e->absent;
  al_table_remove(&d->a->tab, e, 0); /* the new owner restores it: no delete */
  return 0;
}

static int alert_drop_partition(void *state, int32_t partition, sl_error *err) {
  (void)err;
  alert_op *a = state;
  drop_ctx d = {a, partition};
  al_table_each(&a->tab, drop_entry, &d);
  al_table_forget_deletes(&a->tab, partition);
  report_gauge(a);
  return SL_OK;
}

const sl_operator_desc sl_op_alert = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_operator_desc),
    .name = "alert",
    .summary = "per-key firing/resolved alerts with hysteresis, for, cooldown and absence",
    .config = alert_config,
    .positional = NULL,
    .flags = 0,
    .free_key_type = 0,
    .init = alert_init,
    .process = alert_process,
    .on_watermark = alert_on_watermark,
    .on_tick = NULL,
    .snapshot = alert_snapshot,
    .restore = alert_restore,
    .drop_partition = alert_drop_partition,
    .destroy = alert_destroy,
};
