/* SPDX-License-Identifier: Apache-2.0 */
/* The plain description of a pipeline that the Lua file declares: nodes with
 * their options and parents. Lua builds it; C validates and runs it. */
#ifndef SLUICE_GRAPH_H
#define SLUICE_GRAPH_H

#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"
#include "lang/registry.h"

typedef enum sl_node_kind { SL_NODE_SOURCE, SL_NODE_OPERATOR, SL_NODE_SINK } sl_node_kind;

typedef struct sl_node_desc {
  int id;            /* index in sl_graph_desc.nodes */
  sl_node_kind kind;
  char *type;        /* method name: "filter", "kafka_source", "dead_letter" */
  char *label;       /* the stable node id (graph_id.c): state, metrics, output ids */
  sl_config *config; /* owned */
  int parent;        /* node id, -1 for sources and the dead-letter sink */
  int line;          /* declaring line in the pipeline file */
  int open;          /* window node still waiting for :aggregate{} (2: already reported) */
  int explicit_id;   /* label was given with `id = "..."` */
  int implicit;      /* added by sluice (the alert store behind an alert), not declared */
} sl_node_desc;

typedef struct sl_graph_desc {
  char *file;            /* pipeline file path */
  char *name;            /* pipeline name */
  char *state;           /* "memory" | "redis" */
  int64_t checkpoint_ms; /* checkpoint interval */
  sl_config *pipeline;   /* the whole sl.pipeline{} table, owned */
  int pipeline_line;
  sl_node_desc *nodes;
  size_t count, cap;
  int ids_checked;       /* explicit ids were checked (errors reported once) */
  sl_config **tables;    /* p:table{} declarations, owned (core/lang/table_decl.c) */
  size_t ntables, captables;
  int aborted;           /* the Lua script stopped on an error: the graph is partial */
  char **errors;         /* "file:line: message", owned */
  size_t nerrors, caperrors;
  char **warnings;       /* "file:line: warning: message", owned (check prints, exit 0) */
  size_t nwarnings, capwarnings;
} sl_graph_desc;

void sl_graph_desc_free(sl_graph_desc *g); /* frees the struct too; NULL no-op */
int sl_graph_add_node(sl_graph_desc *g, sl_node_kind kind, const char *type, sl_config *cfg,
                      int parent, int line); /* returns the id or -1; takes cfg */
/* Give node `node` the explicit id `id` (copied) from its `id = "..."`
 * option; checked (characters, uniqueness) by sl_graph_assign_ids. */
int sl_graph_set_node_id(sl_graph_desc *g, int node, const char *id);
/* Set every node's label to its stable id: the explicit id, or one derived
 * from the node's kind and identifying options (docs/pipeline-language.md,
 * "Node ids"), with a counter suffix only where two derived ids collide.
 * Duplicate or malformed explicit ids are reported as errors. Called by
 * sl_graph_validate (engine/graph_validate.c); idempotent. */
void sl_graph_assign_ids(sl_graph_desc *g);
/* Log a warning for each stateful node whose derived id carries a
 * collision counter: its state would move if a twin were inserted before
 * it. */
void sl_graph_warn_fragile_ids(const sl_graph_desc *g, const sl_registry *reg);
/* Is node `i` such a node (stateful, derived id with a counter)? */
int sl_graph_fragile_id(const sl_graph_desc *g, const sl_registry *reg, size_t i);
/* The base id derived for node `i` (no collision suffix) into buf. */
void sl_graph_derive_id(const sl_graph_desc *g, size_t i, char *buf, size_t len);
/* A duration in its largest exact unit ("10s", "1500ms", "5m"), appended. */
void sl_graph_put_duration(sl_buf *b, int64_t ms);
/* The node whose label is `id`, or -1. */
int sl_graph_find_id(const sl_graph_desc *g, const char *id);
/* graph_error.c: record "file:line: message". */
void sl_graph_error(sl_graph_desc *g, int line, const char *fmt, ...) SL_PRINTF(3, 4);
/* Record "file:line: warning: message": what `check` cannot decide
 * offline (an input file missing here). */
void sl_graph_warning(sl_graph_desc *g, int line, const char *fmt, ...) SL_PRINTF(3, 4);
/* The offline checks of `sluice check` beyond option types (graph_check.c):
 * the pipeline name, kafka properties (through librdkafka), Redis URLs,
 * every connector's own check(), combinations `run` refuses. Appends to
 * g->errors and g->warnings; called by sl_graph_validate (engine/). */
void sl_graph_check_connectors(sl_graph_desc *g, const sl_registry *reg);
/* Fields read below a decode with a declared Avro schema must exist there
 * (graph_fields.c); a typo is an error listing near names. */
void sl_graph_check_fields(sl_graph_desc *g);
/* Children of node `id` in declaration order; returns the count. */
size_t sl_graph_children(const sl_graph_desc *g, int id, int *out, size_t max);
/* Do the records reaching node `id` reach no other branch (no ancestor has a
 * second child)? Then the node may change them in place. */
int sl_graph_sole_path(const sl_graph_desc *g, int id);
/* Does the pipeline talk to Redis (state = "redis", a cache sink, or a
 * `redis` option)? */
int sl_graph_uses_redis(const sl_graph_desc *g);
/* Behind every alert operator of a pipeline that uses Redis, an alert_store
 * sink keeps the firing alerts for the API. Call after validation. */
void sl_graph_attach_alert_stores(sl_graph_desc *g);
/* The nodes the file declares (not the implicit ones): what `check` and
 * `run` both report. */
size_t sl_graph_declared_count(const sl_graph_desc *g);
/* The graph in Graphviz DOT. */
int sl_graph_dot(const sl_graph_desc *g, sl_buf *out);
/* The graph as JSON {"name":..,"nodes":[..],"edges":[..]} for the API. */
int sl_graph_json(const sl_graph_desc *g, sl_buf *out);

#endif
