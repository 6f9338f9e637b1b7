/* SPDX-License-Identifier: Apache-2.0 */
/* Event time at the source (SPEC sections 3 and 5): kafka_source,
 * file_source and stdin_source take `time = F, delay = D, idle = D`. Each
 * record's event time (its timestamp) is then read from field F as soon as
 * the record is decoded, before any operator sees it, and everything
 * downstream runs on it: windows without their own `time` (which take the
 * source's `delay` and `idle` as their watermark strategy unless they set
 * their own), and alerts on raw readings (`for`, `cooldown`, `absent`). A
 * record without a valid time goes to the dead letters with reason `time`,
 * attributed to the source.
 *
 * Where the field is read: a source that decodes its records itself
 * (file_source/stdin_source with format "json" or "avro") reads it right
 * after decoding; a source of raw bytes (kafka_source, format = "raw") hands
 * its time to the :decode{} that follows it, which every branch of such a
 * source must start with. */
#ifndef SLUICE_SOURCE_TIME_H
#define SLUICE_SOURCE_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "lang/connector.h"
#include "lang/graph.h"

typedef struct sl_source_time sl_source_time;

/* The config-map entries every source with event time takes. */
#define SL_SOURCE_TIME_CONFIG                                                                  \
  {"time", SL_CFG_STRING, 0, NULL,                                                             \
   "event-time field: int ms, RFC 3339 string or Avro timestamp (default: Kafka timestamp or " \
   "arrival time)"},                                                                           \
      {"delay", SL_CFG_DURATION, 0, "0", "how far the watermark trails the newest event time"}, \
      {"idle", SL_CFG_DURATION, 0, "30s",                                                       \
       "a partition without data this long stops holding back the watermark"}

/* The format records leave source `d` with: "json", "avro" when the source
 * decodes them (SL_SOURCE_DECODES), "raw" otherwise. `cfg` is the source's
 * options; the result is borrowed from it or from the config map. */
const char *sl_source_format(const sl_source_desc *d, const sl_config *cfg);

/* `sluice check` for every source's time options (a field path, delay >= 0,
 * idle > 0, delay/idle only with time, a :decode{} first after a raw
 * source); problems go to sl_graph_error. Then every window that reads a
 * source with `time` directly (no window between them) and has no `time`
 * of its own takes the source's `delay` and `idle` unless it sets them. */
void sl_source_time_prepare(sl_graph_desc *g, const sl_registry *reg);

/* The time options of a source: *out = NULL (and SL_OK) when it has no
 * `time`. Free with sl_source_time_free. */
int sl_source_time_new(const sl_config *cfg, sl_source_time **out, sl_error *err);
void sl_source_time_free(sl_source_time *st); /* NULL is a no-op */

/* Set r's timestamp from the time field. SL_OK, or SL_ERR_PARSE with the
 * reason in why[n] (the record keeps its timestamp). */
int sl_source_time_assign(const sl_source_time *st, sl_record *r, char *why, size_t n);

#endif
