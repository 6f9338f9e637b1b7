/* SPDX-License-Identifier: Apache-2.0 */
/* The state compatibility check against Redis (`sluice run` at start,
 * `sluice check --state`) and the `sluice state` command. Functions return
 * process exit codes (SL_EXIT_*) and print for people: these are the
 * command line's, not a library's. */
#ifndef SLUICE_STATE_START_H
#define SLUICE_STATE_START_H

#include <stdint.h>

#include "lang/graph.h"
#include "lang/registry.h"
#include "lang/state_compat.h"
#include "redis_state.h"

/* Connect to Redis, retrying with backoff for up to `wait_ms` (0: one
 * attempt). NULL with `err` set. */
sl_redis *sl_state_connect(const char *url, int64_t wait_ms, sl_error *err);

/* What is stored for pipeline `g`: the inventory (with sizes when asked), the
 * metadata, and both merged per node id. Free with sl_stored_free. */
typedef struct sl_stored {
  sl_state_inventory inv;
  sl_state_meta *meta;
  size_t nmeta;
  int meta_present;
  sl_stored_node *nodes; /* strings borrowed from inv and meta */
  size_t nnodes;
} sl_stored;
int sl_stored_load(sl_redis *r, const sl_graph_desc *g, int sizes, sl_stored *s, sl_error *err);
void sl_stored_free(sl_stored *s);

/* Compare the pipeline with its stored state. `apply` (run): drop what
 * --allow-state-loss allows, then record the pipeline's nodes as the
 * state's metadata; otherwise (check --state) change nothing. Prints the
 * findings; returns SL_EXIT_OK, SL_EXIT_INVALID (refused) or
 * SL_EXIT_RUNTIME (Redis unreachable). */
int sl_state_check(const sl_graph_desc *g, const sl_registry *reg, const char *redis_url,
                   const char *const *allow, size_t nallow, int apply, int64_t wait_ms);

/* `sluice state show|reset|drop`: `id` for drop, `yes` skips reset's
 * confirmation, `json` prints JSON. Returns an exit code. */
int sl_state_command(const char *sub, const sl_graph_desc *g, const sl_registry *reg,
                     const char *redis_url, const char *id, int yes, int json);

#endif
