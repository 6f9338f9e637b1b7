/* SPDX-License-Identifier: Apache-2.0 */
/* Avro datums (core/codec/avro_decode.c, core/codec/format.c). The first byte picks the
 * path, the rest is the payload:
 *   byte0 % 4 == 0  binary datum, decoded with plan (byte0 / 4) % NSCHEMAS; what
 *                   decodes must encode and decode again to an equal record
 *   byte0 % 4 == 1  binary datum, decoded with resolved plan (byte0 / 4) % NPAIRS
 *                   (writer schema -> reader schema, core/codec/avro_resolve.c)
 *   byte0 % 4 == 2  Confluent wire format (magic byte 0, 4-byte big-endian schema
 *                   id, datum) through sl_format_decode with a registry that serves
 *                   ids 1..NSCHEMAS (the schemas below, in order)
 *   byte0 % 4 == 3  the same with a reader schema (machine_reading.avsc), so each
 *                   writer schema is resolved against it
 * The registry is tests/registry_fixture.c on a loopback port; an unknown id
 * costs one GET, remembered by the client afterwards. */
#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "codec/avro_codec.h"
#include "codec/format.h"
#include "fuzz_support.h"
#include "registry_fixture.h"

static const char machine_reading[] =
    "{\"type\":\"record\",\"name\":\"MachineReading\",\"namespace\":\"sluice.demo\",\"fields\":["
    "{\"name\":\"machine_id\",\"type\":\"string\"},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"temperature\",\"type\":\"double\"},{\"name\":\"vibration\",\"type\":\"double\"},"
    "{\"name\":\"site\",\"type\":[\"null\",\"string\"],\"default\":null}]}";

/* A later version of machine_reading: a field gone, one added, promotions. */
static const char machine_reading_v2[] =
    "{\"type\":\"record\",\"name\":\"MachineReading\",\"namespace\":\"sluice.demo\",\"fields\":["
    "{\"name\":\"machine_id\",\"type\":\"bytes\"},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"temperature\",\"type\":\"double\"},"
    "{\"name\":\"line\",\"type\":\"int\",\"default\":1},"
    "{\"name\":\"site\",\"type\":[\"null\",\"string\"],\"default\":null}]}";

/* Every type and logical type the codec supports. */
static const char kitchen_sink[] =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"fuzz\",\"fields\":["
    "{\"name\":\"n\",\"type\":\"null\"},{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"by\",\"type\":\"bytes\"},{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":[\"null\",\"string\"]}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"int\",\"string\",{\"type\":\"record\",\"name\":\"Inner\","
    "\"fields\":[{\"name\":\"x\",\"type\":\"double\"},"
    "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}}]}]},"
    "{\"name\":\"dt\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":9,"
    "\"scale\":2}},"
    "{\"name\":\"ai\",\"type\":{\"type\":\"array\",\"items\":\"Inner\"}}]}";

/* kitchen_sink evolved: reordered, promoted, fields dropped and added. */
static const char kitchen_sink_v2[] =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"fuzz\",\"fields\":["
    "{\"name\":\"s\",\"type\":\"bytes\"},{\"name\":\"i\",\"type\":\"double\"},"
    "{\"name\":\"l\",\"type\":\"float\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"C\",\"B\",\"A\","
    "\"D\"],"
    "\"default\":\"D\"}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"double\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":[\"null\",\"string\"]}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"long\",\"string\",{\"type\":\"record\",\"name\":"
    "\"Inner\","
    "\"fields\":[{\"name\":\"x\",\"type\":\"double\"},"
    "{\"name\":\"y\",\"type\":\"int\",\"default\":7}]}]},"
    "{\"name\":\"added\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"k\",\"type\":\"long\",\"default\":42}]}";

/* Arrays and maps of zero-size items: a block count costs no input bytes. */
static const char zero_size_items[] =
    "{\"type\":\"record\",\"name\":\"Z\",\"fields\":["
    "{\"name\":\"an\",\"type\":{\"type\":\"array\",\"items\":\"null\"}},"
    "{\"name\":\"mn\",\"type\":{\"type\":\"map\",\"values\":\"null\"}}]}";

static const char *const schemas[] = {machine_reading, machine_reading_v2, kitchen_sink,
                                      kitchen_sink_v2, zero_size_items};
#define NSCHEMAS (sizeof schemas / sizeof schemas[0])
/* Writer -> reader pairs, as indexes into schemas[]. */
static const int pairs[][2] = {{0, 1}, {2, 3}, {0, 0}, {2, 2}};
#define NPAIRS (sizeof pairs / sizeof pairs[0])

static sl_avro_schema *plans[NSCHEMAS];
static sl_avro_schema *resolved[NPAIRS];
static fr_server registry;
static sl_config *cfg_plain, *cfg_reader;
static sl_format *wire_plain, *wire_reader;

static sl_format *open_wire(sl_config **cfg, const char *reader_path) {
  sl_error err;
  sl_error_clear(&err);
  *cfg = sl_config_new("fuzz.lua", 1);
  if (!*cfg || sl_config_put_string(*cfg, "format", "avro") != SL_OK ||
      sl_config_put_string(*cfg, "registry", registry.url) != SL_OK ||
      (reader_path && sl_config_put_string(*cfg, "schema", reader_path) != SL_OK))
    fuzz_fail("out of memory");
  sl_format *f = sl_format_open(*cfg, "avro", &err);
  if (!f)
    fuzz_fail("cannot open the wire format: %s", err.message);
  return f;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  sl_error err;
  sl_error_clear(&err);
  for (size_t i = 0; i < NSCHEMAS; i++)
    if (!(plans[i] = sl_avro_schema_parse(schemas[i], strlen(schemas[i]), &err)))
      fuzz_fail("schema %zu does not parse: %s", i, err.message);
  for (size_t i = 0; i < NPAIRS; i++)
    if (!(resolved[i] = sl_avro_schema_resolve(plans[pairs[i][0]], plans[pairs[i][1]], &err)))
      fuzz_fail("pair %zu does not resolve: %s", i, err.message);
  if (fr_start(&registry) != 0)
    fuzz_fail("cannot start the registry fixture");
  for (size_t i = 0; i < NSCHEMAS; i++)
    fr_add(&registry, (int)i + 1, schemas[i]);
  wire_plain = open_wire(&cfg_plain, NULL);
  wire_reader = open_wire(&cfg_reader, SLUICE_SOURCE_DIR "/pipelines/schemas/machine_reading.avsc");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  unsigned mode = data[0] % 4, which = data[0] / 4u;
  sl_arena *a = sl_arena_new(0);
  if (!a)
    fuzz_fail("out of memory");
  sl_record *r = NULL;
  sl_error err;
  sl_error_clear(&err);
  switch (mode) {
  case 0: {
    /* What decodes must encode again, to a datum that decodes to an equal
     * record (the plan is the writer's own schema, so nothing is lost). */
    const sl_avro_schema *s = plans[which % NSCHEMAS];
    sl_buf out = SL_BUF_INIT;
    sl_record *again = NULL;
    if (sl_avro_decode(s, data + 1, size - 1, a, &r, &err) == SL_OK) {
      if (sl_avro_encode(s, r, &out, &err) != SL_OK)
        fuzz_fail("a decoded record does not encode: %s", err.message);
      sl_decode_opts opts = {0, NULL};
      int rc = sl_avro_decode_opts(s, out.data, out.len, &opts, a, &again, &err);
      /* The one documented exception: values that take no bytes are budgeted in
       * proportion to the datum's length, and the encoder writes an array as one
       * block, so a record near that budget can be refused (too_many_items, never
       * a crash) once re-encoded: docs/formats.md, "Limits". */
      if (rc == SL_ERR_LIMIT && opts.reason && strcmp(opts.reason, SL_REASON_TOO_MANY_ITEMS) == 0)
        again = NULL;
      else if (rc != SL_OK)
        fuzz_fail("the encoding of a decoded record does not decode: %s", err.message);
      if (again && !fuzz_record_equal(r, again))
        fuzz_fail("decode(encode(decode(x))) differs from decode(x) (schema %u)",
                  which % (unsigned)NSCHEMAS);
    }
    sl_buf_free(&out);
    break;
  }
  case 1: (void)sl_avro_decode(resolved[which % NPAIRS], data + 1, size - 1, a, &r, &err); break;
  default:
    (void)sl_format_decode(mode == 2 ? wire_plain : wire_reader, data + 1, size - 1, a, &r, NULL, &err);
    break;
  }
  sl_arena_destroy(a);
  return 0;
}
