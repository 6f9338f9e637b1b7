/* SPDX-License-Identifier: Apache-2.0 */
/* p:table{} declarations and their validation (`sluice check`): options,
 * unique ids, exactly one of path and topic, and the tables that `enrich`
 * steps refer to. Opening a table is the loaders' job (connectors/tables.c). */
#include "lang/table_decl.h"

#include <stdlib.h>
#include <string.h>

const sl_config_entry sl_table_config[] = {
    {"id", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "the table's name, used by enrich{table = ...}"},
    {"key", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "field of each entry holding its key"},
    {"topic", SL_CFG_STRING, 0, NULL, "compacted Kafka topic read in full (or path)"},
    {"path", SL_CFG_STRING, 0, NULL, "JSON Lines file, reloaded when it changes (or topic)"},
    {"format", SL_CFG_STRING, 0, "json", "topic values: \"json\" or \"avro\""},
    {"schema", SL_CFG_STRING, 0, NULL, "Avro schema file (.avsc), relative to the pipeline file"},
    {"registry", SL_CFG_STRING, 0, NULL, "Confluent schema-registry URL (Avro wire format)"},
    {"max_entries", SL_CFG_INT, 0, "1000000", "most keys held; past it the load fails"},
    {"wait", SL_CFG_DURATION, 0, "60s", "topic: how long start-up waits to catch up"},
    {"reload", SL_CFG_DURATION, 0, "1s", "path: how often the file is checked for changes"},
    {NULL, 0, 0, NULL, NULL},
};

static const sl_operator_desc table_desc = {.name = "table", .config = sl_table_config};

void sl_graph_add_table(sl_graph_desc *g, sl_config *cfg) {
  if (!cfg)
    return;
  if (g->ntables == g->captables) {
    size_t ncap = g->captables ? g->captables * 2 : 4;
    sl_config **n = realloc(g->tables, ncap * sizeof *n);
    if (!n) {
      sl_config_destroy(cfg);
      return;
    }
    g->tables = n;
    g->captables = ncap;
  }
  g->tables[g->ntables++] = cfg;
}

void sl_table_decls_free(sl_graph_desc *g) {
  for (size_t i = 0; i < g->ntables; i++)
    sl_config_destroy(g->tables[i]);
  free(g->tables);
  g->tables = NULL;
  g->ntables = g->captables = 0;
}

static void on_problem(void *ud, const sl_config *c, const char *msg) {
  sl_graph_error(ud, sl_config_line(c), "%s", msg);
}

static int declared(const sl_graph_desc *g, const char *id, size_t before) {
  for (size_t i = 0; i < before; i++)
    if (strcmp(sl_config_string(g->tables[i], "id", ""), id) == 0)
      return 1;
  return 0;
}

static void check_decl(sl_graph_desc *g, size_t i) {
  const sl_config *c = g->tables[i];
  int line = sl_config_line(c);
  if (sl_config_validate(c, &table_desc, on_problem, g) > 0)
    return;
  const char *id = sl_config_string(c, "id", "");
  if (!*id)
    sl_graph_error(g, line, "table: id must not be empty");
  else if (declared(g, id, i))
    sl_graph_error(g, line, "table: id '%s' is declared twice", id);
  int has_path = sl_config_has(c, "path"), has_topic = sl_config_has(c, "topic");
  if (has_path == has_topic)
    sl_graph_error(g, line, "table '%s' needs exactly one of path = FILE or topic = NAME", id);
  const char *fmt = sl_config_string(c, "format", "json");
  if (strcmp(fmt, "json") != 0 && strcmp(fmt, "avro") != 0)
    sl_graph_error(g, line, "table '%s': format must be \"json\" or \"avro\", not \"%s\"", id, fmt);
  if (has_path && (strcmp(fmt, "json") != 0 || sl_config_has(c, "registry")))
    sl_graph_error(g, line, "table '%s': a path table is JSON Lines (no format/registry)", id);
  if (sl_config_int(c, "max_entries", 1) < 1)
    sl_graph_error(g, line, "table '%s': max_entries must be at least 1", id);
  if (sl_config_duration_ms(c, "wait", 1) < 0 || sl_config_duration_ms(c, "reload", 1) <= 0)
    sl_graph_error(g, line, "table '%s': wait and reload must be positive durations", id);
}

void sl_table_decls_validate(sl_graph_desc *g) {
  for (size_t i = 0; i < g->ntables; i++)
    check_decl(g, i);
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *n = &g->nodes[i];
    if (strcmp(n->type, "enrich") != 0)
      continue;
    const char *t = sl_config_string(n->config, "table", NULL);
    if (t && !declared(g, t, g->ntables))
      sl_graph_error(g, n->line,
                     "enrich: no table '%s': declare it with p:table{ id = \"%s\", path = ... | "
                     "topic = ..., key = ... }",
                     t, t);
  }
}
