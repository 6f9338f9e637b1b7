/* SPDX-License-Identifier: Apache-2.0 */
/* The state compatibility check at start (SPEC section 7, "Upgrades"):
 * read what the version that last ran stored (metadata and an inventory of
 * the state hashes), compare it with the pipeline (state_compat.c), refuse
 * to start on an incompatible change, drop exactly what --allow-state-loss
 * names, and record the pipeline's nodes for the next start. It runs before
 * any worker state is touched, so a refusal loses nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/exit_code.h"
#include "base/log.h"
#include "cli/state_start.h"

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sl_redis *sl_state_connect(const char *url, int64_t wait_ms, sl_error *err) {
  sl_redis *r = sl_redis_new(url, NULL, err);
  if (!r)
    return NULL;
  int64_t deadline = now_ms() + wait_ms;
  for (;;) {
    int64_t retry_in = 0;
    int rc = sl_redis_ensure(r, now_ms(), &retry_in, err);
    if (rc == SL_OK)
      return r;
    if (rc != SL_ERR_UNAVAILABLE || now_ms() + retry_in > deadline)
      break;
    sl_log(SL_LOG_WARN, "state", "Redis at %s not reachable (%s); retrying in %lld ms",
           sl_redis_describe(r), err->message, (long long)retry_in);
    struct timespec ts = {retry_in / 1000, (long)(retry_in % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  sl_redis_free(r);
  return NULL;
}

static sl_stored_node *stored_node(sl_stored *s, const char *id) {
  for (size_t i = 0; i < s->nnodes; i++)
    if (strcmp(s->nodes[i].id, id) == 0)
      return &s->nodes[i];
  sl_stored_node *n = realloc(s->nodes, (s->nnodes + 1) * sizeof *n);
  if (!n)
    return NULL;
  s->nodes = n;
  memset(&n[s->nnodes], 0, sizeof *n);
  n[s->nnodes].id = id;
  return &n[s->nnodes++];
}

int sl_stored_load(sl_redis *r, const sl_graph_desc *g, int sizes, sl_stored *s, sl_error *err) {
  memset(s, 0, sizeof *s);
  const char **topics = calloc(g->count ? g->count : 1, sizeof *topics);
  size_t ntopics = 0;
  if (!topics)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < g->count; i++) {
    const sl_config *c = g->nodes[i].config;
    if (g->nodes[i].kind == SL_NODE_SOURCE)
      topics[ntopics++] = sl_config_string(c, "topic", sl_config_string(c, "path", g->nodes[i].type));
  }
  int rc = sl_state_meta_read(r, g->name, &s->meta, &s->nmeta, &s->meta_present, err);
  if (rc == SL_OK)
    rc = sl_state_inventory_load(r, g->name, topics, ntopics, sizes, &s->inv, err);
  free(topics);
  for (size_t i = 0; i < s->nmeta && rc == SL_OK; i++) {
    sl_stored_node *n = stored_node(s, s->meta[i].id);
    if (!n) {
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      break;
    }
    n->type = s->meta[i].type;
    n->topic = s->meta[i].topic;
    n->shape = s->meta[i].shape;
  }
  for (size_t i = 0; i < s->inv.nparts && rc == SL_OK; i++)
    for (size_t k = 0; k < s->inv.parts[i].nops && rc == SL_OK; k++) {
      sl_stored_node *n = stored_node(s, s->inv.parts[i].ops[k].id);
      if (!n) {
        rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
        break;
      }
      /* State under a topic other than the recorded one wins: it is what
       * the comparison must catch. */
      if (!n->state_topic || (n->topic && strcmp(n->state_topic, n->topic) == 0))
        n->state_topic = s->inv.parts[i].topic;
      n->partitions++;
    }
  if (rc != SL_OK)
    sl_stored_free(s);
  return rc;
}

void sl_stored_free(sl_stored *s) {
  if (!s)
    return;
  free(s->nodes);
  sl_state_meta_free(s->meta, s->nmeta);
  sl_state_inventory_free(&s->inv);
  memset(s, 0, sizeof *s);
}

static int node_line(const sl_graph_desc *g, const char *id) {
  int k = sl_graph_find_id(g, id);
  return k >= 0 ? g->nodes[k].line : g->pipeline_line;
}

static void print_report(const sl_graph_desc *g, const sl_compat_report *rep, int apply) {
  for (size_t i = 0; i < rep->n; i++) {
    const sl_compat_item *it = &rep->items[i];
    switch (it->verdict) {
    case SL_COMPAT_REFUSE:
      fprintf(stderr, "%s:%d: stored state of '%s' cannot be restored: %s\n  what to do: %s\n",
              g->file, node_line(g, it->id), it->id, it->what, it->todo);
      break;
    case SL_COMPAT_DROP:
      if (apply)
        sl_log(SL_LOG_WARN, "state", "dropping the stored state of '%s' (--allow-state-loss): %s",
               it->id, it->what);
      else
        printf("%s: state of '%s' would be dropped (--allow-state-loss): %s\n", g->file, it->id,
               it->what);
      break;
    case SL_COMPAT_NOTE:
      if (strncmp(it->what, "--allow-state-loss", 18) == 0 && apply)
        sl_log(SL_LOG_WARN, "state", "%s", it->what);
      else if (strncmp(it->what, "--allow-state-loss", 18) == 0)
        printf("%s: %s\n", g->file, it->what);
      else if (apply)
        sl_log(SL_LOG_WARN, "state", "state of '%s' kept: %s", it->id, it->what);
      else
        printf("%s: state of '%s' kept: %s\n", g->file, it->id, it->what);
      break;
    case SL_COMPAT_KEEP:
      break;
    }
  }
}

/* Drop what was allowed, then record the pipeline's nodes as the metadata. */
static int apply_report(sl_redis *r, const sl_graph_desc *g, const sl_stored *st,
                        const sl_state_node *cur, size_t ncur, const sl_compat_report *rep,
                        sl_error *err) {
  for (size_t i = 0; i < rep->n; i++) {
    if (rep->items[i].verdict != SL_COMPAT_DROP)
      continue;
    size_t deleted = 0;
    int rc = sl_state_drop_op(r, g->name, &st->inv, rep->items[i].id, &deleted, err);
    if (rc != SL_OK)
      return rc;
    sl_log(SL_LOG_WARN, "state", "dropped the state of '%s' in %zu partition%s", rep->items[i].id,
           deleted, deleted == 1 ? "" : "s");
  }
  sl_state_meta *m = calloc(ncur ? ncur : 1, sizeof *m);
  if (!m)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < ncur; i++)
    m[i] = (sl_state_meta){cur[i].id, cur[i].type, cur[i].topic, cur[i].shape};
  int rc = sl_state_meta_write(r, g->name, m, ncur, err);
  free(m); /* the strings belong to `cur` */
  return rc;
}

int sl_state_check(const sl_graph_desc *g, const sl_registry *reg, const char *redis_url,
                   const char *const *allow, size_t nallow, int apply, int64_t wait_ms) {
  sl_error err;
  sl_error_clear(&err);
  sl_state_node *cur = NULL;
  size_t ncur = 0;
  sl_stored st;
  memset(&st, 0, sizeof st);
  sl_compat_report rep;
  memset(&rep, 0, sizeof rep);
  int code = SL_EXIT_RUNTIME;
  sl_redis *r = sl_state_connect(redis_url, wait_ms, &err);
  if (!r || sl_state_nodes(g, reg, &cur, &ncur) != SL_OK ||
      sl_stored_load(r, g, 0, &st, &err) != SL_OK ||
      sl_state_compare(g->file, cur, ncur, st.nodes, st.nnodes, allow, nallow, &rep) != SL_OK) {
    fprintf(stderr, "sluice: state compatibility check of '%s': %s\n", g->name,
            err.message[0] ? err.message : "out of memory");
    goto out;
  }
  print_report(g, &rep, apply);
  if (rep.refused) {
    fprintf(stderr,
            "sluice: refusing to start '%s': stored state of %zu node%s in Redis does not fit "
            "this pipeline (nothing was changed; see docs/operations.md, \"Upgrading a "
            "pipeline\")\n",
            g->name, rep.refused, rep.refused == 1 ? "" : "s");
    code = SL_EXIT_INVALID;
    goto out;
  }
  if (apply && apply_report(r, g, &st, cur, ncur, &rep, &err) != SL_OK) {
    fprintf(stderr, "sluice: recording the state metadata of '%s': %s\n", g->name, err.message);
    code = err.code == SL_ERR_INVALID ? SL_EXIT_INVALID : SL_EXIT_RUNTIME;
    goto out;
  }
  if (!apply)
    printf("%s: stored state fits (%zu stateful node%s, %zu with stored state, %zu partition%s)\n",
           g->file, ncur, ncur == 1 ? "" : "s", st.nnodes, st.inv.nparts,
           st.inv.nparts == 1 ? "" : "s");
  code = SL_EXIT_OK;
out:
  sl_compat_report_free(&rep);
  sl_stored_free(&st);
  sl_state_nodes_free(cur, ncur);
  sl_redis_free(r);
  return code;
}
