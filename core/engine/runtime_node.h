/* SPDX-License-Identifier: Apache-2.0 */
/* The structures of a running pipeline that every file of engine/ shares
 * (the runtime, its nodes, the operator handle, the emitter, the snapshot
 * being written), and the functions of runtime_node.c, the bottom of the
 * folder. The files above include this header, never the other way round. */
#ifndef SLUICE_RUNTIME_NODE_H
#define SLUICE_RUNTIME_NODE_H

#include <pthread.h>

#include "base/record_internal.h"
#include "engine/runtime_options.h"
#include "lang/connector.h"
#include "lang/graph.h"

typedef struct sl_node sl_node;
struct sl_ckpt;

/* What host->snapshot_put writes into during a checkpoint. */
struct sl_snapshot {
  struct sl_state_backend *store; /* stages the puts and deletes (state_backend.h) */
  const char *topic;              /* checkpoint topic of the operator's source */
  const char *op_id;              /* the operator's label */
  int failed;                     /* a put could not be staged */
};

/* The engine's handle of an operator instance. */
struct sl_operator {
  sl_runtime *rt; /* NULL under `sluice check` */
  sl_node *node;
  const char *label;
};

/* Output of one callback: records appended to `batch`. */
struct sl_emitter {
  sl_runtime *rt;
  sl_node *node;
  sl_batch *batch;
};

/* A metric series of this node, looked up once by name. */
typedef struct node_metric {
  const char *name; /* static string from the operator or runtime */
  struct sl_metric *metric;
} node_metric;

struct sl_node {
  const sl_node_desc *desc;
  sl_node_kind kind;
  const sl_operator_desc *op;
  void *op_state;
  struct sl_operator handle;
  const sl_source_desc *source;
  void *source_state;
  const sl_sink_desc *sink;
  void *sink_state;
  sl_connector_env env;
  int *children;
  size_t nchildren;
  sl_batch out; /* reused for every callback's output */
  int eof;      /* sources: drained */
  uint64_t in, emitted, failed;
  node_metric metrics[8];                    /* counters/gauges by name, created on first use */
  struct sl_metric *m_in, *m_out, *m_failed; /* sluice_records_{in,out,failed}_total */
  struct sl_metric *m_latency;               /* sinks: sluice_sink_latency_seconds */
  int depth;                                 /* guards re-entrant traversal of `out` */
  struct sl_source_time *time;               /* sources with `time = F`: owned */
  sl_node *time_src;                         /* reads that source's time field on its output */
};

struct sl_runtime {
  const sl_graph_desc *graph;
  sl_registry *reg;
  sl_runtime_options opts;
  sl_node *nodes;
  size_t count;
  sl_node *dead_letter; /* NULL: failures are counted and logged only */
  sl_batch dl_batch;    /* dead letters of the current traversal */
  sl_arena *arena;      /* the traversal arena */
  volatile int stop;
  int closing;  /* sl_runtime_free is running: callbacks do nothing */
  int assigned; /* a group source has an assignment, not lost since (readiness) */
  uint64_t records_in, dead_letters;
  int64_t last_tick_ms;
  int64_t arrived_us;             /* monotonic µs: when the current traversal's input arrived */
  struct sl_ckpt *ckpt;           /* state = "redis" */
  int paused;                     /* outputs or a checkpoint not acknowledged: no polling;
                                   * stored with __atomic_store_n, the HTTP thread reads it */
  uint64_t checkpoints;           /* written since start */
  struct sl_metric *m_checkpoint; /* sluice_checkpoint_seconds */
  struct sl_metric *m_batch;      /* sluice_batch_records */
  int64_t resume_at_ms;           /* when to retry it */
  int64_t paused_since_ms;        /* 0: not paused */
  int assigning; /* partitions assigned but not restored yet: Redis is away (/readyz) */
  struct pending_offsets *pending; /* per node, while sl_runtime_run runs */
  pthread_mutex_t reason_lock;     /* guards pause_reason (the HTTP thread reads it) */
  char pause_reason[320];          /* why processing is paused, for /readyz */
  struct sl_tables *tables;        /* p:table{} lookup tables (connectors/tables.c) */
};

/* runtime_node.c: the wall clock in ms and a monotonic clock in µs. */
int64_t sl_runtime_now_ms(void);
int64_t sl_runtime_mono_us(void);
/* Processing pauses because of `what` (static text naming the dependency) and
 * `why` (its error); /readyz and sl_runtime_not_ready show both. */
void sl_runtime_pause(sl_runtime *rt, const char *what, const char *why);
/* Write `b` to a sink node, applying backpressure. */
int sl_runtime_sink_write(sl_runtime *rt, sl_node *n, const sl_batch *b, sl_error *err);
/* Tell operators fed by source `source_id` that partitions were assigned. */
void sl_runtime_assign_operators(sl_runtime *rt, int32_t source_id, const int32_t *partitions,
                                 size_t n);
#endif
