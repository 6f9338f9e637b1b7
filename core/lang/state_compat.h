/* SPDX-License-Identifier: Apache-2.0 */
/* State compatibility across pipeline versions (issue 13, SPEC section 7
 * "Upgrades"). The shape of a stateful node is what decides whether state
 * written by one version can be read by another: a window's kind, size and
 * key with its aggregate definitions, an alert's key fields, a plugin
 * operator's type. It is a few "name=value" lines; the fingerprint is a hash
 * of them. The comparison of the pipeline's nodes with what is stored is
 * pure (state_compat.c); state_start.c runs it against Redis. */
#ifndef SLUICE_STATE_COMPAT_H
#define SLUICE_STATE_COMPAT_H

#include <stddef.h>

#include "lang/graph.h"
#include "lang/registry.h"

/* A stateful node of a pipeline. Strings are malloc'd. */
typedef struct sl_state_node {
  char *id, *type;
  char *topic; /* where its state lives: the topic (or path) of its root source */
  char *shape; /* "name=value\n" lines in a fixed order */
  int line;    /* declaring line */
} sl_state_node;

/* The stateful nodes (operators with snapshot and restore) of a validated
 * graph, in declaration order. */
int sl_state_nodes(const sl_graph_desc *g, const sl_registry *reg, sl_state_node **out, size_t *n);
void sl_state_nodes_free(sl_state_node *v, size_t n); /* NULL no-op */
/* 16 hex digits of a hash of `shape`, into out[17]. */
void sl_state_fingerprint(const char *shape, char *out);

/* What was stored by the version that last ran: one per node id. */
typedef struct sl_stored_node {
  const char *id;
  const char *type, *topic, *shape; /* NULL: no metadata (state of an older sluice) */
  const char *state_topic;          /* topic its state hashes live under; NULL: none */
  size_t partitions;                /* partitions holding state of it */
} sl_stored_node;

typedef enum sl_compat_verdict {
  SL_COMPAT_KEEP,   /* restored as is */
  SL_COMPAT_NOTE,   /* restored; something compatible changed (see message) */
  SL_COMPAT_REFUSE, /* start refused */
  SL_COMPAT_DROP,   /* incompatible, dropped by --allow-state-loss */
} sl_compat_verdict;

typedef struct sl_compat_item {
  char id[128];
  sl_compat_verdict verdict;
  char what[640]; /* what changed */
  char todo[640]; /* what to do about it (REFUSE only) */
} sl_compat_item;

typedef struct sl_compat_report {
  sl_compat_item *items; /* malloc'd, one per stored id that needs a word */
  size_t n;
  size_t refused, dropped;
} sl_compat_report;

/* Compare the pipeline's stateful nodes with what is stored. `allow` lists
 * the ids whose state may be dropped (--allow-state-loss); an allowed id
 * that is not in conflict gets a NOTE and nothing is dropped. `file` names
 * the pipeline in advice. Returns SL_OK or SL_ERR_NOMEM. */
int sl_state_compare(const char *file, const sl_state_node *cur, size_t ncur,
                     const sl_stored_node *stored, size_t nstored, const char *const *allow,
                     size_t nallow, sl_compat_report *rep);
void sl_compat_report_free(sl_compat_report *rep); /* the contents */

#endif
