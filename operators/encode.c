/* SPDX-License-Identifier: Apache-2.0 */
/* encode: replaces each record by its encoding, in a field `value` (a string
 * for JSON, bytes for Avro), for sinks with format = "raw" or plugins that
 * want the bytes. Records that cannot be encoded are dead-lettered. */
#include <stdlib.h>

#include "codec/format.h"
#include "sluice/operator.h"

typedef struct encode_state {
  const sl_host *host;
  sl_format *format;
  sl_buf buf; /* scratch, reused for every record */
  sl_name n_value; /* interned once: interning per record takes a process-wide lock */
  int is_text;     /* JSON: `value` is a string, else bytes */
} encode_state;

static const sl_config_entry encode_config[] = {
    {"format", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "\"json\" or \"avro\""},
    {"schema", SL_CFG_STRING, 0, NULL, "Avro schema file (.avsc), relative to the pipeline file"},
    {"registry", SL_CFG_STRING, 0, NULL,
     "Confluent schema-registry URL: register `schema` under `subject`, write the wire format"},
    {"subject", SL_CFG_STRING, 0, NULL, "registry subject, e.g. \"telemetry-value\""},
    {"registry_timeout", SL_CFG_DURATION, 0, "5s", "bound on each schema-registry request"},
    {NULL, 0, 0, NULL, NULL},
};

static int encode_init(const sl_host *host, sl_operator *op, const sl_config *cfg, void **state,
                       sl_error *err) {
  (void)op;
  encode_state *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->host = host;
  if (sl_config_string(cfg, "registry", NULL) && !sl_config_string(cfg, "subject", NULL)) {
    free(s);
    return sl_error_set(err, SL_ERR_INVALID,
                        "encode: registry = URL needs subject = \"<topic>-value\" to register the "
                        "schema under");
  }
  s->format = sl_format_open(cfg, "json", err);
  if (!s->format) {
    free(s);
    return err->code;
  }
  if (!(s->n_value = sl_name_cstr("value"))) {
    sl_format_free(s->format);
    free(s);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  s->is_text = sl_format_name(s->format)[0] == 'j';
  *state = s;
  return SL_OK;
}

static int encode_process(void *state, const sl_batch *in, sl_emitter *out, sl_error *err) {
  encode_state *s = state;
  sl_arena *a = s->host->arena(out);
  for (size_t i = 0; i < sl_batch_count(in); i++) {
    sl_record *r = sl_batch_at(in, i);
    sl_error e;
    sl_buf_reset(&s->buf);
    int rc;
    if (sl_format_encode(s->format, r, &s->buf, &e) != SL_OK) {
      rc = s->host->dead_letter(out, r, "encode", e.message);
    } else {
      sl_record *o = sl_record_copy(a, r);
      char *bytes = o ? sl_arena_strndup(a, s->buf.data ? s->buf.data : "", s->buf.len) : NULL;
      if (!bytes)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      while (sl_record_count(o))
        sl_record_remove(o, sl_record_name_at(o, sl_record_count(o) - 1));
      sl_record_set(o, s->n_value, s->is_text ? sl_value_string(bytes, s->buf.len)
                                              : sl_value_bytes(bytes, s->buf.len));
      sl_record_set_raw(o, bytes, s->buf.len);
      rc = s->host->emit(out, o);
    }
    if (rc != SL_OK)
      return sl_error_set(err, rc, "encode: %s", sl_strerror(rc));
  }
  return SL_OK;
}

static void encode_destroy(void *state) {
  encode_state *s = state;
  if (!s)
    return;
  sl_format_free(s->format);
  sl_buf_free(&s->buf);
  free(s);
}

const sl_operator_desc sl_op_encode = {
    .abi_version = SL_OPERATOR_ABI_VERSION,
    .struct_size = sizeof(sl_operator_desc),
    .name = "encode",
    .summary = "encode records to bytes (JSON, Avro) in a field 'value'",
    .config = encode_config,
    .positional = "format",
    .init = encode_init,
    .process = encode_process,
    .destroy = encode_destroy,
};
