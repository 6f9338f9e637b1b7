/* SPDX-License-Identifier: Apache-2.0 */
/* simulator: a source of machine readings for demos, tests and `sluice
 * bench`. Live mode (rate > 0) paces records to the wall clock with event
 * time = now, and injects the faults a plant sees: one machine overheating in
 * episodes, one going silent for a while, and a few malformed records. Bench
 * mode (rate = 0 with a record count) encodes every record up front so that
 * the source costs nothing while the pipeline is measured. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/record_internal.h"
#include "codec/avro_codec.h"
#include "codec/json_codec.h"
#include "lang/connector.h"

/* The schema of pipelines/schemas/machine_reading.avsc, used when the
 * pipeline gives none. */
const char sl_simulator_schema[] =
    "{\"type\":\"record\",\"name\":\"MachineReading\",\"namespace\":\"sluice.demo\",\"fields\":["
    "{\"name\":\"machine_id\",\"type\":\"string\"},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"temperature\",\"type\":\"double\"},"
    "{\"name\":\"vibration\",\"type\":\"double\"},"
    "{\"name\":\"site\",\"type\":[\"null\",\"string\"],\"default\":null}]}";

typedef struct simulator {
  const sl_connector_env *env;
  int avro;
  sl_avro_schema *schema;
  int64_t machines, rate, records, partitions;
  int faults;
  int decode; /* decode bytes into fields at poll time */
  uint64_t rng;
  int64_t produced;
  int64_t *offsets;    /* next offset per partition */
  int64_t started_ms;  /* wall clock at open */
  int64_t event_start; /* bench mode event time origin */
  char *pre;           /* bench mode: every record's bytes, back to back */
  size_t *pre_off;     /* records + 1 offsets into pre */
  char *ids;           /* bench mode: every machine's id (the Kafka key), id_stride apart */
  uint8_t *id_len;     /* bench mode: length of each id */
  size_t id_stride;
  int64_t bench_m;     /* bench mode: machine index of the next record (i % machines) */
  int64_t bench_round; /* and its round (i / machines), kept by counting: no divisions */
  int64_t bench_part;  /* and its partition (bench_m % partitions) */
  sl_buf buf;
  sl_arena *scratch;
  /* Avro readings: field names interned once at open, not per record. */
  sl_name n_machine_id, n_ts, n_temperature, n_vibration, n_site;
} simulator;

static const sl_config_entry simulator_config[] = {
    {"machines", SL_CFG_INT, 0, "100", "number of machines (keys m0001...)"},
    {"rate", SL_CFG_INT, 0, "200", "records per second; 0 = as fast as possible"},
    {"records", SL_CFG_INT, 0, "0", "stop after this many records; 0 = endless"},
    {"format", SL_CFG_STRING, 0, "json", "\"json\" or \"avro\" bytes (decode them downstream)"},
    {"partitions", SL_CFG_INT, 0, "4", "simulated source partitions"},
    {"faults", SL_CFG_BOOL, 0, "true", "inject overheating, silence and malformed records"},
    {"seed", SL_CFG_INT, 0, "42", "random seed"},
    {"decode", SL_CFG_BOOL, 0, "false",
     "emit decoded fields instead of bytes (stands in for "
     "a source that decodes, e.g. file_source)"},
    {NULL, 0, 0, NULL, NULL},
};

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double rnd(simulator *s) { /* xorshift64*: fast and seedable */
  s->rng ^= s->rng >> 12;
  s->rng ^= s->rng << 25;
  s->rng ^= s->rng >> 27;
  return (double)((s->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void simulator_close(void *state) {
  simulator *s = state;
  if (!s)
    return;
  sl_avro_schema_free(s->schema);
  free(s->offsets);
  free(s->pre);
  free(s->pre_off);
  free(s->ids);
  free(s->id_len);
  sl_buf_free(&s->buf);
  sl_arena_destroy(s->scratch);
  free(s);
}

/* The id of machine index m, "m%04lld" of m + 1, written by hand: snprintf
 * here cost ~800 instructions per record, a fifth of `sluice bench`.
 * `out` holds 24 bytes; returns the length. */
static int machine_id(char *out, int64_t m) {
  char digits[21];
  int n = 0;
  for (uint64_t v = (uint64_t)m + 1; v; v /= 10)
    digits[n++] = (char)('0' + v % 10);
  while (n < 4)
    digits[n++] = '0';
  out[0] = 'm';
  for (int i = 0; i < n; i++)
    out[1 + i] = digits[n - 1 - i];
  out[n + 1] = '\0';
  return n + 1;
}

/* Encode reading number `i` into s->buf; returns its machine index. */
static int64_t encode_reading(simulator *s, int64_t i, int64_t event_ms, sl_error *err) {
  int64_t m = i % s->machines;
  char id[24];
  machine_id(id, m);
  double temp = 60 + 8 * sin((double)event_ms / 60000.0 + (double)m) + 4 * (rnd(s) - 0.5);
  /* Machine 7 overheats for 40 s of every 3 minutes. */
  if (s->faults && m == 6 && (event_ms / 1000) % 180 < 40)
    temp = 96 + 3 * rnd(s);
  double vib = 0.2 + 0.05 * rnd(s) + (temp > 90 ? 0.4 : 0);
  const char *site = m % 2 ? "plant-b" : "plant-a";
  sl_buf_reset(&s->buf);
  if (s->faults && rnd(s) < 0.001) {
    sl_buf_puts(&s->buf, s->avro ? "\x01\x02" : "{\"machine_id\": \"broken");
    return m;
  }
  if (!s->avro) {
    sl_buf_printf(&s->buf,
                  "{\"machine_id\":\"%s\",\"ts\":%lld,\"temperature\":%.2f,\"vibration\":%.3f,"
                  "\"site\":\"%s\"}",
                  id, (long long)event_ms, temp, vib, site);
    return m;
  }
  sl_arena_reset(s->scratch);
  sl_record *r = sl_record_new(s->scratch, 5);
  if (!r)
    return -1;
  sl_record_set(r, s->n_machine_id, sl_value_string(id, strlen(id)));
  sl_record_set(r, s->n_ts, sl_value_int(event_ms));
  sl_record_set(r, s->n_temperature, sl_value_double(temp));
  sl_record_set(r, s->n_vibration, sl_value_double(vib));
  sl_record_set(r, s->n_site, sl_value_string(site, strlen(site)));
  return sl_avro_encode(s->schema, r, &s->buf, err) == SL_OK ? m : -1;
}

/* Machine 13 is silent for one minute of every five (a dead-man test). */
static int silent(const simulator *s, int64_t m, int64_t event_ms) {
  return s->faults && m == 12 && (event_ms / 60000) % 5 == 4;
}

static int64_t bench_event_ms(const simulator *s, int64_t i) {
  /* Every machine reports every 100 ms of event time. */
  return s->event_start + (i / s->machines) * 100;
}

/* Bench mode: every machine's id formatted once, so that handing out a
 * pre-encoded record costs no formatting (~100 instructions per record).
 * Records borrow their key from here, as they borrow their bytes from
 * s->pre: both live until the source closes. */
static int bench_ids(simulator *s) {
  char id[24];
  s->id_stride = (size_t)machine_id(id, s->machines - 1); /* the longest id */
  s->ids = malloc((size_t)s->machines * s->id_stride);
  s->id_len = malloc((size_t)s->machines);
  if (!s->ids || !s->id_len)
    return SL_ERR_NOMEM;
  for (int64_t m = 0; m < s->machines; m++) {
    int n = machine_id(id, m);
    memcpy(s->ids + (size_t)m * s->id_stride, id, (size_t)n);
    s->id_len[m] = (uint8_t)n;
  }
  return SL_OK;
}

static int simulator_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                          sl_error *err) {
  simulator *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->env = env;
  s->machines = sl_config_int(cfg, "machines", 100);
  s->rate = sl_config_int(cfg, "rate", 200);
  s->records = sl_config_int(cfg, "records", 0);
  s->partitions = sl_config_int(cfg, "partitions", 4);
  s->faults = sl_config_bool(cfg, "faults", 1);
  s->decode = sl_config_bool(cfg, "decode", 0);
  s->rng = (uint64_t)sl_config_int(cfg, "seed", 42) * 0x9E3779B97F4A7C15ull + 1;
  const char *format = sl_config_string(cfg, "format", "json");
  s->avro = strcmp(format, "avro") == 0;
  s->started_ms = wall_ms();
  s->event_start = s->started_ms - s->started_ms % 10000;
  s->scratch = sl_arena_new(4096);
  s->offsets = calloc((size_t)(s->partitions > 0 ? s->partitions : 1), sizeof *s->offsets);
  s->n_machine_id = sl_name_cstr("machine_id");
  s->n_ts = sl_name_cstr("ts");
  s->n_temperature = sl_name_cstr("temperature");
  s->n_vibration = sl_name_cstr("vibration");
  s->n_site = sl_name_cstr("site");
  int rc = SL_OK;
  if (s->machines <= 0 || s->rate < 0 || s->records < 0 || s->partitions <= 0 ||
      (!s->avro && strcmp(format, "json") != 0)) {
    rc = sl_error_set(err, SL_ERR_INVALID,
                      "simulator: machines and partitions must be positive, rate and records "
                      "not negative, format \"json\" or \"avro\"");
    goto out_fail;
  }
  if (s->rate == 0 && s->records == 0) {
    rc = sl_error_set(err, SL_ERR_INVALID, "simulator: rate = 0 (unpaced) needs records = N");
    goto out_fail;
  }
  if (!s->scratch || !s->offsets || !s->n_machine_id || !s->n_ts || !s->n_temperature ||
      !s->n_vibration || !s->n_site) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out_fail;
  }
  if (s->avro &&
      !(s->schema = sl_avro_schema_parse(sl_simulator_schema, strlen(sl_simulator_schema), err))) {
    rc = err->code;
    goto out_fail;
  }
  if (s->rate == 0) {
    sl_buf all = SL_BUF_INIT;
    s->pre_off = malloc(((size_t)s->records + 1) * sizeof *s->pre_off);
    if (!s->pre_off) {
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory for %lld records", (long long)s->records);
      goto out_fail;
    }
    for (int64_t i = 0; i < s->records; i++) {
      s->pre_off[i] = all.len;
      if (encode_reading(s, i, bench_event_ms(s, i), err) < 0 ||
          sl_buf_append(&all, s->buf.data, s->buf.len) != SL_OK) {
        sl_buf_free(&all);
        rc = err->code ? err->code : SL_ERR_NOMEM;
        goto out_fail;
      }
    }
    s->pre_off[s->records] = all.len;
    s->pre = all.data;
    if (bench_ids(s) != SL_OK) {
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory for %lld machine ids",
                        (long long)s->machines);
      goto out_fail;
    }
  }
  *state = s;
  return SL_OK;
out_fail:
  simulator_close(s);
  return rc;
}

/* One record of raw bytes (bench mode: borrowed from s->pre, its key from
 * s->ids; live mode: copied into the batch arena, `copy`). */
static int push_record(simulator *s, sl_batch *out, const void *bytes, size_t len, int64_t m,
                       int64_t event_ms, int copy) {
  sl_arena *a = sl_batch_arena(out);
  if (copy && !(bytes = sl_arena_strndup(a, bytes, len)))
    return SL_ERR_NOMEM;
  sl_record *r = NULL;
  if (s->decode) {
    sl_error e;
    int rc = s->avro ? sl_avro_decode(s->schema, bytes, len, a, &r, &e)
                     : sl_json_decode(bytes, len, a, &r, &e);
    if (rc != SL_OK)
      r = NULL; /* a malformed record: passed on raw, so decode-less pipelines see it */
  }
  if (!r && !(r = sl_record_new(a, 0)))
    return SL_ERR_NOMEM;
  int32_t part = (int32_t)(m % s->partitions);
  if (s->ids) {
    sl_record_set_key(r, s->ids + (size_t)m * s->id_stride, s->id_len[m]);
  } else {
    char *key = sl_arena_alloc(a, 24);
    if (!key)
      return SL_ERR_NOMEM;
    sl_record_set_key(r, key, (size_t)machine_id(key, m));
  }
  sl_record_set_raw(r, bytes, len);
  sl_record_set_timestamp(r, event_ms);
  sl_record_set_position(r, s->env->source_id, "simulator", part, s->offsets[part]++);
  return sl_batch_push(out, r);
}

/* Bench mode without decoding: the batch's records are made in one arena
 * allocation, each a copy of one template with its key, bytes, time and
 * position filled in (what sl_record_new and five setters per record cost
 * ~180 instructions, a tenth of the reference pipeline). Keys and bytes are
 * borrowed from s->ids and s->pre, which live until the source closes. */
static int bench_poll(simulator *s, sl_batch *out, size_t max) {
  int64_t left = s->records - s->produced;
  size_t n = left < (int64_t)max ? (size_t)left : max;
  if (n == 0)
    return SL_OK;
  sl_arena *a = sl_batch_arena(out);
  sl_record *recs = sl_arena_alloc(a, n * sizeof *recs);
  sl_record **ptrs = sl_arena_alloc(a, n * sizeof *ptrs);
  if (!recs || !ptrs)
    return SL_ERR_NOMEM;
  /* No fields and no room (as sl_record_new(a, 0)): the first set grows a
   * table in `a`; `fields` only has to be a valid pointer to compare with. */
  const sl_record tmpl = {.arena = a,
                          .fields = (sl_field *)(void *)(recs + n),
                          .source_id = s->env->source_id,
                          .source_name = "simulator"};
  /* Locals, not s->...: the stores into records could alias them for the
   * compiler, which would then load each again per record. */
  const char *ids = s->ids, *pre = s->pre;
  const uint8_t *id_len = s->id_len;
  const size_t *pre_off = s->pre_off, id_stride = s->id_stride;
  int64_t *offsets = s->offsets, machines = s->machines, partitions = s->partitions;
  int64_t i = s->produced, m = s->bench_m, part = s->bench_part;
  int64_t event_ms = s->event_start + s->bench_round * 100; /* bench_event_ms(s, i) */
  for (size_t k = 0; k < n; k++, i++) {
    sl_record *r = &recs[k];
    *r = tmpl; /* every member, whatever sl_record holds; then what differs */
    r->partition = (int32_t)part;
    r->offset = offsets[part]++;
    r->timestamp = event_ms;
    r->key = ids + (size_t)m * id_stride;
    r->key_len = id_len[m];
    r->raw = pre + pre_off[i];
    r->raw_len = pre_off[i + 1] - pre_off[i];
    ptrs[k] = r;
    if (++part == partitions)
      part = 0;
    if (++m == machines) {
      m = part = 0;
      event_ms += 100;
    }
  }
  s->produced = i;
  s->bench_m = m;
  s->bench_round = (event_ms - s->event_start) / 100;
  s->bench_part = part;
  return sl_batch_push_all(out, ptrs, n);
}

static int simulator_poll(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof,
                          sl_error *err) {
  simulator *s = state;
  if (s->pre) {
    if (!s->decode) {
      int rc = bench_poll(s, out, max);
      if (rc != SL_OK)
        return sl_error_set(err, rc, "out of memory");
      *eof = s->produced >= s->records;
      return SL_OK;
    }
    for (size_t n = 0; n < max && s->produced < s->records; n++, s->produced++) {
      int64_t i = s->produced;
      int rc = push_record(s, out, s->pre + s->pre_off[i], s->pre_off[i + 1] - s->pre_off[i],
                           i % s->machines, bench_event_ms(s, i), 0);
      if (rc != SL_OK)
        return sl_error_set(err, rc, "out of memory");
    }
    *eof = s->produced >= s->records;
    return SL_OK;
  }
  /* Live: emit what the rate allows by now, waiting up to timeout_ms. */
  int64_t now = wall_ms();
  int64_t due = (now - s->started_ms) * s->rate / 1000;
  if (due <= s->produced && timeout_ms > 0) {
    /* Sleep only until the next record is due: sleeping a fixed 20 ms sent
     * records in 20 ms bursts and added up to 20 ms to every measured
     * window latency. */
    int64_t next_ms = s->started_ms + ((s->produced + 1) * 1000 + s->rate - 1) / s->rate;
    int64_t wait = next_ms - now;
    if (wait > (timeout_ms > 20 ? 20 : timeout_ms))
      wait = timeout_ms > 20 ? 20 : timeout_ms;
    if (wait < 1)
      wait = 1;
    struct timespec ts = {0, (long)wait * 1000000L};
    nanosleep(&ts, NULL);
    now = wall_ms();
    due = (now - s->started_ms) * s->rate / 1000;
  }
  for (size_t n = 0; n < max && s->produced < due; n++, s->produced++) {
    if (s->records && s->produced >= s->records)
      break;
    int64_t m = encode_reading(s, s->produced, now, err);
    if (m < 0)
      return err->code ? err->code : SL_ERR_INTERNAL;
    if (silent(s, m, now))
      continue;
    int rc = push_record(s, out, s->buf.data, s->buf.len, m, now, 1);
    if (rc != SL_OK)
      return sl_error_set(err, rc, "out of memory");
  }
  *eof = s->records && s->produced >= s->records;
  return SL_OK;
}

const sl_source_desc sl_simulator_source = {
    .name = "simulator",
    .summary = "simulated machine readings for demos and benchmarks",
    .config = simulator_config,
    .open = simulator_open,
    .poll = simulator_poll,
    .close = simulator_close,
};

/* null_sink: accepts and counts records; for benchmarks and dry runs. */
typedef struct null_sink {
  uint64_t count;
} null_sink;

static const sl_config_entry null_sink_config[] = {{NULL, 0, 0, NULL, NULL}};

static int null_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                     sl_error *err) {
  (void)env, (void)cfg;
  null_sink *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  *state = s;
  return SL_OK;
}

static int null_write(void *state, const sl_batch *in, size_t *written, sl_error *err) {
  (void)err;
  ((null_sink *)state)->count += sl_batch_count(in);
  *written = sl_batch_count(in);
  return SL_OK;
}

static int null_flush(void *state, int timeout_ms, sl_error *err) {
  (void)state, (void)timeout_ms, (void)err;
  return SL_OK;
}

static void null_close(void *state) { free(state); }

uint64_t sl_null_sink_count(void *state) { return state ? ((null_sink *)state)->count : 0; }

const sl_sink_desc sl_null_sink = {
    .name = "null_sink",
    .summary = "discard records (benchmarks, dry runs); counts them",
    .config = null_sink_config,
    .open = null_open,
    .write = null_write,
    .flush = null_flush,
    .close = null_close,
};
