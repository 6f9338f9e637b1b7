/* SPDX-License-Identifier: Apache-2.0 */
/* The window operator's state (operators/window.c), shared with its
 * checkpoint half (window_state.c). Not installed, not for other operators. */
#ifndef SLUICE_WINDOW_OP_H
#define SLUICE_WINDOW_OP_H

#include <stdint.h>

#include "base/buf.h"
#include "sluice/operator.h"
#include "state/aggregate.h"
#include "state/keyed_state.h"
#include "state/watermark.h"
#include "state/window_store.h"

typedef enum { W_TUMBLING, W_HOPPING, W_SESSION } win_kind;

typedef struct win_path {
  sl_name *names;  /* malloc'd */
  uint32_t *hints; /* malloc'd, len entries: sl_record_get_path_hinted's memory */
  size_t len;
} win_path;

typedef struct win_op {
  const sl_host *host;
  sl_operator *op;
  win_kind kind;
  int64_t size, every, lateness; /* size is the gap for sessions */
  win_path *keys;
  sl_name *key_out; /* output field per key: the full dotted path */
  size_t nkeys;
  win_path time; /* len 0: the record timestamp */
  sl_agg_set aggs;
  sl_kstate st; /* session windows */
  sl_wstore ws; /* tumbling and hopping windows: shared by all keys */
  sl_watermark wm;
  uint64_t seq;                      /* arrival counter for first/last ties */
  sl_buf key;                        /* scratch: canonical key of the current record */
  sl_buf text;                       /* scratch: result key text */
  sl_kentry **emit, **close, **same; /* scratch lists */
  size_t emit_cap, close_cap, same_cap;
  sl_name n_start, n_end;
} win_op;

/* Checkpoints (window_state.c): the operator's snapshot, restore,
 * drop_partition and held_offset callbacks. */
int sl_window_snapshot(void *state, sl_snapshot *snap, sl_error *err);
int sl_window_restore(void *state, int32_t partition, const void *key, size_t key_len,
                      const void *val, size_t val_len, sl_error *err);
int sl_window_drop_partition(void *state, int32_t partition, sl_error *err);
int64_t sl_window_held_offset(void *state, int32_t source_id, int32_t partition);

#endif
