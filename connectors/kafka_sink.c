/* SPDX-License-Identifier: Apache-2.0 */
/* kafka_sink: an idempotent producer (acks=all) writing records as JSON or
 * binary Avro (or their raw bytes, for the dead-letter topic) with a key from a field or a
 * template and a deterministic sluice-id header. Every produced message is
 * With `registry = URL` the Avro schema is registered once at open (subject
 * `subject`, default "<topic>-value") and values use the Confluent wire
 * format. Every produced message is
 * tracked until its delivery report: a failure is dead-lettered (reason
 * "sink") and makes the next flush() fail, so nothing undelivered is ever
 * reported as durable. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/record_internal.h"
#include "codec/format.h"
#include "codec/json_codec.h"
#include "kafka.h"
#include "kafka_conf.h"

#define SLUICE_ID_HEADER "sluice-id"

/* One piece of a key template: literal text, or a field's value. */
typedef struct key_part {
  const char *lit; /* into key_text; NULL for a field part */
  size_t len;
  sl_name field;
} key_part;

/* Where an in-flight message came from, for its dead letter. Indexed by the
 * message opaque (index + 1); free slots form a list through next_free, so
 * steady-state producing allocates nothing per record. */
typedef struct inflight_slot {
  const char *source_name; /* borrowed: lives as long as the source */
  int64_t offset;
  int32_t source_id;
  int32_t partition;
  size_t next_free; /* index + 1 of the next free slot, 0 = end */
} inflight_slot;

typedef struct kafka_sink {
  const sl_connector_env *env;
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt;
  char *topic;
  int embedded;    /* holds a reference on the embedded broker */
  int raw;         /* value = sl_record_raw(), headers passed through */
  sl_format *avro; /* format = "avro" (maybe with a registry); NULL for JSON */
  char *key_text;
  key_part *key_parts;
  size_t key_nparts;
  sl_name window_start;
  sl_buf value, key, id, scratch; /* reused per record */
  char *id_prefix;                /* "<pipeline>/<node>/", built once at open */
  size_t id_prefix_len;
  inflight_slot *slots;
  size_t nslots, free_head;
  size_t inflight; /* produced, no delivery report yet */
  size_t failed;   /* failures not yet reported by flush() */
  char last_error[256];
  sl_arena *dl_arena; /* dead-letter records, reset after each */
} kafka_sink;

static const sl_config_entry sink_config[] = {
    {"topic", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "topic to produce to"},
    {"key", SL_CFG_STRING, 0, "the record's own key",
     "field name, or a template like \"{site}-{machine_id}\""},
    {"format", SL_CFG_STRING, 0, "json", "value encoding: \"json\" or \"avro\""},
    {"schema", SL_CFG_STRING, 0, NULL, "Avro schema file (format = \"avro\")"},
    {"registry", SL_CFG_STRING, 0, NULL,
     "Confluent schema-registry URL: register `schema` at open, write the wire format"},
    {"subject", SL_CFG_STRING, 0, "<topic>-value", "registry subject of the schema"},
    {"registry_timeout", SL_CFG_DURATION, 0, "5s", "bound on the registration request"},
    {"raw", SL_CFG_BOOL, 0, "false",
     "write each record's original bytes, key and headers (the dead-letter topic)"},
    {NULL, 0, 0, NULL, NULL},
};

/* ---- keys and ids ------------------------------------------------------- */

static int parse_key(kafka_sink *s, const char *spec, sl_error *err) {
  size_t cap = 1;
  for (const char *p = spec; *p; p++)
    cap += *p == '{';
  cap = cap * 2 + 1;
  if (!(s->key_text = strdup(spec)) || !(s->key_parts = calloc(cap, sizeof *s->key_parts)))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (!strchr(spec, '{')) {
    s->key_parts[s->key_nparts++].field = sl_name_cstr(spec);
    return SL_OK;
  }
  const char *p = s->key_text;
  while (*p) {
    const char *open = strchr(p, '{');
    if (open != p) {
      size_t len = open ? (size_t)(open - p) : strlen(p);
      s->key_parts[s->key_nparts++] = (key_part){p, len, NULL};
      p += len;
      continue;
    }
    const char *close = strchr(open, '}');
    if (!close || close == open + 1)
      return sl_error_set(err, SL_ERR_INVALID, "kafka_sink '%s': key template '%s': %s", s->topic,
                          spec, close ? "empty {}" : "missing '}'");
    s->key_parts[s->key_nparts++].field = sl_name_intern(open + 1, (size_t)(close - open - 1));
    p = close + 1;
  }
  return SL_OK;
}

/* Text of a value for keys and ids: strings as they are, others as JSON
 * (integers included: no printf, this runs once or twice per result); null and
 * missing are empty. */
static int append_text(kafka_sink *s, sl_buf *b, const sl_value *v, sl_error *err) {
  if (!v || v->type == SL_TYPE_NULL)
    return SL_OK;
  if (v->type == SL_TYPE_STRING || v->type == SL_TYPE_BYTES)
    return sl_buf_append(b, v->as.str.ptr, v->as.str.len) ? SL_ERR_NOMEM : SL_OK;
  (void)s;
  return sl_json_encode_value(v, b, err);
}

static int build_key(kafka_sink *s, const sl_record *r, sl_error *err) {
  sl_buf_reset(&s->key);
  for (size_t i = 0; i < s->key_nparts; i++) {
    const key_part *kp = &s->key_parts[i];
    int rc = kp->lit ? sl_buf_append(&s->key, kp->lit, kp->len)
                     : append_text(s, &s->key, sl_record_get(r, kp->field), err);
    if (rc)
      return rc;
  }
  return SL_OK;
}

/* "<pipeline>/<node>/<key>/<window_start>" for window results, else
 * "<pipeline>/<node>/<partition>/<offset>" of the record's source position:
 * the same output gets the same id after a replay. */
static int build_id(kafka_sink *s, const sl_record *r, const void *key, size_t klen,
                    sl_error *err) {
  const sl_value *ws = sl_record_get(r, s->window_start);
  sl_buf_reset(&s->id);
  if (sl_buf_append(&s->id, s->id_prefix, s->id_prefix_len))
    return SL_ERR_NOMEM;
  if (ws && ws->type != SL_TYPE_NULL) {
    if (klen && sl_buf_append(&s->id, key, klen))
      return SL_ERR_NOMEM;
    if (sl_buf_putc(&s->id, '/'))
      return SL_ERR_NOMEM;
    return append_text(s, &s->id, ws, err);
  }
  if (sl_record_offset(r) >= 0) {
    const char *src = sl_record_source_name(r);
    return sl_buf_printf(&s->id, "%s/%" PRId32 "/%" PRId64, src ? src : "", sl_record_partition(r),
                         sl_record_offset(r))
               ? SL_ERR_NOMEM
               : SL_OK;
  }
  /* Made inside the pipeline without a window (an alert): the same input
   * yields the same bytes, so a hash of the value identifies duplicates. */
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < s->value.len; i++)
    h = (h ^ (unsigned char)s->value.data[i]) * 1099511628211ull;
  return sl_buf_printf(&s->id, "v%016" PRIx64, h) ? SL_ERR_NOMEM : SL_OK;
}

/* ---- in-flight tracking and delivery reports --------------------------- */

static size_t slot_take(kafka_sink *s, const sl_record *r) {
  size_t i;
  if (s->free_head) {
    i = s->free_head - 1;
    s->free_head = s->slots[i].next_free;
  } else {
    if ((s->nslots & (s->nslots - 1)) == 0) { /* grow at powers of two */
      size_t ncap = s->nslots ? s->nslots * 2 : 256;
      inflight_slot *ns = realloc(s->slots, ncap * sizeof *ns);
      if (!ns)
        return 0;
      s->slots = ns;
    }
    i = s->nslots++;
  }
  s->slots[i] = (inflight_slot){sl_record_source_name(r), sl_record_offset(r),
                                sl_record_source_id(r), sl_record_partition(r), 0};
  return i + 1;
}

static void slot_put(kafka_sink *s, size_t id) {
  s->slots[id - 1].next_free = s->free_head;
  s->free_head = id;
}

/* Hand an undeliverable message to the runtime's dead-letter sink. */
static void dead_letter(kafka_sink *s, const inflight_slot *slot, const void *value, size_t vlen,
                        const void *key, size_t klen, rd_kafka_headers_t *hdrs, const char *msg) {
  sl_record *r;
  if (!s->env->dead_letter) {
    if (s->env->log)
      s->env->log(s->env->runtime, SL_LOG_ERROR,
                  "kafka_sink '%s': record lost (no dead-letter sink): %s", s->topic, msg);
    return;
  }
  r = sl_record_new(s->dl_arena, 0);
  if (!r)
    return;
  sl_record_set_raw(r, value ? value : "", value ? vlen : 0);
  if (key)
    sl_record_set_key(r, key, klen);
  if (slot)
    sl_record_set_position(r, slot->source_id, slot->source_name, slot->partition, slot->offset);
  if (hdrs) {
    const char *name;
    const void *val;
    size_t len;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &len) == 0; i++)
      sl_record_header_add(r, name, val ? val : "", val ? len : 0);
  }
  s->env->dead_letter(s->env->runtime, r, "sink", msg);
  sl_arena_reset(s->dl_arena);
}

static void note_failure(kafka_sink *s, const char *msg) {
  s->failed++;
  size_t n = strlen(msg);
  if (n >= sizeof s->last_error)
    n = sizeof s->last_error - 1;
  memcpy(s->last_error, msg, n);
  s->last_error[n] = '\0';
  if (s->env->counter_add)
    s->env->counter_add(s->env->runtime, "sluice_kafka_delivery_failures_total", 1);
}

/* Runs inside rd_kafka_poll/flush, i.e. on the runtime's thread. */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  kafka_sink *s = opaque;
  size_t id = (size_t)(uintptr_t)m->_private;
  (void)rk;
  if (s->inflight)
    s->inflight--;
  if (m->err) {
    char msg[384];
    rd_kafka_headers_t *hdrs = NULL;
    snprintf(msg, sizeof msg, "delivery to '%s' failed: %s", s->topic, rd_kafka_err2str(m->err));
    note_failure(s, msg);
    rd_kafka_message_headers(m, &hdrs);
    dead_letter(s, id ? &s->slots[id - 1] : NULL, m->payload, m->len, m->key, m->key_len, hdrs,
                msg);
  }
  if (id)
    slot_put(s, id);
}

/* ---- open / close ------------------------------------------------------- */

static void sink_close(void *state) {
  kafka_sink *s = state;
  if (!s)
    return;
  if (s->rk) {
    rd_kafka_flush(s->rk, 0);
    if (s->inflight) {
      /* The runtime closes after flush(); whatever is still queued now is
       * dead-lettered rather than dropped without a trace. */
      rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(s->rk, 0);
    }
    if (s->rkt)
      rd_kafka_topic_destroy(s->rkt);
    rd_kafka_destroy(s->rk);
  }
  if (s->embedded)
    sl_kafka_embedded_release();
  sl_buf_free(&s->value);
  sl_buf_free(&s->key);
  sl_buf_free(&s->id);
  sl_buf_free(&s->scratch);
  sl_arena_destroy(s->dl_arena);
  sl_format_free(s->avro);
  free(s->slots);
  free(s->key_parts);
  free(s->key_text);
  free(s->id_prefix);
  free(s->topic);
  free(s);
}

/* Offline: the format and the key template, each problem reported (the
 * Avro schema is read, not registered; properties are the pipeline's). */
static void sink_check(const sl_config *cfg, sl_check_report report, void *ud) {
  const char *topic = sl_config_string(cfg, "topic", "");
  const char *format = sl_config_string(cfg, "format", "json");
  const char *key = sl_config_string(cfg, "key", NULL);
  char msg[600];
  sl_error err;
  sl_error_clear(&err);
  if (!sl_config_bool(cfg, "raw", 0) && strcmp(format, "json") != 0 &&
      strcmp(format, "avro") != 0) {
    snprintf(msg, sizeof msg,
             "kafka_sink '%s': format = '%s' is not supported (use \"json\" or \"avro\")", topic,
             format);
    report(ud, 0, msg);
  } else if (!sl_config_bool(cfg, "raw", 0) && strcmp(format, "avro") == 0) {
    const char *schema = sl_config_string(cfg, "schema", NULL);
    sl_format *f = schema && *schema ? sl_format_open_subject(cfg, "json", "check", &err) : NULL;
    if (!f) {
      snprintf(msg, sizeof msg, "kafka_sink '%s': %s", topic,
               schema && *schema ? err.message : "format = \"avro\" needs schema = \"file.avsc\"");
      report(ud, 0, msg);
    }
    sl_format_free(f);
    sl_error_clear(&err);
  }
  kafka_sink s = {.topic = (char *)topic};
  if (key && *key && parse_key(&s, key, &err) != SL_OK)
    report(ud, 0, err.message);
  free(s.key_text);
  free(s.key_parts);
}

static int sink_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                     sl_error *err) {
  const char *topic = sl_config_string(cfg, "topic", NULL);
  const char *format = sl_config_string(cfg, "format", "json");
  const char *key = sl_config_string(cfg, "key", NULL);
  rd_kafka_conf_t *conf = NULL;
  kafka_sink *s;
  char errstr[512];
  int rc;

  *state = NULL;
  if (!topic || !*topic)
    return sl_error_set(err, SL_ERR_INVALID, "kafka_sink: 'topic' is required");
  s = calloc(1, sizeof *s);
  if (!s || !(s->topic = strdup(topic)) || !(s->dl_arena = sl_arena_new(0))) {
    sink_close(s);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  s->env = env;
  s->raw = sl_config_bool(cfg, "raw", 0);
  {
    const char *pl = env->pipeline ? env->pipeline : "";
    const char *node = env->node_name ? env->node_name : "kafka_sink";
    s->id_prefix_len = strlen(pl) + strlen(node) + 2;
    if (!(s->id_prefix = malloc(s->id_prefix_len + 1))) {
      sink_close(s);
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    snprintf(s->id_prefix, s->id_prefix_len + 1, "%s/%s/", pl, node);
  }
  s->window_start = sl_name_cstr("window_start");
  if (!s->raw && strcmp(format, "avro") == 0) {
    const char *schema = sl_config_string(cfg, "schema", NULL);
    if (!schema || !*schema) {
      rc = sl_error_set(err, SL_ERR_INVALID,
                        "kafka_sink '%s': format = \"avro\" needs schema = \"file.avsc\"", topic);
      goto out_close;
    }
    char subject[512];
    snprintf(subject, sizeof subject, "%s-value", topic); /* Confluent's TopicNameStrategy */
    sl_error e;
    sl_error_clear(&e);
    s->avro = sl_format_open_subject(cfg, "json", subject, &e);
    if (s->avro && sl_format_register(s->avro, &e) != SL_OK) { /* fail fast, at open */
      sl_format_free(s->avro);
      s->avro = NULL;
    }
    if (!s->avro) {
      rc = sl_error_set(err, e.code ? e.code : SL_ERR_INVALID, "kafka_sink '%s': %s", topic,
                        e.message);
      goto out_close;
    }
  } else if (!s->raw && strcmp(format, "json") != 0) {
    rc = sl_error_set(err, SL_ERR_INVALID,
                      "kafka_sink '%s': format = '%s' is not supported (use \"json\" or "
                      "\"avro\")",
                      topic, format);
    goto out_close;
  }
  if (key && *key && (rc = parse_key(s, key, err)))
    goto out_close;

  /* Idempotence: retries after a lost ack never duplicate or reorder. */
  const sl_kafka_prop forced[] = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
  };
  /* linger.ms stays librdkafka's 5 ms: a window's results leave as one burst, and a
   * shorter linger splits it over several requests, which lowered the median latency of
   * window results but raised their p99 (docs/kafka.md, "Producer batching").
   * librdkafka queues up to 100,000 messages; each costs its bytes, its headers and
   * ~250 bytes of bookkeeping, and a worker producing ~200k window results/s filled it
   * between checkpoints. 20,000 (~0.1 s of such output; a full queue only makes
   * write() wait for acks) took 15 MiB off the peak RSS (bench/README.md, "Sparse
   * devices end to end"). Users can set it. */
  const sl_kafka_prop defaults[] = {
      {"queue.buffering.max.messages", "20000"},
  };
  rc = sl_kafka_conf_new(env, defaults, sizeof defaults / sizeof defaults[0], forced,
                         sizeof forced / sizeof forced[0], &conf, &s->embedded, err);
  if (rc)
    goto out_close;
  if (s->embedded && (rc = sl_kafka_embedded_topic(topic, 0, err)))
    goto out_conf;
  rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  rd_kafka_conf_set_opaque(conf, s);
  s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!s->rk) {
    rc = sl_error_set(err, SL_ERR_INVALID, "kafka_sink '%s': %s", topic, errstr);
    goto out_conf;
  }
  conf = NULL;
  s->rkt = rd_kafka_topic_new(s->rk, topic, NULL);
  if (!s->rkt) {
    rc = sl_error_set(err, SL_ERR_INVALID, "kafka_sink '%s': %s", topic,
                      rd_kafka_err2str(rd_kafka_last_error()));
    goto out_close;
  }
  *state = s;
  return SL_OK;

out_conf:
  if (conf)
    rd_kafka_conf_destroy(conf);
out_close:
  sink_close(s);
  return rc;
}

/* ---- write / flush ------------------------------------------------------ */

/* Headers of one message: the record's own, then our sluice-id. */
static rd_kafka_headers_t *make_headers(kafka_sink *s, const sl_record *r) {
  size_t n = sl_record_header_count(r);
  rd_kafka_headers_t *h = rd_kafka_headers_new(n + 1);
  for (size_t i = 0; i < n; i++) {
    const void *val;
    size_t len;
    const char *name = sl_record_header_at(r, i, &val, &len);
    if (!s->raw && strcmp(name, SLUICE_ID_HEADER) == 0)
      continue; /* ours replaces an upstream id */
    rd_kafka_header_add(h, name, -1, val, (ssize_t)len);
  }
  if (!s->raw)
    rd_kafka_header_add(h, SLUICE_ID_HEADER, -1, s->id.data, (ssize_t)s->id.len);
  return h;
}

/* Encode value, key and id of `r` into the sink's buffers. */
static int encode_record(kafka_sink *s, const sl_record *r, const void **key, size_t *klen,
                         sl_error *err) {
  int rc;
  sl_buf_reset(&s->value);
  if (s->raw) {
    size_t len;
    const void *raw = sl_record_raw(r, &len);
    if (raw && len && sl_buf_append(&s->value, raw, len))
      return SL_ERR_NOMEM;
    *key = sl_record_key(r, klen);
    return SL_OK;
  }
  rc = s->avro ? sl_format_encode(s->avro, r, &s->value, err) : sl_json_encode(r, &s->value, err);
  if (rc)
    return rc;
  if (s->key_nparts) {
    if ((rc = build_key(s, r, err)))
      return rc;
    *key = s->key.data ? s->key.data : "";
    *klen = s->key.len;
  } else {
    *key = sl_record_key(r, klen);
  }
  return build_id(s, r, *key, *klen, err);
}

static int sink_write(void *state, const sl_batch *in, size_t *written, sl_error *err) {
  kafka_sink *s = state;
  size_t n = sl_batch_count(in), i;
  char errstr[512];
  int rc = SL_OK;
  sl_error enc; /* encoders write it only on failure: cleared then, not per record */

  sl_error_clear(&enc);
  rd_kafka_poll(s->rk, 0); /* serve delivery reports, free queue space */
  for (i = 0; i < n; i++) {
    const sl_record *r = sl_batch_at(in, i);
    const void *key = NULL;
    size_t klen = 0, slot;
    rd_kafka_headers_t *hdrs;
    rd_kafka_resp_err_t e;

    if ((rc = encode_record(s, r, &key, &klen, &enc))) {
      if (rc == SL_ERR_NOMEM)
        break;
      /* A record this sink cannot encode is data, not an outage. */
      inflight_slot pos = {sl_record_source_name(r), sl_record_offset(r), sl_record_source_id(r),
                           sl_record_partition(r), 0};
      size_t rl;
      const void *raw = sl_record_raw(r, &rl);
      dead_letter(s, &pos, raw, rl, key, klen, NULL, enc.message);
      sl_error_clear(&enc);
      rc = SL_OK;
      continue;
    }
    if (!(slot = slot_take(s, r))) {
      rc = SL_ERR_NOMEM;
      break;
    }
    hdrs = make_headers(s, r);
    e = rd_kafka_producev(s->rk, RD_KAFKA_V_RKT(s->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(s->value.data, s->value.len), RD_KAFKA_V_KEY(key, klen),
                          RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)slot),
                          RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      s->inflight++;
      continue;
    }
    rd_kafka_headers_destroy(hdrs); /* still ours when producev fails */
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      slot_put(s, slot);
      *written = i;
      return sl_error_set(err, SL_ERR_LIMIT,
                          "kafka_sink '%s': producer queue full after %zu of %zu records; "
                          "flush and retry the rest",
                          s->topic, i, n);
    }
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
      slot_put(s, slot);
      rd_kafka_fatal_error(s->rk, errstr, sizeof errstr);
      *written = i;
      return sl_error_set(err, SL_ERR_UNAVAILABLE, "kafka_sink '%s': producer failed: %s", s->topic,
                          errstr);
    }
    /* Refused for good (too large, unknown partition): dead-letter it and
     * make the next flush fail, like a failed delivery. */
    snprintf(errstr, sizeof errstr, "produce to '%s' failed: %s", s->topic, rd_kafka_err2str(e));
    note_failure(s, errstr);
    dead_letter(s, &s->slots[slot - 1], s->value.data, s->value.len, key, klen, NULL, errstr);
    slot_put(s, slot);
  }
  *written = i;
  if (i && s->env->counter_add)
    s->env->counter_add(s->env->runtime, "sluice_kafka_records_produced_total", (double)i);
  if (rc == SL_ERR_NOMEM)
    return sl_error_set(err, SL_ERR_NOMEM, "kafka_sink '%s': out of memory", s->topic);
  return SL_OK;
}

static int sink_flush(void *state, int timeout_ms, sl_error *err) {
  kafka_sink *s = state;
  size_t failed;

  if (s->inflight)
    rd_kafka_flush(s->rk, timeout_ms); /* serves the delivery reports */
  else
    rd_kafka_poll(s->rk, 0);
  if (s->failed) {
    failed = s->failed;
    s->failed = 0; /* each failure is reported by exactly one flush() */
    return sl_error_set(err, SL_ERR_IO,
                        "kafka_sink '%s': %zu record(s) were not delivered and went to the "
                        "dead-letter sink; last error: %s",
                        s->topic, failed, s->last_error);
  }
  if (s->inflight) {
    sl_error_set(err, SL_ERR_UNAVAILABLE,
                 "kafka_sink '%s': %zu record(s) still waiting for acknowledgement", s->topic,
                 s->inflight);
    if (err)
      err->retriable = 1;
    return SL_ERR_UNAVAILABLE;
  }
  return SL_OK;
}

static void sink_poll(void *state) {
  kafka_sink *s = state;
  rd_kafka_poll(s->rk, 0);
}

const sl_sink_desc sl_kafka_sink = {
    .name = "kafka_sink",
    .summary = "produce records to a Kafka topic (idempotent, acks=all)",
    .config = sink_config,
    .positional = "topic",
    .open = sink_open,
    .poll = sink_poll,
    .write = sink_write,
    .flush = sink_flush,
    .close = sink_close,
    .check = sink_check,
};
