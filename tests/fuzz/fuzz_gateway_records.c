/* SPDX-License-Identifier: Apache-2.0 */
/* Gateway request bodies (core/gateway/gateway_records.c): the body of a
 * POST /ingest/{topic} from device "m0001", split, keyed, validated and
 * encoded. The first byte picks the topic and the producer's message limit:
 *   byte0 % 3: 0 format json, no schema; 1 json checked against
 *              machine_reading.avsc; 2 avro with machine_reading.avsc
 *   byte0 / 3 % 2: 1 -> message.max.bytes 256 (records too large), 0 -> none
 * Each valid item's bytes must lie inside the batch's buffer. */
#include <string.h>

#include "base/config.h"
#include "fuzz_support.h"
#include "gateway/gateway.h"

#define SCHEMA SLUICE_SOURCE_DIR "/pipelines/schemas/machine_reading.avsc"

static sl_gw_topic topics[3];

static void open_topic(sl_gw_topic *t, const char *format, const char *schema) {
  sl_error err;
  sl_error_clear(&err);
  memset(t, 0, sizeof *t);
  t->cfg = sl_config_new("gateway.lua", 1);
  if (!t->cfg || sl_config_put_string(t->cfg, "format", format) != SL_OK ||
      (schema && strcmp(format, "avro") == 0 &&
       sl_config_put_string(t->cfg, "schema", schema) != SL_OK))
    fuzz_fail("out of memory");
  t->name = "telemetry";
  t->format = (char *)format;
  t->key = "machine_id";
  t->key_name = sl_name_cstr(t->key);
  if (!(t->fmt = sl_format_open(t->cfg, format, &err)))
    fuzz_fail("cannot open format %s: %s", format, err.message);
  if (schema && strcmp(format, "json") == 0 && !(t->check = sl_avro_schema_load(schema, &err)))
    fuzz_fail("cannot load %s: %s", schema, err.message);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  open_topic(&topics[0], "json", NULL);
  open_topic(&topics[1], "json", SCHEMA);
  open_topic(&topics[2], "avro", SCHEMA);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  sl_gw_batch b;
  if (sl_gw_batch_init(&b) != SL_OK)
    fuzz_fail("out of memory");
  b.max_message = (data[0] / 3) % 2 ? 256 : 0;
  sl_error err;
  sl_error_clear(&err);
  if (sl_gw_batch_parse(&b, &topics[data[0] % 3], "m0001", (const char *)data + 1, size - 1, 100,
                        &err) == SL_OK) {
    size_t invalid = 0;
    for (size_t i = 0; i < b.n; i++) {
      const sl_gw_item *it = &b.items[i];
      if (it->error)
        invalid++;
      else if (it->off > b.bytes.len || it->len > b.bytes.len - it->off)
        fuzz_fail("item %zu at %zu+%zu is outside the batch's %zu bytes", i, it->off, it->len,
                  b.bytes.len);
    }
    if (invalid != b.invalid)
      fuzz_fail("%zu items have an error but the batch counts %zu", invalid, b.invalid);
  }
  sl_gw_batch_release(&b);
  return 0;
}
