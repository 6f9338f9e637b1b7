/* SPDX-License-Identifier: Apache-2.0 */
/* Running a pipeline: nodes built from the graph description, source batches
 * pushed depth-first through operators to sinks with one arena per batch,
 * timers, draining of finite input, offset commits after sinks acknowledged,
 * and graceful stop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/metrics.h"
#include "engine/checkpoint.h"
#include "engine/host.h"
#include "engine/runtime_internal.h"
#include "lang/builtin.h"
#include "lang/source_time.h"
#include "redis.h"
#include "tables.h"

static void env_log(void *runtime, sl_log_level level, const char *fmt, ...) {
  (void)runtime;
  va_list ap;
  va_start(ap, fmt);
  sl_logv(level, "connector", fmt, ap);
  va_end(ap);
}

/* What a connector counts becomes a series labelled with its node, like an
 * operator's. Connectors have no gauge_set: a name ending in _total is a
 * counter (Prometheus' convention), any other a gauge moved by deltas (the
 * partitions a source holds). */
static void env_counter_add(void *runtime, const char *name, double delta) {
  struct sl_operator *self = runtime;
  if (self && self->rt)
    sl_runtime_metric_add(self->rt, self->node, name, delta);
}

/* A connector's env->runtime is its node's handle, so that what it reports
 * (dead letters above all: they name the node that rejected the record) is
 * attributed to that source or sink. */
sl_runtime *sl_runtime_of_env(void *runtime) { return ((struct sl_operator *)runtime)->rt; }

static int env_dead_letter(void *runtime, const sl_record *r, const char *reason,
                           const char *message) {
  struct sl_operator *self = runtime;
  return sl_runtime_dead_letter(self->rt, self->node, r, reason, message);
}

static int flush_sinks(sl_runtime *rt, int timeout_ms, sl_error *err);

static int env_on_assign(void *runtime, int32_t source_id, const int32_t *partitions, size_t n,
                         int64_t *start_offsets) {
  sl_runtime *rt = sl_runtime_of_env(runtime);
  __atomic_store_n(&rt->assigned, 1, __ATOMIC_RELAXED);
  for (size_t i = 0; i < n; i++)
    start_offsets[i] = -1; /* memory state: resume from the committed offsets */
  if (rt->closing)
    return SL_OK;
  if (!rt->ckpt) {
    sl_runtime_assign_operators(rt, source_id, partitions, n);
    return SL_OK;
  }
  sl_error err;
  sl_error_clear(&err);
  int rc = sl_runtime_assign_restoring(rt, source_id, partitions, n, start_offsets, &err);
  if (rc != SL_OK)
    sl_log(SL_LOG_ERROR, "checkpoint", "restoring assigned partitions failed: %s", err.message);
  return rc;
}

static int commit_memory(sl_runtime *rt, size_t i, const int32_t *only, size_t nonly,
                         sl_error *err);

/* state = "memory": before giving partitions up, commit what is safe of
 * them (held back by open windows), then stop committing them: their new
 * owner commits from now on, and a late commit from here would move the
 * group's offset backwards under it. */
static void revoke_memory(sl_runtime *rt, int32_t source_id, const int32_t *partitions,
                          size_t n) {
  for (size_t i = 0; rt->pending && i < rt->count; i++) {
    sl_node *s = &rt->nodes[i];
    if (s->kind != SL_NODE_SOURCE || s->env.source_id != source_id || !s->source->commit)
      continue;
    sl_error err;
    sl_error_clear(&err);
    int rc = flush_sinks(rt, 10000, &err);
    if (rc == SL_OK)
      rc = commit_memory(rt, i, partitions, n, &err);
    if (rc != SL_OK)
      sl_log(SL_LOG_WARN, "runtime",
             "committing before giving up %zu partitions failed (%s); the new owner replays "
             "from the last commit",
             n, err.message);
  }
}

/* Readiness (SPEC section 8: "sources are assigned"): a lost assignment
 * means the group coordinator is out of reach; a rebalance's revoke is
 * followed by an assign and keeps the worker ready. */
static void env_on_assignment_lost(void *runtime, int32_t source_id) {
  sl_runtime *rt = sl_runtime_of_env(runtime);
  (void)source_id;
  __atomic_store_n(&rt->assigned, 0, __ATOMIC_RELAXED);
}

static int env_on_revoke(void *runtime, int32_t source_id, const int32_t *partitions, size_t n) {
  sl_runtime *rt = sl_runtime_of_env(runtime);
  if (rt->closing)
    return SL_OK;
  if (!rt->ckpt) {
    revoke_memory(rt, source_id, partitions, n);
    return SL_OK;
  }
  /* Outputs first, then the checkpoint: a result whose state is released
   * must already be acknowledged. */
  sl_error err;
  sl_error_clear(&err);
  int64_t t0 = sl_runtime_now_ms();
  int rc = sl_runtime_flush_dead_letters(rt, &err);
  if (rc == SL_OK)
    rc = flush_sinks(rt, 10000, &err);
  int written = 0; /* the checkpoint is in Redis, whatever Kafka said to the commit */
  if (rc == SL_OK) {
    rc = sl_ckpt_revoke(rt->ckpt, source_id, partitions, n, &err);
    written = rc == SL_OK || sl_ckpt_kafka_failed(rt->ckpt);
  }
  if (!written)
    sl_log(SL_LOG_WARN, "checkpoint",
           "checkpoint before giving up %zu partitions failed (%s); the new owner resumes from "
           "the last checkpoint",
           n, err.message);
  else /* with the "assigned" lines, what a rebalance costs (docs/scaling.md) */
    sl_log(SL_LOG_INFO, "checkpoint",
           "%zu partitions revoked: outputs flushed and checkpoint taken in %lld ms%s%s%s", n,
           (long long)(sl_runtime_now_ms() - t0),
           rc == SL_OK ? "" : " (the Kafka offset commit failed: ", rc == SL_OK ? "" : err.message,
           rc == SL_OK ? "" : "; the new owner resumes from the offsets in Redis)");
  return SL_OK;
}

/* Whether a record below node `i` can reach a reader of headers: a sink not
 * known to ignore them (kafka_sink writes them out) or an operator not built
 * in (a plugin may call sl_record_header_at). A window's results are records
 * of its own without headers, so the walk stops there. */
static int headers_read_below(const sl_runtime *rt, size_t i) {
  static const char *const passing[] = {"decode", "filter", "map",  "select",
                                        "enrich", "encode", "alert"};
  static const char *const ignoring[] = {"file_sink", "stdout_sink", "null_sink",  "postgres_sink",
                                         "webhook",   "cache",       "alert_store"};
  const sl_node *n = &rt->nodes[i];
  const char *type = n->desc->type;
  if (n->desc->kind == SL_NODE_SINK) {
    for (size_t k = 0; k < sizeof ignoring / sizeof ignoring[0]; k++)
      if (strcmp(type, ignoring[k]) == 0)
        return 0;
    return 1;
  }
  if (n->desc->kind == SL_NODE_OPERATOR) {
    if (strcmp(type, "window") == 0)
      return 0;
    size_t k = 0;
    while (k < sizeof passing / sizeof passing[0] && strcmp(type, passing[k]) != 0)
      k++;
    if (k == sizeof passing / sizeof passing[0])
      return 1;
  }
  for (size_t c = 0; c < n->nchildren; c++)
    if (headers_read_below(rt, (size_t)n->children[c]))
      return 1;
  return 0;
}

/* 1 when no record of source node `i` can reach a reader of its headers, so
 * kafka_source may skip librdkafka's header parsing (~1,000 instructions a
 * message, even one without headers). A dead-letter sink on Kafka keeps a
 * failed record's original headers: with one, every source's headers count. */
static int source_headers_unread(const sl_runtime *rt, size_t i) {
  const sl_graph_desc *g = rt->graph;
  for (size_t k = 0; k < g->count; k++)
    if (strcmp(g->nodes[k].type, "dead_letter") == 0 &&
        !sl_config_string(g->nodes[k].config, "path", NULL))
      return 0;
  return !headers_read_below(rt, i);
}

static void fill_env(sl_runtime *rt, sl_node *n, int32_t source_id) {
  sl_connector_env *e = &n->env;
  if (source_id >= 0)
    e->headers_unread = source_headers_unread(rt, (size_t)(n - rt->nodes));
  e->pipeline = rt->graph->name;
  e->kafka = sl_config_table(rt->graph->pipeline, "kafka");
  e->redis_url = sl_config_string(rt->graph->pipeline, "redis", rt->opts.redis_url);
  e->state = rt->graph->state;
  e->source_id = source_id;
  e->node_name = n->desc->label;
  e->runtime = &n->handle; /* set up by build_node before fill_env */
  e->retry_budget_ms = rt->opts.retry_budget_ms;
  e->log = env_log;
  e->counter_add = env_counter_add;
  e->dead_letter = env_dead_letter;
  e->on_assign = env_on_assign;
  e->on_revoke = env_on_revoke;
  e->on_assignment_lost = env_on_assignment_lost;
}

/* The dead-letter sink is a file or Kafka sink with dead-letter options. */
static int open_dead_letter(sl_runtime *rt, sl_node *n, sl_error *err) {
  const sl_config *c = n->desc->config;
  sl_config *cfg = sl_config_new(sl_config_file(c), sl_config_line(c));
  if (!cfg)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  const char *path = sl_config_string(c, "path", NULL);
  if (path) {
    n->sink = sl_registry_sink(rt->reg, "file_sink");
    sl_config_put_string(cfg, "path", path);
  } else {
    n->sink = sl_registry_sink(rt->reg, "kafka_sink");
    sl_config_put_string(cfg, "topic", sl_config_string(c, "topic", ""));
    sl_config_put_bool(cfg, "raw", 1);
  }
  int rc = n->sink ? n->sink->open(&n->env, cfg, &n->sink_state, err)
                   : sl_error_set(err, SL_ERR_NOT_FOUND, "no sink available for dead letters");
  sl_config_destroy(cfg);
  rt->dead_letter = n;
  return rc;
}

/* Sources with `format` decode in place through the decode operator. */
static int open_source_decoder(sl_runtime *rt, sl_node *n, sl_error *err) {
  if (!(n->source->flags & SL_SOURCE_DECODES))
    return SL_OK;
  const char *format = sl_source_format(n->source, n->desc->config);
  if (strcmp(format, "avro") == 0)
    return SL_OK; /* Avro container files carry their schema: the source decodes */
  if (!format || strcmp(format, "raw") == 0)
    return SL_OK;
  n->op = sl_registry_operator(rt->reg, "decode");
  if (!n->op)
    return sl_error_set(err, SL_ERR_INTERNAL, "decode operator missing");
  sl_config *cfg = sl_config_new(sl_config_file(n->desc->config), n->desc->line);
  if (!cfg)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_config_put_string(cfg, "format", format);
  const char *schema = sl_config_string(n->desc->config, "schema", NULL);
  if (schema)
    sl_config_put_string(cfg, "schema", schema);
  int rc = n->op->init(&sl_runtime_host, &n->handle, cfg, &n->op_state, err);
  sl_config_destroy(cfg);
  return rc;
}

static int build_node(sl_runtime *rt, sl_node *n, int32_t *source_ids, sl_error *err) {
  const sl_node_desc *d = n->desc;
  n->kind = d->kind;
  sl_runtime_metrics_init(rt, n);
  n->handle.rt = rt;
  n->handle.node = n;
  n->handle.label = d->label;
  sl_batch_init(&n->out, rt->arena);
  switch (d->kind) {
  case SL_NODE_SOURCE:
    fill_env(rt, n, (*source_ids)++);
    n->source = sl_registry_source(rt->reg, d->type);
    if (n->source->open(&n->env, d->config, &n->source_state, err) != SL_OK)
      return err->code;
    return open_source_decoder(rt, n, err);
  case SL_NODE_SINK:
    fill_env(rt, n, -1);
    if (strcmp(d->type, "dead_letter") == 0)
      return open_dead_letter(rt, n, err);
    n->sink = sl_registry_sink(rt->reg, d->type);
    return n->sink->open(&n->env, d->config, &n->sink_state, err);
  case SL_NODE_OPERATOR:
    n->op = sl_registry_operator(rt->reg, d->type);
    return n->op->init(&sl_runtime_host, &n->handle, d->config, &n->op_state, err);
  }
  return SL_OK;
}

sl_runtime *sl_runtime_new(const sl_graph_desc *g, sl_registry *reg, const sl_runtime_options *o,
                           sl_error *err) {
  sl_runtime *rt = calloc(1, sizeof *rt);
  if (rt)
    pthread_mutex_init(&rt->reason_lock, NULL);
  if (!rt)
    goto out_nomem;
  rt->graph = g;
  rt->reg = reg;
  if (o)
    rt->opts = *o;
  if (!rt->opts.batch_size)
    rt->opts.batch_size = 1024;
  if (!rt->opts.max_line_bytes)
    rt->opts.max_line_bytes = 1 << 20;
  if (!rt->opts.retry_budget_ms)
    rt->opts.retry_budget_ms = 600000;
  rt->arena = sl_arena_new(1 << 20);
  rt->nodes = calloc(g->count ? g->count : 1, sizeof *rt->nodes);
  if (!rt->arena || !rt->nodes)
    goto out_nomem;
  sl_batch_init(&rt->dl_batch, rt->arena);
  rt->count = g->count;
  int32_t source_ids = 0;
  for (size_t i = 0; i < g->count; i++) {
    sl_node *n = &rt->nodes[i];
    n->desc = &g->nodes[i];
    int kids[256];
    size_t nk = sl_graph_children(g, (int)i, kids, 256);
    n->children = malloc((nk ? nk : 1) * sizeof *n->children);
    if (!n->children)
      goto out_nomem;
    memcpy(n->children, kids, nk * sizeof *kids);
    n->nchildren = nk;
  }
  /* Tables before every node: enrich finds its table at init. */
  sl_connector_env tenv = {.pipeline = g->name, .kafka = sl_config_table(g->pipeline, "kafka")};
  if (!(rt->tables = sl_tables_open(g, &tenv, err)))
    goto out_fail;
  /* Open the dead-letter sink first: other nodes may fail records at once. */
  for (size_t i = 0; i < g->count; i++)
    if (strcmp(g->nodes[i].type, "dead_letter") == 0 &&
        build_node(rt, &rt->nodes[i], &source_ids, err) != SL_OK)
      goto out_fail;
  for (size_t i = 0; i < g->count; i++) {
    if (strcmp(g->nodes[i].type, "dead_letter") == 0)
      continue;
    if (build_node(rt, &rt->nodes[i], &source_ids, err) != SL_OK)
      goto out_fail;
  }
  if (sl_runtime_time_init(rt, err) != SL_OK)
    goto out_fail;
  if (strcmp(g->state, "redis") == 0) {
    const char *url = sl_config_string(g->pipeline, "redis", rt->opts.redis_url);
    sl_state_backend *store =
        sl_redis_state_backend_new(url ? url : "redis://127.0.0.1:6379", g->name, err);
    rt->ckpt = sl_ckpt_new(rt, store, 60000, err);
    if (!rt->ckpt)
      goto out_fail;
  }
  return rt;
out_nomem:
  sl_error_set(err, SL_ERR_NOMEM, "out of memory");
out_fail:
  sl_runtime_free(rt);
  return NULL;
}

void sl_runtime_free(sl_runtime *rt) {
  if (!rt)
    return;
  /* Sources first: closing a Kafka consumer revokes its partitions, and its
   * callbacks must not reach sinks or state that are already gone. */
  rt->closing = 1;
  for (size_t i = 0; rt->nodes && i < rt->count; i++) {
    sl_node *n = &rt->nodes[i];
    if (n->source && n->source->close && n->source_state)
      n->source->close(n->source_state);
    n->source_state = NULL;
  }
  for (size_t i = 0; rt->nodes && i < rt->count; i++) {
    sl_node *n = &rt->nodes[i];
    if (n->op && n->op->destroy && n->op_state)
      n->op->destroy(n->op_state);
    if (n->sink && n->sink->close && n->sink_state)
      n->sink->close(n->sink_state);
    sl_batch_release(&n->out);
    sl_source_time_free(n->time);
    free(n->children);
  }
  free(rt->nodes);
  sl_tables_close(rt->tables);
  sl_ckpt_free(rt->ckpt);
  sl_batch_release(&rt->dl_batch);
  sl_arena_destroy(rt->arena);
  pthread_mutex_destroy(&rt->reason_lock);
  free(rt);
}

/* A second request (Ctrl-C twice) cuts the waits for sinks and Redis short:
 * the run ends at once, from the last checkpoint. Lock-free, so safe in a
 * signal handler. */

void sl_runtime_stop(sl_runtime *rt) { __atomic_add_fetch(&rt->stop, 1, __ATOMIC_RELAXED); }
uint64_t sl_runtime_records_in(const sl_runtime *rt) { return rt->records_in; }
uint64_t sl_runtime_dead_letters(const sl_runtime *rt) { return rt->dead_letters; }

static int push(sl_runtime *rt, sl_node *n, const sl_batch *in, sl_error *err);

static int push_children(sl_runtime *rt, sl_node *n, const sl_batch *b, sl_error *err) {
  if (b->count == 0)
    return SL_OK;
  for (size_t i = 0; i < n->nchildren; i++) {
    int rc = push(rt, &rt->nodes[n->children[i]], b, err);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

static int push(sl_runtime *rt, sl_node *n, const sl_batch *in, sl_error *err) {
  if (n->kind == SL_NODE_SINK)
    return sl_runtime_sink_write(rt, n, in, err);
  const sl_batch *b = in;
  if (n->op) {
    sl_batch_clear(&n->out);
    n->out.arena = rt->arena;
    struct sl_emitter em = {rt, n, &n->out};
    if (n->kind == SL_NODE_OPERATOR) {
      n->in += in->count;
      sl_metric_add(n->m_in, (double)in->count);
    }
    int rc = n->op->process(n->op_state, in, &em, err);
    if (rc != SL_OK) {
      sl_log(SL_LOG_ERROR, n->desc->label, "%s", err->message);
      return rc;
    }
    if (n->time_src && (rc = sl_runtime_apply_time(rt, n, &n->out)) != SL_OK)
      return sl_error_set(err, rc, "%s: cannot dead-letter a record without time", n->desc->label);
    b = &n->out;
    sl_metric_add(n->m_out, (double)b->count);
  }
  return push_children(rt, n, b, err);
}

/* Watermark or tick callbacks, in declaration order (parents first), so
 * that results fired upstream reach downstream operators before they fire. */
static int fire_timers(sl_runtime *rt, int64_t watermark, int64_t now, sl_error *err) {
  for (size_t i = 0; i < rt->count; i++) {
    sl_node *n = &rt->nodes[i];
    if (n->kind != SL_NODE_OPERATOR || !n->op)
      continue;
    int (*cb)(void *, int64_t, sl_emitter *, sl_error *) =
        watermark != SL_WATERMARK_NONE ? n->op->on_watermark : n->op->on_tick;
    if (!cb)
      continue;
    sl_batch_clear(&n->out);
    n->out.arena = rt->arena;
    struct sl_emitter em = {rt, n, &n->out};
    int rc = cb(n->op_state, watermark != SL_WATERMARK_NONE ? watermark : now, &em, err);
    sl_metric_add(n->m_out, (double)n->out.count);
    if (rc == SL_OK)
      rc = push_children(rt, n, &n->out, err);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

/* End of one traversal: sinks serve their callbacks (which may raise dead
 * letters), then dead letters go out, then the arena is reused; in that
 * order, so no dead letter points into a reset arena. */
static int finish_traversal(sl_runtime *rt, sl_error *err) {
  for (size_t i = 0; i < rt->count; i++)
    if (rt->nodes[i].sink && rt->nodes[i].sink->poll)
      rt->nodes[i].sink->poll(rt->nodes[i].sink_state);
  int rc = sl_runtime_flush_dead_letters(rt, err);
  sl_arena_reset(rt->arena);
  return rc;
}

/* Wait until every sink acknowledged what it was given. Sinks may give up
 * on records while flushing (dead letters): those are written to the
 * dead-letter sink, which is flushed last. */
static int flush_sinks(sl_runtime *rt, int timeout_ms, sl_error *err) {
  int64_t deadline = sl_runtime_now_ms() + timeout_ms;
  for (size_t pass = 0; pass < 2; pass++)
  for (size_t i = 0; i < rt->count; i++) {
    sl_node *n = &rt->nodes[i];
    if (!n->sink || (n == rt->dead_letter) != (pass == 1))
      continue;
    if (pass == 1) {
      int rc = sl_runtime_flush_dead_letters(rt, err);
      if (rc != SL_OK)
        return rc;
    }
    int rc;
    do {
      rc = n->sink->flush(n->sink_state, 200, err);
    } while (rc == SL_ERR_UNAVAILABLE && sl_runtime_now_ms() < deadline && rt->stop < 2);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

/* Offsets of one source node not committed yet. With state = "memory" a
 * partition stays here until its committed offset caught up with what was
 * polled: an open window may hold it back (held_offset) for a while. */
typedef struct pending_part {
  int32_t partition;
  int64_t next;      /* after the last polled record */
  int64_t committed; /* last committed by this run, -1 if none */
} pending_part;

/* Partitions below this are found through `hint` (a topic rarely has more;
 * past it the partitions are searched). */
#define PENDING_HINTS 256

typedef struct pending_offsets {
  pending_part *items;
  size_t count, cap;
  sl_offset *scratch; /* what one commit sends */
  size_t *holders;    /* operator nodes downstream with held_offset */
  size_t nholders;
  /* Where partition p was last seen in items: checked before it is used,
   * since commits drop and move items. Saves the search per record. */
  uint32_t hint[PENDING_HINTS];
} pending_offsets;

/* A partition not pending yet; its index in items, or p->count when out of memory. */
static size_t add_part(pending_offsets *p, int32_t part, int64_t next) {
  if (p->count == p->cap) {
    size_t ncap = p->cap ? p->cap * 2 : 8;
    pending_part *n = realloc(p->items, ncap * sizeof *n);
    sl_offset *sc = realloc(p->scratch, ncap * sizeof *sc);
    if (sc)
      p->scratch = sc;
    if (n)
      p->items = n;
    if (!n || !sc)
      return p->count;
    p->cap = ncap;
  }
  p->items[p->count] = (pending_part){.partition = part, .next = next, .committed = -1};
  return p->count++;
}

/* Where partition `part` is in p->items, added if new (and remembered in
 * p->hint); p->count when out of memory. The slow path of note_offsets. */
static size_t __attribute__((noinline)) find_part(pending_offsets *p, int32_t part, int64_t next) {
  size_t k = 0;
  while (k < p->count && p->items[k].partition != part)
    k++;
  if (k == p->count && (k = add_part(p, part, next)) == p->count)
    return k;
  if (part < PENDING_HINTS)
    p->hint[part] = (uint32_t)k;
  return k;
}

/* Per record: the struct's fields rather than a call per accessor, and the
 * table in locals (stores into it could alias `p` for the compiler). */
static void note_offsets(pending_offsets *p, const sl_batch *b) {
  pending_part *items = p->items;
  size_t count = p->count;
  for (size_t i = 0; i < b->count; i++) {
    const sl_record *r = b->records[i];
    int32_t part = r->partition;
    int64_t next = r->offset + 1;
    if (part < 0)
      continue;
    size_t k = part < PENDING_HINTS ? p->hint[part] : count;
    if (k >= count || items[k].partition != part) {
      k = find_part(p, part, next);
      items = p->items;
      count = p->count;
      if (k == count)
        continue; /* out of memory: noted again with a later record */
    }
    if (next > items[k].next)
      items[k].next = next;
  }
}

/* Operators reachable from source node `src` that may hold records in
 * memory (held_offset set), found once before the run. */
static int find_holders(sl_runtime *rt, size_t src, pending_offsets *p) {
  unsigned char *seen = calloc(rt->count, 1);
  size_t *stack = malloc(rt->count * sizeof *stack), top = 0;
  p->holders = malloc(rt->count * sizeof *p->holders);
  if (!seen || !stack || !p->holders) {
    free(seen);
    free(stack);
    return SL_ERR_NOMEM;
  }
  stack[top++] = src;
  seen[src] = 1;
  while (top) {
    sl_node *n = &rt->nodes[stack[--top]];
    if (n->kind == SL_NODE_OPERATOR && n->op && n->op->held_offset)
      p->holders[p->nholders++] = (size_t)(n - rt->nodes);
    for (size_t c = 0; c < n->nchildren; c++)
      if (!seen[n->children[c]]) {
        seen[n->children[c]] = 1;
        stack[top++] = (size_t)n->children[c];
      }
  }
  free(seen);
  free(stack);
  return SL_OK;
}

/* What may be committed for a partition: the next polled offset, held
 * back to the oldest record an operator downstream still holds. */
static int64_t safe_offset(sl_runtime *rt, const pending_offsets *p, int32_t source_id,
                           const pending_part *it) {
  int64_t off = it->next;
  for (size_t h = 0; h < p->nholders; h++) {
    sl_node *op = &rt->nodes[p->holders[h]];
    int64_t held = op->op->held_offset(op->op_state, source_id, it->partition);
    if (held >= 0 && held < off)
      off = held;
  }
  return off;
}

/* state = "memory": commit the safe offsets of source node `i` that moved
 * forward (never backwards), then forget the partitions that caught up. If
 * `only` is given, just those partitions (a revocation), which are
 * forgotten whatever their state: another worker owns them now. */
static int commit_memory(sl_runtime *rt, size_t i, const int32_t *only, size_t nonly,
                         sl_error *err) {
  sl_node *n = &rt->nodes[i];
  pending_offsets *p = &rt->pending[i];
  size_t m = 0;
  for (size_t k = 0; k < p->count; k++) {
    pending_part *it = &p->items[k];
    int chosen = !only;
    for (size_t j = 0; j < nonly && !chosen; j++)
      chosen = only[j] == it->partition;
    int64_t off = chosen ? safe_offset(rt, p, n->env.source_id, it) : -1;
    if (off > it->committed) {
      p->scratch[m].partition = it->partition;
      p->scratch[m++].next_offset = off;
    }
  }
  int rc = m ? n->source->commit(n->source_state, p->scratch, m, err) : SL_OK;
  if (rc != SL_OK && !only)
    return rc;
  size_t w = 0, s = 0;
  for (size_t k = 0; k < p->count; k++) {
    pending_part it = p->items[k];
    if (rc == SL_OK && s < m && p->scratch[s].partition == it.partition)
      it.committed = p->scratch[s++].next_offset;
    int gone = it.committed >= it.next;
    for (size_t j = 0; j < nonly && !gone; j++)
      gone = only[j] == it.partition;
    if (!gone)
      p->items[w++] = it;
  }
  p->count = w;
  return rc;
}

/* Records of partitions another worker now owns are not ours to process;
 * the rest have their offsets noted for the next checkpoint. */
static void skip_fenced(sl_runtime *rt, sl_batch *b) {
  size_t w = 0;
  for (size_t i = 0; i < b->count; i++) {
    sl_record *r = b->records[i];
    if (sl_record_partition(r) >= 0 &&
        sl_ckpt_fenced(rt->ckpt, sl_record_source_id(r), sl_record_partition(r)))
      continue;
    if (sl_record_partition(r) >= 0)
      sl_ckpt_note(rt->ckpt, sl_record_source_id(r), sl_record_partition(r),
                   sl_record_offset(r) + 1);
    b->records[w++] = r;
  }
  b->count = w;
}

/* Commit offsets of records whose effects the sinks have acknowledged; with
 * state = "redis" first checkpoint state and offsets atomically. */
static int commit_sources(sl_runtime *rt, pending_offsets *pending, int flush_ms, sl_error *err) {
  int rc = flush_sinks(rt, flush_ms, err);
  if (rc == SL_ERR_UNAVAILABLE) {
    /* A sink's destination is down: hold everything, retry shortly. */
    if (!rt->paused)
      sl_log(SL_LOG_ERROR, "runtime", "outputs not acknowledged (%s): processing paused",
             err->message);
    sl_runtime_pause(rt, "outputs not acknowledged", err->message);
    rt->resume_at_ms = sl_runtime_now_ms() + 1000;
    return SL_OK;
  }
  if (rc != SL_OK)
    return rc;
  if (rt->ckpt) {
    int64_t now = sl_runtime_now_ms(), retry_in = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = sl_ckpt_take(rt->ckpt, now, &retry_in, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc == SL_OK) {
      sl_metric_observe(rt->m_checkpoint, secs);
      /* bench/checkpoint_scale.sh reads this per checkpoint (the histogram only sums). */
      sl_log(SL_LOG_DEBUG, "checkpoint", "checkpoint taken in %.1f ms", secs * 1000);
    }
    if (rc == SL_ERR_UNAVAILABLE && sl_ckpt_kafka_failed(rt->ckpt)) {
      /* Redis has the checkpoint; only the group commit to Kafka failed. */
      if (!rt->paused)
        sl_log(SL_LOG_ERROR, "checkpoint",
               "checkpoint written to Redis but offsets not committed to Kafka (%s): processing "
               "paused until the Kafka group coordinator answers",
               err->message);
      sl_runtime_pause(rt, "Kafka unreachable: offsets not committed", err->message);
      rt->resume_at_ms = now + 1000;
      return SL_OK;
    }
    if (rc == SL_ERR_UNAVAILABLE) {
      if (!rt->paused)
        sl_log(SL_LOG_ERROR, "checkpoint",
               "cannot write the checkpoint (%s): processing paused until Redis answers",
               err->message);
      sl_runtime_pause(rt, "Redis unreachable: checkpoint not written", err->message);
      rt->resume_at_ms = now + (retry_in > 0 ? retry_in : 100);
      return SL_OK;
    }
    if (rc == SL_OK && rt->paused) {
      sl_log(SL_LOG_INFO, "checkpoint", "checkpoint written and committed: processing resumed");
      __atomic_store_n(&rt->paused, 0, __ATOMIC_RELAXED);
    }
    if (rc == SL_OK)
      rt->checkpoints++;
    for (size_t i = 0; i < rt->count; i++)
      pending[i].count = 0;
    return rc;
  }
  for (size_t i = 0; i < rt->count; i++) {
    sl_node *n = &rt->nodes[i];
    if (n->kind != SL_NODE_SOURCE || !n->source->commit || pending[i].count == 0)
      continue;
    rc = commit_memory(rt, i, NULL, 0, err);
    if (rc == SL_ERR_UNAVAILABLE) {
      /* The group coordinator is away (broker restart): keep the offsets
       * pending and retry shortly, as when a sink is down. */
      if (!rt->paused)
        sl_log(SL_LOG_ERROR, "runtime",
               "offsets not committed to Kafka (%s): processing paused until the Kafka group "
               "coordinator answers",
               err->message);
      sl_runtime_pause(rt, "Kafka unreachable: offsets not committed", err->message);
      rt->resume_at_ms = sl_runtime_now_ms() + 1000;
      return SL_OK;
    }
    if (rc == SL_ERR_FENCED) {
      /* The group moved on without us (the session timed out while the
       * broker was away): the next assignment resumes from the last
       * committed offsets, so these records are processed again. */
      sl_log(SL_LOG_WARN, "runtime", "%s; records since the last commit will be processed again",
             err->message);
      pending[i].count = 0;
      continue;
    }
    if (rc != SL_OK)
      return rc;
  }
  if (rt->paused)
    sl_log(SL_LOG_INFO, "runtime", "outputs acknowledged: processing resumed");
  __atomic_store_n(&rt->paused, 0, __ATOMIC_RELAXED);
  return SL_OK;
}

int sl_runtime_run(sl_runtime *rt, sl_error *err) {
  int rc = SL_OK;
  size_t nsources = 0;
  pending_offsets *pending = calloc(rt->count ? rt->count : 1, sizeof *pending);
  if (!pending)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  /* Topic tables catch up first (bounded by their `wait`; /readyz says so). */
  if ((rc = sl_tables_wait(rt->tables, &rt->stop, err)) != SL_OK) {
    free(pending);
    return rc;
  }
  sl_batch batch;
  sl_batch_init(&batch, rt->arena);
  rt->pending = pending;
  for (size_t i = 0; i < rt->count; i++) {
    nsources += rt->nodes[i].kind == SL_NODE_SOURCE;
    if (rt->nodes[i].kind == SL_NODE_SOURCE && !rt->ckpt &&
        (rc = find_holders(rt, i, &pending[i])) != SL_OK) {
      rc = sl_error_set(err, rc, "out of memory");
      goto out;
    }
  }
  int64_t last_commit = sl_runtime_now_ms();
  rt->last_tick_ms = last_commit;
  while (!rt->stop) {
    size_t live = 0, got = 0;
    if (rt->paused) {
      /* A dependency is down: keep nothing more in memory, retry. Past the
       * retry budget give up (exit 3) so a supervisor can restart us. */
      if (!rt->paused_since_ms)
        rt->paused_since_ms = sl_runtime_now_ms();
      if (sl_runtime_now_ms() - rt->paused_since_ms > rt->opts.retry_budget_ms) {
        rc = sl_error_set(err, SL_ERR_UNAVAILABLE,
                          "outputs or checkpoints not acknowledged for %lld s (retry budget, "
                          "SLUICE_RETRY_BUDGET): giving up; the next start resumes from the "
                          "last checkpoint",
                          (long long)(rt->opts.retry_budget_ms / 1000));
        goto out;
      }
      int64_t wait = rt->resume_at_ms - sl_runtime_now_ms();
      if (wait > 0) {
        struct timespec ts = {0, (long)(wait > 100 ? 100 : wait) * 1000000L};
        nanosleep(&ts, NULL);
        continue;
      }
      if ((rc = commit_sources(rt, pending, 5000, err)) != SL_OK)
        goto out;
      if (!rt->paused)
        rt->paused_since_ms = 0;
      last_commit = sl_runtime_now_ms();
      continue;
    }
    for (size_t i = 0; i < rt->count && !rt->stop; i++) {
      sl_node *n = &rt->nodes[i];
      if (n->kind != SL_NODE_SOURCE || n->eof)
        continue;
      live++;
      sl_batch_clear(&batch);
      batch.arena = rt->arena;
      int eof = 0;
      rc = n->source->poll(n->source_state, &batch, rt->opts.batch_size, got ? 0 : 50, &eof, err);
      if (rc != SL_OK)
        goto out;
      rt->arrived_us = sl_runtime_mono_us();
      n->eof = eof;
      if (rt->ckpt)
        skip_fenced(rt, &batch);

      if (batch.count) {
        got += batch.count;
        n->emitted += batch.count;
        sl_metric_add(n->m_out, (double)batch.count);
        sl_metric_observe(rt->m_batch, (double)batch.count);
        rt->records_in += batch.count;
        note_offsets(&pending[i], &batch);
        if (n->time_src && !n->op && (rc = sl_runtime_apply_time(rt, n, &batch)) != SL_OK)
          rc = sl_error_set(err, rc, "%s: cannot dead-letter a record without time",
                            n->desc->label);
        if (rc == SL_OK)
          rc = push(rt, n, &batch, err);
        if (rc == SL_OK)
          rc = finish_traversal(rt, err);
        if (rc != SL_OK)
          goto out;
      }
    }
    int64_t now = sl_runtime_now_ms();
    if (!rt->opts.event_time_only && now - rt->last_tick_ms >= 1000) {
      rt->last_tick_ms = now;
      rt->arrived_us = sl_runtime_mono_us();
      if ((rc = fire_timers(rt, SL_WATERMARK_NONE, now, err)) != SL_OK ||
          (rc = finish_traversal(rt, err)) != SL_OK)
        goto out;
    }
    if (now - last_commit >= rt->graph->checkpoint_ms) {
      last_commit = now;
      if ((rc = commit_sources(rt, pending, 5000, err)) != SL_OK)
        goto out;
    }
    if (live == 0 && nsources > 0) {
      /* Every source is finite and drained: fire every open window. */
      sl_log(SL_LOG_INFO, "runtime", "input drained after %llu records; firing open windows",
             (unsigned long long)rt->records_in);
      rt->arrived_us = sl_runtime_mono_us();
      if ((rc = fire_timers(rt, SL_WATERMARK_END, 0, err)) != SL_OK ||
          (rc = finish_traversal(rt, err)) != SL_OK)
        goto out;
      break;
    }
  }
  for (size_t i = 0; i < rt->count; i++)
    if (rt->nodes[i].kind == SL_NODE_SOURCE && rt->nodes[i].source->pause)
      rt->nodes[i].source->pause(rt->nodes[i].source_state);
  /* The final checkpoint; while a sink or Redis is down, retry within the
   * stop budget (SPEC.md section 2: exit within 10 s). */
  int64_t give_up = sl_runtime_now_ms() + 9000;
  rc = commit_sources(rt, pending, 4000, err);
  while (rc == SL_OK && rt->paused && sl_runtime_now_ms() < give_up && rt->stop < 2) {
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    int64_t left = give_up - sl_runtime_now_ms();
    if (sl_runtime_now_ms() >= rt->resume_at_ms && left > 0)
      rc = commit_sources(rt, pending, (int)(left < 4000 ? left : 4000), err);
  }
  if (rc == SL_OK && rt->paused)
    rc = sl_error_set(err, SL_ERR_UNAVAILABLE,
                      "stopped without a final checkpoint: Redis unreachable; the next start "
                      "resumes from the last checkpoint");
out:
  sl_batch_release(&batch);
  for (size_t i = 0; i < rt->count; i++) {
    free(pending[i].items);
    free(pending[i].scratch);
    free(pending[i].holders);
  }
  free(pending);
  rt->pending = NULL;
  return rc;
}
