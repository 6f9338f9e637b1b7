/* SPDX-License-Identifier: Apache-2.0 */
/* decode: turns each record's raw bytes (as read by a source) into fields.
 * Undecodable bytes go to the dead-letter sink with reason "decode" (or the
 * limit they broke: too_many_fields, too_many_items, schema_lookup_limit) and
 * the original bytes; processing continues. That includes records whose schema
 * the registry cannot give (unknown id, registry down or slow): dead letters
 * keep the bytes for a replay, where stopping the pipeline would not help. */
#include <stdlib.h>

#include "base/record_internal.h"
#include "codec/format.h"
#include "sluice/operator.h"

typedef struct decode_state {
  const sl_host *host;
  sl_format *format;
  sl_record **outs; /* decoded records of a run, before they are emitted */
  size_t cap;
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

/* The batch is decoded in runs: sl_format_decode_records decodes up to the first record
 * that fails, those are emitted, the failure goes to the dead letters, and the next run
 * starts after it. */
static int decode_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  decode_state *s = state;
  sl_arena *a = s->host->arena(out);
  size_t n = in->count;
  if (n > s->cap) {
    sl_record **outs = realloc(s->outs, n * sizeof *outs);
    if (!outs)
      return sl_error_set(err, SL_ERR_NOMEM, "decode: out of memory");
    s->outs = outs;
    s->cap = n;
  }
  /* Loaded once, not per record: the calls could change what s points to, for all the
   * compiler knows. */
  sl_record **outs = s->outs;
  int (*emit)(sl_emitter *, sl_record *) = s->host->emit;
  for (size_t i = 0; i < n;) {
    sl_error e; /* set on failure only: clearing its 528 bytes cost ~80 instructions */
    e.code = SL_OK;
    e.message[0] = '\0';
    const char *reason = SL_REASON_DECODE;
    size_t done = sl_format_decode_records(s->format, in->records + i, n - i, a, outs, &reason, &e);
    int rc = SL_OK;
    for (size_t k = 0; k < done && rc == SL_OK; k++)
      rc = emit(out, outs[k]);
    i += done;
    if (rc == SL_OK && i < n)
      rc = s->host->dead_letter(out, in->records[i++], reason, e.message);
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
  free(s->outs);
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
