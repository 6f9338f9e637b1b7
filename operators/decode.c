/* SPDX-License-Identifier: Apache-2.0 */
/* decode: turns each record's raw bytes (as read by a source) into fields.
 * Undecodable bytes go to the dead-letter sink with reason "decode" (or the
 * limit they broke: too_many_fields, too_many_items, schema_lookup_limit) and
 * the original bytes; processing continues. That includes records whose schema
 * the registry cannot give (unknown id, registry down or slow): dead letters
 * keep the bytes for a replay, where stopping the pipeline would not help. */
#include <stdlib.h>

#include "codec/format.h"
#include "sluice/operator.h"

typedef struct decode_state {
  const sl_host *host;
  sl_format *format;
} decode_state;

static const sl_config_entry decode_config[] = {
    {"format", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "\"json\", \"avro\" or \"raw\""},
    {"schema", SL_CFG_STRING, 0, NULL, "Avro schema file (.avsc), relative to the pipeline file"},
    {"registry", SL_CFG_STRING, 0, NULL,
     "Confluent schema-registry URL (Avro wire format); `schema` is then the reader schema"},
    {"registry_timeout", SL_CFG_DURATION, 0, "5s", "bound on each schema-registry request"},
    {"max_fields", SL_CFG_INT, 0, "1000",
     "fields of one record, JSON object or Avro map; past it: dead letter too_many_fields"},
    {"registry_lookups_per_minute", SL_CFG_INT, 0, "60",
     "registry lookups of schema ids not seen before; past it: dead letter schema_lookup_limit"},
    {"registry_max_ids", SL_CFG_INT, 0, "1000", "schema ids (and failed lookups) remembered"},
    {NULL, 0, 0, NULL, NULL},
};

static int decode_init(const sl_host *host, sl_operator *op, const sl_config *cfg, void **state,
                       sl_error *err) {
  (void)op;
  decode_state *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->host = host;
  s->format = sl_format_open(cfg, "json", err);
  if (!s->format) {
    free(s);
    return err->code;
  }
  *state = s;
  return SL_OK;
}

static int decode_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  decode_state *s = state;
  sl_arena *a = s->host->arena(out);
  for (size_t i = 0; i < sl_batch_count(in); i++) {
    sl_record *r = sl_batch_at(in, i), *d;
    size_t len;
    const void *raw = sl_record_raw(r, &len);
    sl_error e; /* set on failure only: clearing its 528 bytes per record cost ~80 instructions */
    e.code = SL_OK;
    e.message[0] = '\0';
    const char *reason = "decode";
    int rc;
    if (!raw) {
      rc = s->host->dead_letter(out, r, "decode", "record has no bytes to decode");
    } else if (sl_format_decode(s->format, raw, len, a, &d, &reason, &e) != SL_OK) {
      rc = s->host->dead_letter(out, r, reason, e.message);
    } else {
      /* The decoded record keeps the source's key, position, time and headers. */
      size_t klen;
      const void *key = sl_record_key(r, &klen);
      sl_record_set_key(d, key, klen);
      sl_record_set_position(d, sl_record_source_id(r), sl_record_source_name(r),
                             sl_record_partition(r), sl_record_offset(r));
      sl_record_set_timestamp(d, sl_record_timestamp(r));
      for (size_t h = 0; h < sl_record_header_count(r); h++) {
        const void *hv;
        size_t hl;
        const char *hn = sl_record_header_at(r, h, &hv, &hl);
        sl_record_header_add(d, hn, hv, hl);
      }
      rc = s->host->emit(out, d);
    }
    if (rc != SL_OK)
      return sl_error_set(err, rc, "decode: %s", sl_strerror(rc));
  }
  return SL_OK;
}

static void decode_destroy(void *state) {
  decode_state *s = state;
  if (!s)
    return;
  sl_format_free(s->format);
  free(s);
}

const sl_operator_desc sl_op_decode = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_operator_desc),
    .name = "decode",
    .summary = "decode raw bytes (JSON, Avro) into fields",
    .config = decode_config,
    .positional = "format",
    .init = decode_init,
    .process = decode_process,
    .destroy = decode_destroy,
};
