/* SPDX-License-Identifier: Apache-2.0 */
/* The checks that make `sluice check` refuse what `run` would refuse, done
 * offline: the pipeline name, the kafka = {...} properties (judged by
 * librdkafka's own configuration API on a scratch configuration), Redis
 * URLs, each connector's own check() and combinations the runtime cannot
 * honour. Every problem is reported, not only the first of a node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_conf.h"
#include "lang/connector.h"
#include "lang/graph.h"
#include "redis.h"

/* The name goes into Redis keys (sl:<name>:...), node ids and the Kafka
 * consumer group: keep it to characters that are safe in all three. */
#define NAME_MAX_LEN 100

typedef struct report_ctx {
  sl_graph_desc *g;
  int line;
  const char *prefix; /* "" or "SLUICE_REDIS_URL: " */
} report_ctx;

static void on_report(void *ud, int warning, const char *msg) {
  report_ctx *r = ud;
  if (warning)
    sl_graph_warning(r->g, r->line, "%s%s", r->prefix, msg);
  else
    sl_graph_error(r->g, r->line, "%s%s", r->prefix, msg);
}

static void check_name(sl_graph_desc *g) {
  const char *name = g->name ? g->name : "";
  size_t n = strlen(name), ok = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                             "0123456789._-");
  if (n >= 1 && n <= NAME_MAX_LEN && ok == n)
    return;
  int from_file = !sl_config_has(g->pipeline, "name");
  sl_graph_error(g, g->pipeline_line ? g->pipeline_line : 1,
                 "pipeline name '%s'%s is not valid: it names the consumer group and the Redis "
                 "keys, so use 1 to %d of A-Z a-z 0-9 . _ -%s",
                 name, from_file ? " (taken from the file name)" : "", NAME_MAX_LEN,
                 from_file ? " (or set name = \"...\" in sl.pipeline{})" : "");
}

static void check_redis_url(sl_graph_desc *g) {
  if (!sl_graph_uses_redis(g))
    return;
  const char *env = getenv("SLUICE_REDIS_URL");
  const char *url = sl_config_string(g->pipeline, "redis", NULL);
  report_ctx r = {g, g->pipeline_line, url ? "redis: " : "SLUICE_REDIS_URL: "};
  if (!url)
    url = env && *env ? env : "redis://127.0.0.1:6379";
  sl_redis_url parsed;
  sl_error err;
  sl_error_clear(&err);
  if (sl_redis_url_parse(url, &parsed, &err) != SL_OK)
    on_report(&r, 0, err.message);
}

/* A file is read from its first line at every start: with checkpointed
 * state a restart would count what it read before twice. */
static void check_finite_sources(sl_graph_desc *g) {
  if (!g->state || strcmp(g->state, "redis") != 0)
    return;
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *n = &g->nodes[i];
    if (n->kind == SL_NODE_SOURCE &&
        (strcmp(n->type, "file_source") == 0 || strcmp(n->type, "stdin_source") == 0))
      sl_graph_error(g, n->line,
                     "%s cannot resume from a checkpoint: with state = \"redis\" a restart would "
                     "read it again from the start and count its records twice; use state = "
                     "\"memory\", or a kafka_source",
                     n->type);
  }
}

static int uses_kafka(const sl_graph_desc *g) {
  for (size_t i = 0; i < g->count; i++)
    if (strncmp(g->nodes[i].type, "kafka_", 6) == 0)
      return 1;
  return 0;
}

/* The embedded broker lives in the process: its topics and offsets are
 * gone after a restart, so checkpointed state has nothing to resume from. */
static void check_embedded_with_redis(sl_graph_desc *g) {
  if (!g->state || strcmp(g->state, "redis") != 0)
    return;
  int kafka = uses_kafka(g);
  const sl_config *t = sl_config_table(g->pipeline, "kafka");
  const char *brokers = sl_config_string(t, "bootstrap.servers", NULL);
  if (!brokers)
    brokers = sl_config_string(t, "metadata.broker.list", NULL);
  if (!brokers)
    brokers = getenv("SLUICE_KAFKA_BOOTSTRAP_SERVERS");
  if (!brokers)
    brokers = getenv("SLUICE_KAFKA_BROKERS");
  if (kafka && (!brokers || !*brokers || strcmp(brokers, "embedded") == 0))
    sl_graph_warning(g, g->pipeline_line,
                     "state = \"redis\" with the embedded Kafka broker: a restart cannot resume, "
                     "because the in-process broker forgets its topics and offsets when sluice "
                     "exits; set SLUICE_KAFKA_BROKERS to a real cluster to keep state across "
                     "restarts");
}

void sl_graph_check_connectors(sl_graph_desc *g, const sl_registry *reg) {
  if (!g->pipeline)
    return; /* reported once by sl_graph_validate */
  check_name(g);
  report_ctx pr = {g, g->pipeline_line, ""};
  /* The environment matters only to a pipeline with Kafka clients. */
  sl_kafka_conf_check(sl_config_table(g->pipeline, "kafka"), uses_kafka(g), on_report, &pr);
  check_redis_url(g);
  check_finite_sources(g);
  check_embedded_with_redis(g);
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *n = &g->nodes[i];
    void (*check)(const sl_config *, sl_check_report, void *) = NULL;
    if (n->kind == SL_NODE_SOURCE) {
      const sl_source_desc *d = sl_registry_source(reg, n->type);
      check = d ? d->check : NULL;
    } else if (n->kind == SL_NODE_SINK) {
      /* A dead letter with a path is written by the file sink. */
      int dl_file = strcmp(n->type, "dead_letter") == 0 && sl_config_has(n->config, "path");
      const sl_sink_desc *d = sl_registry_sink(reg, dl_file ? "file_sink" : n->type);
      check = d ? d->check : NULL;
    }
    report_ctx r = {g, n->line, ""};
    if (check)
      check(n->config, on_report, &r);
  }
}
