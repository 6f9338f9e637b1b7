/* SPDX-License-Identifier: Apache-2.0 */
/* Command-line parsing and the run/check/graph/version commands. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/bench.h"
#include "cli/cli.h"
#include "cli/state_start.h"
#include "engine/graph_validate.h"
#include "engine/runtime.h"
#include "gateway/gateway.h"
#include "http/pipeline_api.h"
#include "http/serve.h"
#include "lang/lua_pipeline.h"

static const char usage_text[] =
    "usage: sluice <command> [options]\n"
    "\n"
    "commands:\n"
    "  run FILE.lua [--set KEY=VALUE]... [--api ADDR]   run a pipeline (API and dashboard on\n"
    "                                                   ADDR, default 127.0.0.1:8080; off: none)\n"
    "  run ... --allow-state-loss ID[,ID]...            start although the stored state of these\n"
    "                                                   nodes does not fit: drop exactly that\n"
    "  check FILE.lua [--set KEY=VALUE]... [--state]   validate a pipeline (exit 0 or 1); with\n"
    "                                                   --state, also its stored state in Redis\n"
    "  graph FILE.lua [--set KEY=VALUE]...             print the graph in Graphviz DOT\n"
    "  serve [--api ADDR]                               API and dashboard alone, reading Redis\n"
    "  gateway FILE.lua [--set KEY=VALUE]... [--api ADDR]\n"
    "                                                   device ingest (HTTP, MQTT) into Kafka;\n"
    "                                                   --api overrides the file's listen\n"
    "  gateway --hash-key KEY|-                         digest of an API key for the devices file\n"
    "  bench [--format avro|json] [--keys N] [--records N] [--pipeline FILE]\n"
    "                                                   measure throughput on generated input\n"
    "  state show|reset|drop FILE.lua [ID] [--json] [--yes]\n"
    "                                                   inspect or remove a pipeline's stored\n"
    "                                                   state (reset asks unless --yes)\n"
    "  test FILE.lua CASE_DIR... [--update]             run the pipeline on test cases and\n"
    "                                                   compare its outputs (docs/testing.md)\n"
    "  version                                          print the version\n"
    "\n"
    "options (any command):\n"
    "  --log-format json|text   log lines on stderr (default json)\n"
    "  --log-level debug|info|warn|error\n"
    "  --tls-cert FILE --tls-key FILE   serve the API over HTTPS (run, serve, gateway)\n"
    "  --plugin-dir DIR         sl.plugin may load from DIR (run, check, graph; repeatable)\n"
    "\n"
    "environment: SLUICE_KAFKA_BROKERS (default embedded), SLUICE_REDIS_URL,\n"
    "SLUICE_API_TOKEN, SLUICE_PLUGIN_PATH (plugin directories, DIR:DIR).\n"
    "Exit codes: 0 ok, 1 invalid pipeline or input, 2 usage, 3 runtime failure.\n";

typedef struct cli_args {
  const char *command;
  const char *file;
  const char **sets;
  size_t nsets;
  const char *api;
  const char *tls_cert, *tls_key;
  const char *state_sub, *state_id; /* sluice state SUB FILE [ID] */
  const char **allow;               /* --allow-state-loss ids */
  size_t nallow;
  int yes, json, check_state;
  const char **plugin_dirs; /* --plugin-dir, in order */
  size_t nplugin_dirs;
} cli_args;

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "sluice: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n\n%s", usage_text);
  return SL_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, cli_args *a) {
  memset(a, 0, sizeof *a);
  a->sets = calloc((size_t)argc, sizeof *a->sets);
  a->allow = calloc((size_t)argc, sizeof *a->allow);
  a->plugin_dirs = calloc((size_t)argc, sizeof *a->plugin_dirs);
  if (!a->sets || !a->allow || !a->plugin_dirs)
    return SL_EXIT_RUNTIME;
  int in_allow = 0; /* bare words after the file continue --allow-state-loss */
  sl_log_format format = SL_LOG_JSON;
  sl_log_level level = SL_LOG_INFO;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "--set") == 0 || strcmp(arg, "--api") == 0 ||
        strcmp(arg, "--tls-cert") == 0 || strcmp(arg, "--tls-key") == 0 ||
        strcmp(arg, "--log-format") == 0 || strcmp(arg, "--log-level") == 0 ||
        strcmp(arg, "--plugin-dir") == 0) {
      if (!val)
        return usage_error("option %s needs a value", arg);
      i++;
      if (strcmp(arg, "--set") == 0) {
        if (!strchr(val, '=') || val[0] == '=')
          return usage_error("--set expects KEY=VALUE, got '%s'", val);
        a->sets[a->nsets++] = val;
      } else if (strcmp(arg, "--plugin-dir") == 0) {
        a->plugin_dirs[a->nplugin_dirs++] = val;
      } else if (strcmp(arg, "--api") == 0) {
        a->api = val;
      } else if (strcmp(arg, "--tls-cert") == 0) {
        a->tls_cert = val;
      } else if (strcmp(arg, "--tls-key") == 0) {
        a->tls_key = val;
      } else if (strcmp(arg, "--log-format") == 0) {
        if (strcmp(val, "json") != 0 && strcmp(val, "text") != 0)
          return usage_error("--log-format must be json or text, not '%s'", val);
        format = val[0] == 't' ? SL_LOG_TEXT : SL_LOG_JSON;
      } else {
        level = sl_log_level_parse(val, (sl_log_level)-1);
        if ((int)level < 0)
          return usage_error("--log-level must be debug, info, warn or error, not '%s'", val);
      }
    } else if (strcmp(arg, "--allow-state-loss") == 0) {
      if (!val)
        return usage_error("option %s needs one or more node ids", arg);
      for (char *id = strtok(argv[++i], ","); id; id = strtok(NULL, ","))
        a->allow[a->nallow++] = id;
      in_allow = 1;
      continue;
    } else if (strcmp(arg, "--yes") == 0 || strcmp(arg, "--json") == 0 ||
               strcmp(arg, "--state") == 0) {
      *(arg[2] == 'y' ? &a->yes : arg[2] == 'j' ? &a->json : &a->check_state) = 1;
    } else if (in_allow && a->file && arg[0] != '-') {
      a->allow[a->nallow++] = arg;
      continue;
    } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      a->command = "help";
    } else if (arg[0] == '-' && arg[1] == '-') {
      return usage_error("unknown option '%s'", arg);
    } else if (!a->command) {
      a->command = arg;
    } else if (strcmp(a->command, "state") == 0 && !a->state_sub) {
      a->state_sub = arg;
    } else if (strcmp(a->command, "state") == 0 && a->file && !a->state_id) {
      a->state_id = arg;
    } else if (!a->file) {
      a->file = arg;
    } else {
      return usage_error("unexpected argument '%s'", arg);
    }
    in_allow = 0;
  }
  sl_log_configure(format, level);
  if (!a->tls_cert != !a->tls_key)
    return usage_error("%s", "--tls-cert and --tls-key go together");
  return SL_EXIT_OK;
}

static char *read_file(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return NULL;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (text && fread(text, 1, (size_t)n, fp) != (size_t)n) {
    free(text);
    text = NULL;
  }
  if (text)
    text[n] = '\0';
  fclose(fp);
  return text;
}

static long error_line(const char *e) {
  const char *colon = strchr(e, ':');
  return colon ? strtol(colon + 1, NULL, 10) : 0;
}

/* Stable insertion sort: errors in file order read like a compiler's. */
static void sort_errors_by_line(sl_graph_desc *g) {
  for (size_t i = 1; i < g->nerrors; i++) {
    char *e = g->errors[i];
    size_t j = i;
    while (j > 0 && error_line(g->errors[j - 1]) > error_line(e)) {
      g->errors[j] = g->errors[j - 1];
      j--;
    }
    g->errors[j] = e;
  }
}

/* Load and validate; prints every problem. Returns 0 or an exit code. */
static int load(const cli_args *a, sl_registry **reg, sl_lua **lua, sl_graph_desc **g) {
  sl_error err;
  sl_error_clear(&err);
  *reg = sl_registry_new_builtin(&err);
  if (!*reg) {
    fprintf(stderr, "sluice: %s\n", err.message);
    return SL_EXIT_RUNTIME;
  }
  /* sl.plugin loads only from the directories allowed here (SPEC section 9). */
  const char *path = getenv("SLUICE_PLUGIN_PATH");
  if (path && sl_registry_allow_plugin_path(*reg, path, &err) != SL_OK) {
    fprintf(stderr, "sluice: SLUICE_PLUGIN_PATH: %s\n", err.message);
    return SL_EXIT_USAGE;
  }
  for (size_t i = 0; i < a->nplugin_dirs; i++)
    if (sl_registry_allow_plugin_dir(*reg, a->plugin_dirs[i], &err) != SL_OK) {
      fprintf(stderr, "sluice: --plugin-dir: %s\n", err.message);
      return SL_EXIT_USAGE;
    }
  *g = sl_lua_load_pipeline(a->file, a->sets, a->nsets, *reg, lua, &err);
  if (!*g) {
    fprintf(stderr, "%s\n", err.message);
    return err.code == SL_ERR_NOT_FOUND ? SL_EXIT_INVALID : SL_EXIT_RUNTIME;
  }
  /* Validate even after a Lua error so that one run reports every problem. */
  char *text = read_file(a->file);
  sl_graph_validate(*g, *reg, text);
  free(text);
  sort_errors_by_line(*g);
  for (size_t i = 0; i < (*g)->nwarnings; i++) {
    if (strcmp(a->command, "run") == 0) /* run's stderr is the structured log */
      sl_log(SL_LOG_WARN, "pipeline", "%s", (*g)->warnings[i]);
    else
      fprintf(stderr, "%s\n", (*g)->warnings[i]);
  }
  for (size_t i = 0; i < (*g)->nerrors; i++)
    fprintf(stderr, "%s\n", (*g)->errors[i]);
  if ((*g)->nerrors == 0 && sl_lua_check_params(*lua, &err) != SL_OK) {
    fprintf(stderr, "sluice: %s\n", err.message);
    return SL_EXIT_INVALID;
  }
  return (*g)->nerrors ? SL_EXIT_INVALID : SL_EXIT_OK;
}

static void unload(sl_registry *reg, sl_lua *lua, sl_graph_desc *g) {
  sl_graph_desc_free(g); /* configs hold Lua refs: free before the Lua state */
  sl_lua_close(lua);
  sl_registry_free(reg);
}

static sl_runtime *volatile running;

static void on_signal(int sig) {
  (void)sig;
  sl_runtime *rt = running;
  if (rt)
    sl_runtime_stop(rt);
}

static int cmd_run(const cli_args *a) {
  sl_registry *reg = NULL;
  sl_lua *lua = NULL;
  sl_graph_desc *g = NULL;
  int code = load(a, &reg, &lua, &g);
  if (code != SL_EXIT_OK)
    goto out;
  sl_error err;
  sl_error_clear(&err);
  sl_graph_attach_alert_stores(g);
  sl_runtime_options opts = {0};
  opts.api_addr = a->api;
  const char *redis = getenv("SLUICE_REDIS_URL");
  opts.redis_url = redis && *redis ? redis : "redis://127.0.0.1:6379";
  if (strcmp(g->state, "redis") == 0) {
    /* Before any worker touches state: refuse a pipeline its stored state
     * does not fit (SPEC section 7, "Upgrades"). */
    code = sl_state_check(g, reg, sl_config_string(g->pipeline, "redis", opts.redis_url), a->allow,
                          a->nallow, 1, 60000);
    if (code != SL_EXIT_OK)
      goto out;
  } else if (a->nallow) {
    sl_log(SL_LOG_WARN, "state", "--allow-state-loss ignored: pipeline '%s' keeps state in memory",
           g->name);
  }
  const char *budget = getenv("SLUICE_RETRY_BUDGET");
  if (budget && *budget && sl_parse_duration(budget, &opts.retry_budget_ms, &err) != SL_OK) {
    fprintf(stderr, "sluice: SLUICE_RETRY_BUDGET: %s\n", err.message);
    code = SL_EXIT_USAGE;
    goto out;
  }
  sl_runtime *rt = sl_runtime_new(g, reg, &opts, &err);
  if (!rt) {
    fprintf(stderr, "%s\n", err.message);
    code = err.code == SL_ERR_IO || err.code == SL_ERR_INVALID || err.code == SL_ERR_PARSE
               ? SL_EXIT_INVALID
               : SL_EXIT_RUNTIME;
    goto out;
  }
  sl_pipeline_api *api = NULL;
  if (!a->api || strcmp(a->api, "off") != 0) {
    sl_api_options ao = {a->api ? a->api : "127.0.0.1:8080", a->tls_cert, a->tls_key,
                         opts.redis_url};
    api = sl_pipeline_api_start(g, rt, &ao, &err);
    if (!api && a->api) {
      /* An address the user asked for must work. */
      fprintf(stderr, "sluice: --api %s: %s\n", a->api, err.message);
      sl_runtime_free(rt);
      code = SL_EXIT_RUNTIME;
      goto out;
    }
    if (!api)
      sl_log(SL_LOG_WARN, "api", "no API and dashboard: %s (use --api ADDR)", err.message);
  }
  running = rt;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  sl_log(SL_LOG_INFO, "runtime", "pipeline '%s' running (%zu nodes, state %s)", g->name,
         sl_graph_declared_count(g), g->state);
  int rc = sl_runtime_run(rt, &err);
  running = NULL;
  if (rc != SL_OK) {
    sl_log(SL_LOG_ERROR, "runtime", "pipeline '%s' failed: %s", g->name, err.message);
    code = rc == SL_ERR_IO || rc == SL_ERR_INVALID ? SL_EXIT_INVALID : SL_EXIT_RUNTIME;
  } else {
    sl_log(SL_LOG_INFO, "runtime", "pipeline '%s' finished: %llu records in, %llu dead letters",
           g->name, (unsigned long long)sl_runtime_records_in(rt),
           (unsigned long long)sl_runtime_dead_letters(rt));
  }
  sl_pipeline_api_stop(api);
  sl_runtime_free(rt);
out:
  unload(reg, lua, g);
  return code;
}

static const char *redis_url_of(const sl_graph_desc *g) {
  const char *env = getenv("SLUICE_REDIS_URL");
  return sl_config_string(g->pipeline, "redis",
                          env && *env ? env : "redis://127.0.0.1:6379");
}

static int cmd_state(const cli_args *a) {
  sl_registry *reg = NULL;
  sl_lua *lua = NULL;
  sl_graph_desc *g = NULL;
  int code = load(a, &reg, &lua, &g);
  if (code == SL_EXIT_OK && strcmp(g->state, "redis") != 0) {
    fprintf(stderr, "sluice: pipeline '%s' keeps its state in memory (state = \"%s\"): nothing "
                    "is stored\n", g->name, g->state);
    code = SL_EXIT_INVALID;
  } else if (code == SL_EXIT_OK) {
    sl_graph_attach_alert_stores(g);
    code = sl_state_command(a->state_sub, g, reg, redis_url_of(g), a->state_id, a->yes, a->json);
  }
  unload(reg, lua, g);
  return code;
}

static int cmd_check_or_graph(const cli_args *a, int graph) {
  sl_registry *reg = NULL;
  sl_lua *lua = NULL;
  sl_graph_desc *g = NULL;
  int code = load(a, &reg, &lua, &g);
  if (code == SL_EXIT_OK && graph) {
    sl_buf out = SL_BUF_INIT;
    sl_graph_dot(g, &out);
    fwrite(out.data, 1, out.len, stdout);
    sl_buf_free(&out);
  } else if (code == SL_EXIT_OK) {
    printf("%s: ok (pipeline '%s', %zu nodes)\n", a->file, g->name, sl_graph_declared_count(g));
    if (a->check_state && strcmp(g->state, "redis") != 0)
      printf("%s: no stored state to check (state = \"%s\")\n", a->file, g->state);
    else if (a->check_state)
      code = sl_state_check(g, reg, redis_url_of(g), a->allow, a->nallow, 0, 0);
  }
  unload(reg, lua, g);
  return code;
}

int sl_cli_main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "bench") == 0)
    return sl_bench_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], "test") == 0)
    return sl_test_main(argc, argv);
  if (argc > 2 && strcmp(argv[1], "gateway") == 0 && strcmp(argv[2], "--hash-key") == 0)
    return sl_gateway_hash_main(argc, argv);
  cli_args a;
  int code = parse_args(argc, argv, &a);
  if (code != SL_EXIT_OK)
    goto out;
  if (!a.command || strcmp(a.command, "help") == 0) {
    fputs(usage_text, a.command ? stdout : stderr);
    code = a.command ? SL_EXIT_OK : SL_EXIT_USAGE;
  } else if (strcmp(a.command, "serve") == 0) {
    code = a.file ? usage_error("serve takes no file, got '%s'", a.file)
                  : sl_serve_main(a.api, a.tls_cert, a.tls_key);
  } else if (strcmp(a.command, "version") == 0) {
    printf("sluice %s (operator ABI %u)\n", SLUICE_VERSION, SL_OPERATOR_ABI_VERSION);
  } else if (strcmp(a.command, "run") == 0 || strcmp(a.command, "check") == 0 ||
             strcmp(a.command, "graph") == 0) {
    if (!a.file)
      code = usage_error("%s needs a pipeline file", a.command);
    else if (a.command[0] == 'r')
      code = cmd_run(&a);
    else
      code = cmd_check_or_graph(&a, a.command[0] == 'g');
  } else if (strcmp(a.command, "state") == 0) {
    code = a.file ? cmd_state(&a)
                  : usage_error("%s", "state needs a command and a pipeline file: sluice state "
                                      "show|reset|drop FILE.lua [ID] [--json] [--yes]");
  } else if (strcmp(a.command, "gateway") == 0) {
    code = a.file ? sl_gateway_main(a.file, a.sets, a.nsets, a.api, a.tls_cert, a.tls_key)
                  : usage_error("%s", "gateway needs a gateway file (docs/gateway.md)");
  } else {
    code = usage_error("unknown command '%s'", a.command);
  }
out:
  free(a.sets);
  free(a.allow);
  free(a.plugin_dirs);
  return code;
}
