/* SPDX-License-Identifier: Apache-2.0 */
/* Glue between a running pipeline and the HTTP server thread. The graph is
 * immutable once running; the status is read from the runtime's flags, so
 * the server thread never takes a lock the pipeline holds. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "codec/json_codec.h"
#include "engine/runtime_internal.h"
#include "http/pipeline_api.h"
#include "redis.h"
#include "state/table_store.h"
#include "tables.h"

struct sl_pipeline_api {
  const sl_graph_desc *graph;
  sl_runtime *rt;
  sl_http_server *server;
  const char *names[1];
  char *redis_url;        /* NULL: the pipeline does not use Redis */
  pthread_t announcer;    /* writes the pipelines document to Redis */
  int announcing;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  int stopping;
};

static const char *status_of(const sl_runtime *rt) {
  if (__atomic_load_n(&rt->stop, __ATOMIC_RELAXED))
    return "stopping";
  return __atomic_load_n(&rt->paused, __ATOMIC_RELAXED) ? "paused" : "running";
}

static void json_str(sl_buf *out, const char *s) { sl_buf_json_string(out, s, strlen(s)); }

int sl_pipeline_json(const sl_graph_desc *g, const char *status, sl_buf *out) {
  sl_buf_puts(out, "{\"name\":");
  json_str(out, g->name);
  sl_buf_puts(out, ",\"status\":");
  json_str(out, status);
  sl_buf_puts(out, ",\"state\":");
  json_str(out, g->state);
  sl_buf_puts(out, ",\"file\":");
  json_str(out, g->file);
  sl_buf_puts(out, ",\"nodes\":[");
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *n = &g->nodes[i];
    sl_buf_printf(out, "%s{\"id\":%d,\"kind\":\"%s\",\"type\":", i ? "," : "", n->id,
                  n->kind == SL_NODE_SOURCE ? "source" : n->kind == SL_NODE_SINK ? "sink" : "operator");
    json_str(out, n->type);
    sl_buf_puts(out, ",\"label\":");
    json_str(out, n->label);
    sl_buf_printf(out, ",\"line\":%d}", n->line);
  }
  sl_buf_puts(out, "],\"edges\":[");
  int first = 1;
  for (size_t i = 0; i < g->count; i++)
    if (g->nodes[i].parent >= 0) {
      sl_buf_printf(out, "%s{\"from\":%d,\"to\":%d}", first ? "" : ",", g->nodes[i].parent,
                    g->nodes[i].id);
      first = 0;
    }
  sl_buf_puts(out, "],\"caches\":[");
  first = 1;
  for (size_t i = 0; i < g->count; i++)
    if (strcmp(g->nodes[i].type, "cache") == 0) {
      const char *name = sl_config_string(g->nodes[i].config, "name", NULL);
      if (!name)
        continue;
      sl_buf_puts(out, first ? "" : ",");
      json_str(out, name);
      first = 0;
    }
  sl_buf_puts(out, "],\"units\":{");
  const sl_config *units = sl_config_table(g->pipeline, "units");
  for (size_t i = 0; i < sl_config_count(units); i++) {
    const char *k = sl_config_key_at(units, i);
    sl_buf_puts(out, i ? "," : "");
    json_str(out, k);
    sl_buf_putc(out, ':');
    json_str(out, sl_config_string(units, k, ""));
  }
  return sl_buf_puts(out, "}}");
}

static int api_pipelines(void *ud, sl_buf *out) {
  sl_pipeline_api *api = ud;
  sl_buf_puts(out, "{\"pipelines\":[");
  sl_pipeline_json(api->graph, status_of(api->rt), out);
  return sl_buf_puts(out, "]}");
}

/* Ready (SPEC.md section 8): sources assigned, nothing paused. A pipeline
 * with a Kafka source is ready once its group handed it an assignment. */
static const char *api_not_ready(void *ud, char *buf, size_t cap) {
  sl_pipeline_api *api = ud;
  /* A topic table still catching up keeps the worker not ready, and says so. */
  if (!sl_tables_ready(api->rt->tables, buf, cap))
    return buf;
  int needs_assignment = 0;
  for (size_t i = 0; i < api->graph->count; i++)
    needs_assignment |= strcmp(api->graph->nodes[i].type, "kafka_source") == 0;
  return sl_runtime_not_ready(api->rt, needs_assignment, buf, cap);
}

static int api_table_entry(void *ud, const char *table, const char *key, sl_buf *out) {
  (void)ud;
  sl_table_snap *snap = sl_table_acquire_id(table);
  if (!snap)
    return SL_ERR_NOT_FOUND;
  const sl_record *r = sl_table_snap_get(snap, key, strlen(key));
  sl_error err;
  int rc = r ? sl_json_encode(r, out, &err) : SL_ERR_NOT_FOUND;
  sl_table_snap_release(snap);
  return rc;
}

static int api_ready(void *ud) {
  char buf[8];
  return api_not_ready(ud, buf, sizeof buf) == NULL;
}

/* Every 5 s, the document into `sl:pipelines` for `sluice serve`. Its own
 * connection and thread: the pipeline never waits for it. */
static void *announce_loop(void *ud) {
  sl_pipeline_api *api = ud;
  sl_error err;
  sl_redis *r = sl_redis_new(api->redis_url, NULL, &err);
  pthread_mutex_lock(&api->lock);
  while (r && !api->stopping) {
    pthread_mutex_unlock(&api->lock);
    int64_t retry_in;
    sl_buf doc = SL_BUF_INIT;
    sl_pipeline_json(api->graph, status_of(api->rt), &doc);
    sl_buf_printf(&doc, "%s", ""); /* keeps doc.data non-NULL */
    /* Stamp the time so readers can tell a stopped worker. */
    if (doc.len && doc.data[doc.len - 1] == '}') {
      doc.len--;
      sl_buf_printf(&doc, ",\"updated_ms\":%lld}", (long long)sl_runtime_now_ms());
    }
    if (sl_redis_ensure(r, sl_runtime_now_ms(), &retry_in, &err) == SL_OK)
      sl_pipelines_announce(r, api->graph->name, doc.data, &err);
    sl_buf_free(&doc);
    pthread_mutex_lock(&api->lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    if (!api->stopping)
      pthread_cond_timedwait(&api->wake, &api->lock, &until);
  }
  pthread_mutex_unlock(&api->lock);
  sl_redis_free(r);
  return NULL;
}

sl_pipeline_api *sl_pipeline_api_start(const sl_graph_desc *g, sl_runtime *rt,
                                       const sl_api_options *o, sl_error *err) {
  sl_pipeline_api *api = calloc(1, sizeof *api);
  if (!api) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  api->graph = g;
  api->rt = rt;
  api->names[0] = g->name;
  sl_http_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.listen = o->listen;
  cfg.tls_cert = o->tls_cert;
  cfg.tls_key = o->tls_key;
  cfg.redis_url = sl_config_string(g->pipeline, "redis", o->redis_url);
  cfg.pipelines = api->names;
  cfg.npipelines = 1;
  cfg.serve_mode = sl_graph_uses_redis(g) || sl_config_has(g->pipeline, "redis");
  cfg.ready = api_ready;
  cfg.not_ready = api_not_ready;
  cfg.pipelines_json = api_pipelines;
  cfg.table_entry = api_table_entry;
  cfg.ud = api;
  pthread_mutex_init(&api->lock, NULL);
  pthread_cond_init(&api->wake, NULL);
  api->server = sl_http_start(&cfg, err);
  if (!api->server) {
    sl_pipeline_api_stop(api);
    return NULL;
  }
  if (cfg.serve_mode && cfg.redis_url && (api->redis_url = strdup(cfg.redis_url)))
    api->announcing = pthread_create(&api->announcer, NULL, announce_loop, api) == 0;
  const char *listen = o->listen ? o->listen : "127.0.0.1:8080";
  const char *colon = strrchr(listen, ':');
  int hostlen = colon ? (int)(colon - listen) : (int)strlen(listen);
  sl_log(SL_LOG_INFO, "api", "dashboard and API on %s://%.*s:%d/", o->tls_cert ? "https" : "http",
         hostlen, listen, sl_http_port(api->server));
  return api;
}

void sl_pipeline_api_stop(sl_pipeline_api *api) {
  if (!api)
    return;
  if (api->announcing) {
    pthread_mutex_lock(&api->lock);
    api->stopping = 1;
    pthread_cond_signal(&api->wake);
    pthread_mutex_unlock(&api->lock);
    pthread_join(api->announcer, NULL);
  }
  if (api->server)
    sl_http_stop(api->server);
  pthread_mutex_destroy(&api->lock);
  pthread_cond_destroy(&api->wake);
  free(api->redis_url);
  free(api);
}
