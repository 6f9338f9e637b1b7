/* SPDX-License-Identifier: Apache-2.0 */
/* Connectors: sources and sinks. Unlike operators they own I/O (files,
 * sockets, librdkafka, hiredis). They are internal to sluice (not part of the
 * plugin ABI) and registered in core/lang/registry.c. */
#ifndef SLUICE_CONNECTOR_H
#define SLUICE_CONNECTOR_H

#include "sluice/operator.h"

/* What a connector may ask of the running pipeline. Owned by the runtime;
 * valid from open() until close() returns. */
typedef struct sl_connector_env {
  const char *pipeline;     /* pipeline name: consumer group, state namespace */
  const sl_config *kafka;   /* librdkafka properties from sl.pipeline{kafka=...}, may be NULL */
  const char *redis_url;    /* SLUICE_REDIS_URL or sl.pipeline{redis=...} */
  const char *state;        /* "memory" or "redis" */
  int32_t source_id;        /* index of this source in the pipeline (sources only) */
  const char *node_name;    /* e.g. "kafka_sink#3": metrics label and log context */
  int headers_unread;       /* sources: 1 when nothing downstream reads record headers, so
                               the source may leave them out (it may still set them) */
  int64_t retry_budget_ms;  /* how long the runtime stays paused on a failing dependency
                               before it gives up (SLUICE_RETRY_BUDGET); 0 when unknown */
  void *runtime;            /* opaque, for the callbacks below */
  /* Structured log line with the connector's context. */
  void (*log)(void *runtime, sl_log_level level, const char *fmt, ...) SL_PRINTF(3, 4);
  /* Counters/gauges with labels pipeline + node_name. */
  void (*counter_add)(void *runtime, const char *name, double delta);
  /* A record that a sink could not deliver after its retries, or a source
   * could not read: goes to the dead-letter sink. `r` is borrowed. */
  int (*dead_letter)(void *runtime, const sl_record *r, const char *reason, const char *message);
  /* Sources with partitions call these from poll() when the group
   * assignment changes. on_assign returns, per partition, the offset to
   * start from (restored from the state backend) or -1 for the committed
   * or `start` offset. on_revoke lets the runtime checkpoint and drop state
   * before the partitions go. */
  int (*on_assign)(void *runtime, int32_t source_id, const int32_t *partitions, size_t n,
                   int64_t *start_offsets);
  int (*on_revoke)(void *runtime, int32_t source_id, const int32_t *partitions, size_t n);
  /* The group took the source's partitions away without a rebalance (the
   * session timed out: the broker is unreachable); the worker is not ready
   * until the next on_assign. May be NULL. */
  void (*on_assignment_lost)(void *runtime, int32_t source_id);
} sl_connector_env;

/* An offset position: the next offset to consume of one partition. */
typedef struct sl_offset {
  int32_t partition;
  int64_t next_offset;
} sl_offset;

/* The runtime decodes this source's records with its `format` option
 * (file_source{format = "json"}); otherwise records keep raw bytes until a
 * :decode{} downstream. */
#define SL_SOURCE_DECODES 0x1u

/* Receives one problem found by a connector's check(): `msg` is borrowed.
 * `warning` is 1 for what `sluice check` cannot decide offline (an input
 * file missing here may exist where the pipeline runs). */
typedef void (*sl_check_report)(void *ud, int warning, const char *msg);

typedef struct sl_source_desc {
  const char *name;               /* method name: "file_source", "kafka_source" */
  const char *summary;
  unsigned flags;                 /* SL_SOURCE_* */
  const sl_config_entry *config;  /* validated before open() */
  const char *positional;         /* like sl_operator_desc.positional */
  int (*open)(const sl_connector_env *env, const sl_config *cfg, void **state, sl_error *err);
  /* Append up to `max` records to `out`, allocated from sl_batch_arena(out),
   * waiting at most `timeout_ms` for the first one. Records carry raw bytes
   * (sl_record_set_raw), key, headers, timestamp (ms) and position
   * (sl_record_set_position). *eof = 1 once a finite source is exhausted. */
  int (*poll)(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof, sl_error *err);
  /* Offsets whose records' effects are safe (acknowledged by sinks, or
   * checkpointed): commit them to the source (Kafka group offsets). NULL for
   * sources without offsets. */
  int (*commit)(void *state, const sl_offset *offsets, size_t n, sl_error *err);
  /* Stop fetching new records (graceful shutdown); may be NULL. */
  void (*pause)(void *state);
  void (*close)(void *state); /* NULL is a no-op */
  /* For `sluice check`: report every problem open() would refuse, without
   * connecting anywhere (offline). May be NULL. */
  void (*check)(const sl_config *cfg, sl_check_report report, void *ud);
} sl_source_desc;

typedef struct sl_sink_desc {
  const char *name;               /* "file_sink", "kafka_sink", "cache", "webhook" */
  const char *summary;
  const sl_config_entry *config;
  const char *positional;
  int (*open)(const sl_connector_env *env, const sl_config *cfg, void **state, sl_error *err);
  /* Take the batch's records (borrowed: copy what is kept past the call).
   * SL_ERR_LIMIT means "queue full, call flush() and retry the rest from
   * record *written": the runtime applies backpressure, nothing is dropped. */
  int (*write)(void *state, const sl_batch *in, size_t *written, sl_error *err);
  /* Wait up to `timeout_ms` until everything written so far is acknowledged
   * (durable at the destination). SL_OK when nothing is pending;
   * SL_ERR_UNAVAILABLE when records are still in flight. */
  int (*flush)(void *state, int timeout_ms, sl_error *err);
  /* Serve background work (delivery reports, retries); may be NULL. */
  void (*poll)(void *state);
  void (*close)(void *state);
  /* For `sluice check`: report every problem open() would refuse, without
   * connecting anywhere (offline). May be NULL. */
  void (*check)(const sl_config *cfg, sl_check_report report, void *ud);
} sl_sink_desc;

#endif
