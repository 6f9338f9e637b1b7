/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice bench`: the reference pipeline (decode -> filter -> 10 s tumbling
 * window by machine -> count/avg/max/p95) over readings encoded in memory
 * before the clock starts, so the figure is the pipeline's cost alone. Any
 * pipeline file can be measured too: its sources are replaced by the same
 * generated input and its sinks by null sinks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/exit_code.h"
#include "base/log.h"
#include "cli/bench.h"
#include "engine/graph_validate.h"
#include "engine/runtime_internal.h"
#include "lang/connector.h"
#include "lang/lua_pipeline.h"

extern const char sl_simulator_schema[];
uint64_t sl_null_sink_count(void *state);

typedef struct bench_opts {
  const char *format; /* NULL until given or taken from the pipeline's decode */
  long long keys, records;
  const char *pipeline;
} bench_opts;

static int parse(int argc, char **argv, bench_opts *o) {
  o->format = NULL;
  o->keys = 10000;
  o->records = 2000000;
  o->pipeline = NULL;
  for (int i = 2; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "sluice bench: option %s needs a value\n", argv[i]);
      return SL_EXIT_USAGE;
    }
    if (strcmp(argv[i], "--format") == 0 && (strcmp(v, "avro") == 0 || strcmp(v, "json") == 0))
      o->format = v;
    else if (strcmp(argv[i], "--keys") == 0 && atoll(v) > 0)
      o->keys = atoll(v);
    else if (strcmp(argv[i], "--records") == 0 && atoll(v) > 0)
      o->records = atoll(v);
    else if (strcmp(argv[i], "--pipeline") == 0)
      o->pipeline = v;
    else {
      fprintf(stderr,
              "sluice bench: bad option '%s %s'\nusage: sluice bench [--format avro|json] "
              "[--keys N] [--records N] [--pipeline FILE]\n",
              argv[i], v);
      return SL_EXIT_USAGE;
    }
    i++;
  }
  return SL_EXIT_OK;
}

/* Write the reference pipeline and the reading schema into `dir`. */
static int write_reference(const char *dir, const bench_opts *o, char *path, size_t n) {
  char schema[512];
  snprintf(schema, sizeof schema, "%s/reading.avsc", dir);
  FILE *fp = fopen(schema, "w");
  if (!fp)
    return -1;
  fputs(sl_simulator_schema, fp);
  fclose(fp);
  snprintf(path, n, "%s/reference.lua", dir);
  fp = fopen(path, "w");
  if (!fp)
    return -1;
  fprintf(fp,
          "local sl = require \"sluice\"\n"
          "local p = sl.pipeline { name = \"bench\" }\n"
          "p:simulator { machines = %lld, records = %lld, rate = 0, format = \"%s\", faults = false }\n"
          "  :decode { format = \"%s\"%s }\n"
          "  :filter \"temperature between -40 and 150\"\n"
          "  :window { tumbling = \"10s\", key = \"machine_id\", time = \"ts\" }\n"
          "  :aggregate { n = \"count()\", avg_temperature = \"avg(temperature)\",\n"
          "               max_temperature = \"max(temperature)\", p95_temperature = \"p95(temperature)\" }\n"
          "  :null_sink {}\n",
          o->keys, o->records, o->format, o->format,
          strcmp(o->format, "avro") == 0 ? ", schema = \"reading.avsc\"" : "");
  fclose(fp);
  return 0;
}

/* The generated input must be in the format the pipeline decodes, else every
 * record would go to the dead letters and the figure would measure nothing. */
static const char *pipeline_format(const sl_graph_desc *g) {
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *n = &g->nodes[i];
    if (n->kind == SL_NODE_OPERATOR && strcmp(n->type, "decode") == 0) {
      const char *f = sl_config_string(n->config, "format", "json");
      return strcmp(f, "avro") == 0 ? "avro" : "json";
    }
  }
  return "avro";
}

/* Generated input in place of every source, null sinks in place of sinks,
 * and in-memory state: the figure is the pipeline's own cost, with no
 * Kafka, Redis or disk in the loop. Returns -1 when out of memory (a node
 * would be left without type or config). */
static int rebind(sl_graph_desc *g, const sl_registry *reg, const bench_opts *o) {
  char *state = strdup("memory");
  if (!state)
    return -1;
  free(g->state);
  g->state = state;
  for (size_t i = 0; i < g->count; i++) {
    sl_node_desc *n = &g->nodes[i];
    const char *file = sl_config_file(n->config);
    int line = n->line;
    sl_config *c = NULL;
    const char *type = NULL;
    if (n->kind == SL_NODE_SOURCE) {
      const sl_source_desc *d = sl_registry_source(reg, n->type);
      if (!(c = sl_config_new(file, line)))
        return -1;
      sl_config_put_number(c, "machines", (double)o->keys);
      sl_config_put_number(c, "records", (double)o->records);
      sl_config_put_number(c, "rate", 0);
      sl_config_put_string(c, "format", o->format);
      sl_config_put_bool(c, "faults", 0);
      sl_config_put_bool(c, "decode", d && (d->flags & SL_SOURCE_DECODES));
      type = "simulator";
    } else if (n->kind == SL_NODE_SINK && strcmp(n->type, "dead_letter") == 0) {
      if (!(c = sl_config_new(file, line)))
        return -1;
      sl_config_put_string(c, "path", "/dev/null");
      type = "dead_letter";
    } else if (n->kind == SL_NODE_SINK) {
      c = sl_config_new(file, line);
      type = "null_sink";
    } else {
      continue;
    }
    char *t = strdup(type);
    if (!c || !t) {
      sl_config_destroy(c);
      free(t);
      return -1;
    }
    sl_config_destroy(n->config);
    n->config = c;
    free(n->type);
    n->type = t;
  }
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double rss_mb(void) {
  long pages = 0, resident = 0;
  FILE *fp = fopen("/proc/self/statm", "r");
  if (fp) {
    if (fscanf(fp, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    fclose(fp);
  }
  return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

int sl_bench_main(int argc, char **argv) {
  bench_opts o;
  int code = parse(argc, argv, &o);
  if (code != SL_EXIT_OK)
    return code;
  sl_log_configure(SL_LOG_JSON, SL_LOG_WARN);
  char dir[] = "/tmp/sluice-bench-XXXXXX", path[600];
  if (!mkdtemp(dir)) {
    perror("sluice bench: mkdtemp");
    return SL_EXIT_RUNTIME;
  }
  if (o.pipeline) {
    snprintf(path, sizeof path, "%s", o.pipeline);
  } else {
    if (!o.format)
      o.format = "avro";
    if (write_reference(dir, &o, path, sizeof path) != 0) {
      perror("sluice bench: writing the reference pipeline");
      rmdir(dir);
      return SL_EXIT_RUNTIME;
    }
  }
  sl_error err;
  sl_error_clear(&err);
  sl_registry *reg = sl_registry_new_builtin(&err);
  sl_lua *lua = NULL;
  /* A measured pipeline's plugins load from SLUICE_PLUGIN_PATH, as for run. */
  int bad_path =
      reg && sl_registry_allow_plugin_path(reg, getenv("SLUICE_PLUGIN_PATH"), &err) != SL_OK;
  sl_graph_desc *g =
      reg && !bad_path ? sl_lua_load_pipeline(path, NULL, 0, reg, &lua, &err) : NULL;
  sl_runtime *rt = NULL;
  code = SL_EXIT_RUNTIME;
  if (!g) {
    fprintf(stderr, "%s%s\n", bad_path ? "sluice bench: SLUICE_PLUGIN_PATH: " : "", err.message);
    goto out;
  }
  if (!o.format)
    o.format = pipeline_format(g);
  if (rebind(g, reg, &o) != 0) {
    fprintf(stderr, "sluice bench: out of memory\n");
    goto out;
  }
  sl_graph_validate(g, reg, NULL);
  if (g->nerrors) {
    for (size_t i = 0; i < g->nerrors; i++)
      fprintf(stderr, "%s\n", g->errors[i]);
    code = SL_EXIT_INVALID;
    goto out;
  }
  double rss_before = rss_mb();
  rt = sl_runtime_new(g, reg, NULL, &err); /* encodes the input before the clock starts */
  if (!rt) {
    fprintf(stderr, "%s\n", err.message);
    goto out;
  }
  double input_mb = rss_mb() - rss_before;
  double t0 = now_s();
  int rc = sl_runtime_run(rt, &err);
  double secs = now_s() - t0;
  if (rc != SL_OK) {
    fprintf(stderr, "sluice bench: %s\n", err.message);
    goto out;
  }
  uint64_t windows = 0;
  for (size_t i = 0; i < rt->count; i++)
    if (rt->nodes[i].sink && strcmp(rt->nodes[i].desc->type, "null_sink") == 0)
      windows += sl_null_sink_count(rt->nodes[i].sink_state);
  uint64_t records = sl_runtime_records_in(rt);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"records\":%llu,\"seconds\":%.4f,\"records_per_sec\":%.0f,\"ns_per_record\":%.1f,"
         "\"rss_mb\":%.1f,\"peak_rss_mb\":%.1f,\"input_mb\":%.1f,\"windows\":%llu,"
         "\"format\":\"%s\",\"keys\":%lld}\n",
         (unsigned long long)records, secs, records / secs, secs * 1e9 / (double)records,
         rss_mb(), (double)ru.ru_maxrss / 1024.0, input_mb, (unsigned long long)windows,
         o.format, o.keys);
  code = SL_EXIT_OK;
out:
  sl_runtime_free(rt);
  sl_graph_desc_free(g);
  sl_lua_close(lua);
  sl_registry_free(reg);
  if (!o.pipeline) {
    char f[700];
    snprintf(f, sizeof f, "%s/reference.lua", dir);
    unlink(f);
    snprintf(f, sizeof f, "%s/reading.avsc", dir);
    unlink(f);
  }
  rmdir(dir);
  return code;
}
