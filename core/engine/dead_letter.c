/* SPDX-License-Identifier: Apache-2.0 */
/* Dead letters: every record that failed decoding, evaluation or delivery,
 * or arrived late, becomes {"reason","error","node","source","raw"} with its
 * original key, bytes and headers, and goes to the dead-letter sink. `node`
 * is the id of the source, operator or sink that rejected it, so a replay
 * can target that branch. Without a dead-letter sink it is still counted and
 * logged (rate-limited): never dropped silently. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"
#include "engine/dead_letter.h"
#include "engine/runtime_node.h"

static int valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + len > n)
      return 0;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xC0) != 0x80)
        return 0;
    i += len;
  }
  return 1;
}

/* The dead-letter field names, interned once per process: interning takes a
 * process-wide lock, and a poison stream dead-letters every record. */
static struct {
  sl_name reason, error, node, source, name, partition, offset, raw, raw_base64, record;
} dl_names;
static pthread_once_t dl_names_once = PTHREAD_ONCE_INIT;

static void dl_names_init(void) {
  dl_names.reason = sl_name_cstr("reason");
  dl_names.error = sl_name_cstr("error");
  dl_names.node = sl_name_cstr("node");
  dl_names.source = sl_name_cstr("source");
  dl_names.name = sl_name_cstr("name");
  dl_names.partition = sl_name_cstr("partition");
  dl_names.offset = sl_name_cstr("offset");
  dl_names.raw = sl_name_cstr("raw");
  dl_names.raw_base64 = sl_name_cstr("raw_base64");
  dl_names.record = sl_name_cstr("record");
}

static int set_str(sl_record *r, sl_name name, const char *s) {
  size_t n = strlen(s);
  char *copy = sl_arena_strndup(sl_record_arena(r), s, n);
  return copy ? sl_record_set(r, name, sl_value_string(copy, n)) : SL_ERR_NOMEM;
}

static int add_header(sl_record *r, const char *name, const char *value) {
  sl_arena *a = sl_record_arena(r);
  char *v = sl_arena_strndup(a, value, strlen(value));
  return v ? sl_record_header_add(r, name, v, strlen(v)) : SL_ERR_NOMEM;
}

static const char base64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64(sl_arena *a, const unsigned char *p, size_t n, size_t *outlen) {
  size_t len = 4 * ((n + 2) / 3);
  char *o = sl_arena_alloc(a, len + 1);
  if (!o)
    return NULL;
  size_t j = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    o[j++] = base64_chars[(v >> 18) & 63];
    o[j++] = base64_chars[(v >> 12) & 63];
    o[j++] = i + 1 < n ? base64_chars[(v >> 6) & 63] : '=';
    o[j++] = i + 2 < n ? base64_chars[v & 63] : '=';
  }
  o[j] = '\0';
  *outlen = j;
  return o;
}

/* The id of the node that rejected a record: the graph node's label, which
 * is also its state and metrics id (SPEC section 3, `id = "..."`). */
static const char *node_id(const sl_node *n) { return n->desc->label; }

static sl_record *build(sl_arena *a, const sl_record *r, const char *node, const char *reason,
                        const char *message) {
  pthread_once(&dl_names_once, dl_names_init);
  if (!dl_names.reason || !dl_names.error || !dl_names.node || !dl_names.source || !dl_names.name ||
      !dl_names.partition || !dl_names.offset || !dl_names.raw || !dl_names.raw_base64 ||
      !dl_names.record)
    return NULL; /* out of memory when the names were first interned */
  sl_record *d = sl_record_new(a, 7);
  sl_record *src = sl_record_new(a, 3);
  if (!d || !src || set_str(d, dl_names.reason, reason) || set_str(d, dl_names.error, message) ||
      set_str(d, dl_names.node, node))
    return NULL;
  const char *sname = r ? sl_record_source_name(r) : NULL;
  if (sname)
    set_str(src, dl_names.name, sname);
  if (r && sl_record_partition(r) >= 0)
    sl_record_set(src, dl_names.partition, sl_value_int(sl_record_partition(r)));
  if (r && sl_record_offset(r) >= 0)
    sl_record_set(src, dl_names.offset, sl_value_int(sl_record_offset(r)));
  sl_record_set(d, dl_names.source, sl_value_record(src));
  if (!r)
    return d;
  size_t rawlen, keylen;
  const void *raw = sl_record_raw(r, &rawlen);
  if (raw) {
    if (valid_utf8(raw, rawlen)) {
      sl_record_set(d, dl_names.raw, sl_value_string(raw, rawlen));
    } else {
      size_t n;
      char *b = base64(a, raw, rawlen, &n);
      if (b)
        sl_record_set(d, dl_names.raw_base64, sl_value_string(b, n));
    }
    sl_record_set_raw(d, raw, rawlen);
  } else {
    /* A record made inside the pipeline (e.g. a window result) has no bytes. */
    sl_record_set(d, dl_names.record, sl_value_record((sl_record *)r));
  }
  const void *key = sl_record_key(r, &keylen);
  sl_record_set_key(d, key, keylen);
  sl_record_set_position(d, sl_record_source_id(r), sname, sl_record_partition(r),
                         sl_record_offset(r));
  sl_record_set_timestamp(d, sl_record_timestamp(r));
  for (size_t i = 0; i < sl_record_header_count(r); i++) {
    const void *hv;
    size_t hl;
    const char *hn = sl_record_header_at(r, i, &hv, &hl);
    sl_record_header_add(d, hn, hv, hl);
  }
  char num[32];
  add_header(d, "sluice-error", message);
  add_header(d, "sluice-reason", reason);
  add_header(d, "sluice-node", node);
  add_header(d, "sluice-source-topic", sname ? sname : "");
  snprintf(num, sizeof num, "%d", (int)sl_record_partition(r));
  add_header(d, "sluice-source-partition", num);
  snprintf(num, sizeof num, "%lld", (long long)sl_record_offset(r));
  add_header(d, "sluice-source-offset", num);
  return d;
}

int sl_runtime_dead_letter(sl_runtime *rt, sl_node *from, const sl_record *r, const char *reason,
                           const char *message) {
  rt->dead_letters++;
  sl_metric_add(from->m_failed, 1);
  if (!rt->dead_letter) {
    sl_log_limited(reason, 10, SL_LOG_WARN, node_id(from),
                   "record %s:%d:%lld failed (%s): %s; add p:dead_letter{path = ...} to keep it",
                   r && sl_record_source_name(r) ? sl_record_source_name(r) : "?",
                   r ? (int)sl_record_partition(r) : -1,
                   r ? (long long)sl_record_offset(r) : -1LL, reason, message);
    return SL_OK;
  }
  sl_record *d = build(rt->arena, r, node_id(from), reason, message);
  if (!d)
    return SL_ERR_NOMEM;
  return sl_batch_push(&rt->dl_batch, d);
}

int sl_runtime_flush_dead_letters(sl_runtime *rt, sl_error *err) {
  if (!rt->dead_letter || rt->dl_batch.count == 0)
    return SL_OK;
  int rc = sl_runtime_sink_write(rt, rt->dead_letter, &rt->dl_batch, err);
  sl_batch_clear(&rt->dl_batch);
  return rc;
}
