/* SPDX-License-Identifier: Apache-2.0 */
/* The window operator's checkpoints: its windows (keyed_state / window
 * store entries) and per-partition watermarks into the snapshot and back,
 * partitions moving away, and the offsets its open windows hold. */
#include "base/buf.h"
#include "base/varint.h"
#include "window_op.h"

/* Watermark state: key 0x00 'P' zigzag(source_id) under the partition;
 * value: zigzag(max event time), zigzag(operator watermark), seq. */
#define WM_TAG0 0x00
#define WM_TAG1 'P'

typedef struct snap_ctx {
  const sl_host *host;
  sl_snapshot *snap;
} snap_ctx;

static int snap_put(void *ctx, int32_t partition, const void *key, size_t key_len, const void *val,
                    size_t val_len) {
  snap_ctx *c = ctx;
  return c->host->snapshot_put(c->snap, partition, key, key_len, val, val_len);
}

static int snap_del(void *ctx, int32_t partition, const void *key, size_t key_len) {
  snap_ctx *c = ctx;
  return c->host->snapshot_delete(c->snap, partition, key, key_len);
}

int sl_window_snapshot(void *state, sl_snapshot *snap, sl_error *err) {
  win_op *w = state;
  snap_ctx c = {w->host, snap};
  int rc = w->kind == W_SESSION ? sl_kstate_snapshot(&w->st, snap_put, snap_del, &c)
                                : sl_wstore_snapshot(&w->ws, snap_put, snap_del, &c);
  sl_buf k = SL_BUF_INIT, v = SL_BUF_INIT;
  for (size_t i = 0; i < w->wm.count && rc == SL_OK; i++) {
    const sl_wm_part *p = &w->wm.parts[i];
    /* A partition that sent nothing has no watermark of its own to save:
     * an entry would make its next owner treat it as started. */
    if (p->max_t == SL_WATERMARK_NONE)
      continue;
    sl_buf_reset(&k);
    sl_buf_reset(&v);
    if (sl_buf_putc(&k, WM_TAG0) || sl_buf_putc(&k, WM_TAG1) ||
        sl_varint_put(&k, sl_zigzag(p->source_id)) || sl_varint_put(&v, sl_zigzag(p->max_t)) ||
        sl_varint_put(&v, sl_zigzag(w->wm.current)) || sl_varint_put(&v, w->seq)) {
      rc = SL_ERR_NOMEM;
      break;
    }
    rc = w->host->snapshot_put(snap, p->partition, k.data, k.len, v.data, v.len);
  }
  sl_buf_free(&k);
  sl_buf_free(&v);
  return rc == SL_OK ? SL_OK
                     : sl_error_set(err, rc, "window: snapshot failed (%s)", sl_strerror(rc));
}

int sl_window_restore(void *state, int32_t partition, const void *key, size_t key_len,
                      const void *val, size_t val_len, sl_error *err) {
  win_op *w = state;
  const unsigned char *k = key;
  int rc;
  if (key_len >= 1 && k[0] == SL_KSTATE_TAG) {
    rc = w->kind == W_SESSION ? sl_kstate_restore(&w->st, partition, key, key_len, val, val_len)
                              : sl_wstore_restore(&w->ws, partition, key, key_len, val, val_len);
  } else if (key_len >= 2 && k[0] == WM_TAG0 && k[1] == WM_TAG1) {
    sl_rd kr = {k + 2, k + key_len, 0}, vr = {val, (const unsigned char *)val + val_len, 0};
    int64_t source = sl_unzigzag(sl_varint_get(&kr));
    int64_t max_t = sl_unzigzag(sl_varint_get(&vr));
    int64_t wm = sl_unzigzag(sl_varint_get(&vr));
    uint64_t seq = sl_varint_get(&vr);
    if (kr.bad || vr.bad || source < INT32_MIN || source > INT32_MAX) {
      rc = SL_ERR_PARSE;
    } else {
      rc = sl_watermark_restore_part(&w->wm, (int32_t)source, partition, max_t, wm,
                                     w->host->now_ms(w->op));
      if (seq > w->seq)
        w->seq = seq;
    }
  } else {
    rc = SL_ERR_PARSE;
  }
  if (rc == SL_ERR_PARSE)
    return sl_error_set(err, rc, "window: unreadable state entry for partition %d (%zu bytes)",
                        (int)partition, val_len);
  return rc == SL_OK ? SL_OK
                     : sl_error_set(err, rc, "window: restore failed (%s)", sl_strerror(rc));
}

int sl_window_drop_partition(void *state, int32_t partition, sl_error *err) {
  win_op *w = state;
  if (w->kind == W_SESSION)
    sl_kstate_drop_partition(&w->st, partition);
  else if (sl_wstore_drop_partition(&w->ws, partition) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "window: out of memory dropping partition %d",
                        (int)partition);
  sl_watermark_drop_partition(&w->wm, partition);
  return SL_OK;
}

/* Records stay held from the moment their window opens until it is removed
 * (closed after lateness, merged, dropped): a window within lateness still
 * changes with late records, so replaying it after a restart rebuilds the
 * same results rather than a partial one. */
int64_t sl_window_held_offset(void *state, int32_t source_id, int32_t partition) {
  win_op *w = state;
  return w->kind == W_SESSION ? sl_kstate_held_offset(&w->st, source_id, partition)
                              : sl_wstore_held_offset(&w->ws, source_id, partition);
}
