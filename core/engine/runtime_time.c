/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's side of event time at the source (source_time.h): which
 * node reads a source's time field (the source itself when it decodes, else
 * each :decode{} right after it), and applying it to that node's output,
 * record by record, before any other operator runs. */
#include <string.h>

#include "engine/runtime_internal.h"
#include "lang/source_time.h"

int sl_runtime_time_init(sl_runtime *rt, sl_error *err) {
  for (size_t i = 0; i < rt->count; i++) {
    sl_node *n = &rt->nodes[i];
    if (n->kind != SL_NODE_SOURCE)
      continue;
    int rc = sl_source_time_new(n->desc->config, &n->time, err);
    if (rc != SL_OK)
      return rc;
    if (!n->time)
      continue;
    if (strcmp(sl_source_format(n->source, n->desc->config), "raw") != 0) {
      n->time_src = n; /* decoded by the source (in place or Avro files) */
      continue;
    }
    for (size_t c = 0; c < n->nchildren; c++) {
      sl_node *k = &rt->nodes[n->children[c]];
      if (k->kind != SL_NODE_OPERATOR || strcmp(k->desc->type, "decode") != 0)
        return sl_error_set(err, SL_ERR_INVALID,
                            "%s:%d: %s: its records are raw bytes until :decode{}, where its "
                            "time field is read: put :decode{...} right after the source",
                            rt->graph->file, k->desc->line, k->desc->label);
      k->time_src = n;
    }
  }
  return SL_OK;
}

int sl_runtime_apply_time(sl_runtime *rt, sl_node *n, sl_batch *b) {
  const sl_source_time *st = n->time_src->time;
  size_t w = 0;
  for (size_t i = 0; i < b->count; i++) {
    sl_record *r = b->records[i];
    char why[160];
    if (sl_source_time_assign(st, r, why, sizeof why) == SL_OK) {
      b->records[w++] = r;
      continue;
    }
    /* The source's option rejected it: the source is the node to name. */
    int rc = sl_runtime_dead_letter(rt, n->time_src, r, "time", why);
    if (rc != SL_OK)
      return rc;
  }
  b->count = w;
  return SL_OK;
}
