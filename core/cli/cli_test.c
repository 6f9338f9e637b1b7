/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice test PIPELINE.lua CASE_DIR... [--update]` (docs/testing.md): per
 * case, load the pipeline with the case's params, run it on the case's
 * input (test_case.c) and compare every sink with expect/<id>.jsonl
 * (test_compare.c), or write those files with --update. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "cli/cli.h"
#include "cli/test_case.h"
#include "engine/graph_validate.h"
#include "lang/lua_pipeline.h"

static const char test_usage[] =
    "usage: sluice test PIPELINE.lua CASE_DIR... [--update] [--log-level LEVEL]\n"
    "  runs the pipeline on each case's input/<source-id>.jsonl and compares every sink\n"
    "  with expect/<sink-id>.jsonl; --update writes the expectations instead\n"
    "  (docs/testing.md). Exit 0: every case passed; 1: a case failed or is invalid;\n"
    "  2: usage.\n";

typedef struct params {
  char **items; /* "name=value", owned */
  size_t count;
} params;

static void params_free(params *p) {
  for (size_t i = 0; i < p->count; i++)
    free(p->items[i]);
  free(p->items);
}

static int params_add(params *p, const char *name, const char *value) {
  char **g = realloc(p->items, (p->count + 1) * sizeof *g);
  if (!g)
    return -1;
  p->items = g;
  size_t n = strlen(name) + strlen(value) + 2;
  if (!(g[p->count] = malloc(n)))
    return -1;
  snprintf(g[p->count++], n, "%s=%s", name, value);
  return 0;
}

/* set.json: {"machines": 3, "alert": {"limit": 90}} is --set machines=3
 * --set alert.limit=90. */
static int flatten(params *p, const char *prefix, json_t *o, const char *path) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    char name[512], num[64];
    snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", k);
    const char *text = NULL;
    if (json_is_object(v)) {
      if (flatten(p, name, v, path) != 0)
        return -1;
      continue;
    } else if (json_is_string(v)) {
      text = json_string_value(v);
    } else if (json_is_integer(v)) {
      snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
      text = num;
    } else if (json_is_real(v)) {
      snprintf(num, sizeof num, "%.17g", json_real_value(v));
      text = num;
    } else if (json_is_boolean(v)) {
      text = json_is_true(v) ? "true" : "false";
    } else {
      fprintf(stderr, "%s: '%s': a param is a string, number, boolean or object\n", path, name);
      return -1;
    }
    if (params_add(p, name, text) != 0) {
      fprintf(stderr, "sluice: out of memory\n");
      return -1;
    }
  }
  return 0;
}

static int load_params(const char *dir, params *p) {
  char path[4096];
  snprintf(path, sizeof path, "%s/set.json", dir);
  struct stat st;
  if (stat(path, &st) != 0)
    return 0;
  json_error_t je;
  json_t *o = json_load_file(path, 0, &je);
  if (!json_is_object(o)) {
    fprintf(stderr, "%s:%d: %s\n", path, o ? 1 : je.line,
            o ? "set.json holds one object of params" : je.text);
    json_decref(o);
    return -1;
  }
  int rc = flatten(p, "", o, path);
  json_decref(o);
  return rc;
}

static char *slurp(const char *path) {
  FILE *fp = fopen(path, "rb");
  sl_buf b = SL_BUF_INIT;
  char chunk[8192];
  size_t n;
  while (fp && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
    sl_buf_append(&b, chunk, n);
  if (fp)
    fclose(fp);
  sl_buf_putc(&b, '\0');
  return b.data;
}

/* The expectation file: one JSON object per line. -1 when invalid. */
static int load_expect(const char *path, sl_test_rec **out, size_t *n) {
  *out = NULL;
  *n = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp && errno == ENOENT)
    return 0; /* no file: the sink expects no records */
  if (!fp) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long no = 0;
  int rc = 0;
  while (rc == 0 && (len = getline(&line, &cap, fp)) >= 0) {
    no++;
    json_error_t je;
    if (strspn(line, " \t\r\n") == (size_t)len)
      continue; /* blank lines separate nothing in JSON Lines */
    json_t *o = json_loads(line, 0, &je);
    sl_test_rec *g = realloc(*out, (*n + 1) * sizeof *g);
    if (!json_is_object(o) || !g) {
      fprintf(stderr, "%s:%ld: %s\n", path, no,
              !o  ? je.text
              : g ? "expected a JSON object per line"
                  : "out of memory");
      json_decref(o);
      if (g)
        *out = g;
      rc = -1;
      break;
    }
    *out = g;
    (*out)[(*n)++] = (sl_test_rec){o, 0, no};
  }
  free(line);
  fclose(fp);
  return rc;
}

static void free_recs(sl_test_rec *r, size_t n) {
  for (size_t i = 0; i < n; i++)
    json_decref(r[i].json);
  free(r);
}

static int write_expect(const char *dir, const sl_test_capture *c) {
  char path[4096];
  snprintf(path, sizeof path, "%s/expect", dir);
  mkdir(path, 0777);
  snprintf(path, sizeof path, "%s/expect/%s", dir, c->file);
  struct stat st;
  if (strcmp(c->id, "dead_letter") == 0 && c->count == 0 && stat(path, &st) != 0)
    return 0; /* no dead letters, none expected: no file needed */
  FILE *fp = fopen(path, "wb");
  int ok = fp && (!c->lines.len || fwrite(c->lines.data, 1, c->lines.len, fp) == c->lines.len);
  if (fp && fclose(fp) != 0)
    ok = 0;
  if (!ok) {
    fprintf(stderr, "sluice: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  printf("  wrote %s (%zu record%s)\n", path, c->count, c->count == 1 ? "" : "s");
  return 0;
}

/* Compare every capture with its file; prints the diffs. Returns the
 * number of failing sinks, -1 for an invalid expect file. */
static int compare_case(const sl_test_case *tc, sl_buf *report, size_t *records) {
  int failing = 0;
  for (size_t i = 0; i < tc->nsinks; i++) {
    const sl_test_capture *c = &tc->sinks[i];
    char path[4096];
    snprintf(path, sizeof path, "%s/expect/%s", tc->dir, c->file);
    sl_test_rec *exp;
    size_t nexp;
    if (load_expect(path, &exp, &nexp) != 0)
      return -1;
    struct stat st;
    int has_file = stat(path, &st) == 0;
    sl_buf diff = SL_BUF_INIT;
    size_t problems = sl_test_compare(exp, nexp, c->recs, c->count, &diff);
    *records += c->count;
    if (problems) {
      failing++;
      sl_buf_printf(report, "  sink '%s' (%s): %zu difference%s\n", c->id,
                    has_file ? path : "no expect file: expecting no records", problems,
                    problems == 1 ? "" : "s");
      for (char *l = diff.data, *e; l && *l; l = e + 1) {
        e = strchr(l, '\n');
        sl_buf_printf(report, "  %.*s\n", (int)(e - l), l);
      }
    }
    sl_buf_free(&diff);
    free_recs(exp, nexp);
  }
  return failing;
}

/* One case: 0 passed (or updated), 1 failed or invalid. */
static int run_case(const char *file, const char *dir, int update) {
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    printf("FAIL %s: not a case directory\n", dir);
    return 1;
  }
  params p = {0};
  sl_test_case tc;
  memset(&tc, 0, sizeof tc);
  tc.dir = dir;
  sl_error err;
  sl_error_clear(&err);
  sl_lua *lua = NULL;
  sl_graph_desc *g = NULL;
  sl_registry *reg = NULL;
  int code = 1;
  if (load_params(dir, &p) != 0)
    goto out;
  reg = sl_registry_new_builtin(&err);
  if (!reg || sl_test_case_register(reg) != SL_OK) {
    fprintf(stderr, "sluice: %s\n", reg ? "cannot register the test connectors" : err.message);
    goto out;
  }
  g = sl_lua_load_pipeline(file, (const char *const *)p.items, p.count, reg, &lua, &err);
  if (!g) {
    fprintf(stderr, "%s\n", err.message);
    goto out;
  }
  char *text = slurp(file);
  sl_graph_validate(g, reg, text);
  free(text);
  for (size_t i = 0; i < g->nerrors; i++)
    fprintf(stderr, "%s\n", g->errors[i]);
  if (g->nerrors) {
    printf("FAIL %s: the pipeline is invalid (see above)\n", dir);
    goto out;
  }
  if (sl_test_case_prepare(&tc, g, &err) != SL_OK || sl_test_case_run(&tc, g, reg, &err) != SL_OK) {
    printf("FAIL %s: %s\n", dir, err.message);
    goto out;
  }
  if (update) {
    printf("UPDATED %s\n", dir);
    code = 0;
    for (size_t i = 0; i < tc.nsinks; i++)
      code |= write_expect(dir, &tc.sinks[i]) != 0;
    goto out;
  }
  sl_buf report = SL_BUF_INIT;
  size_t records = 0;
  int failing = compare_case(&tc, &report, &records);
  if (failing < 0)
    printf("FAIL %s: invalid expect file (see above)\n", dir);
  else if (failing)
    printf("FAIL %s: %d of %zu sinks differ\n%.*s", dir, failing, tc.nsinks, (int)report.len,
           report.data ? report.data : "");
  else
    printf("PASS %s (%zu sinks, %zu records)\n", dir, tc.nsinks, records);
  sl_buf_free(&report);
  code = failing != 0;
out:
  sl_test_case_free(&tc);
  sl_graph_desc_free(g); /* configs hold Lua refs: before the Lua state */
  sl_lua_close(lua);
  sl_registry_free(reg);
  params_free(&p);
  return code;
}

int sl_test_main(int argc, char **argv) {
  const char *file = NULL;
  int update = 0;
  sl_log_level level = SL_LOG_WARN;
  sl_log_format format = SL_LOG_TEXT;
  const char **cases = calloc((size_t)argc, sizeof *cases);
  size_t ncases = 0;
  if (!cases)
    return SL_EXIT_RUNTIME;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--update") == 0) {
      update = 1;
    } else if (strcmp(a, "--log-level") == 0 && i + 1 < argc &&
               (int)sl_log_level_parse(argv[i + 1], (sl_log_level)-1) >= 0) {
      level = sl_log_level_parse(argv[++i], SL_LOG_WARN);
    } else if (strcmp(a, "--log-format") == 0 && i + 1 < argc &&
               (strcmp(argv[i + 1], "json") == 0 || strcmp(argv[i + 1], "text") == 0)) {
      format = argv[++i][0] == 'j' ? SL_LOG_JSON : SL_LOG_TEXT;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(test_usage, stdout);
      free(cases);
      return SL_EXIT_OK;
    } else if (a[0] == '-') {
      int known = strcmp(a, "--log-level") == 0 || strcmp(a, "--log-format") == 0;
      fprintf(stderr, "sluice: test: %s '%s'%s%s\n\n%s",
              known ? "bad or missing value for" : "unknown option", a, known ? ": " : "",
              known ? (i + 1 < argc ? argv[i + 1] : "(none)") : "", test_usage);
      free(cases);
      return SL_EXIT_USAGE;
    } else if (!file) {
      file = a;
    } else {
      cases[ncases++] = a;
    }
  }
  if (!file || !ncases) {
    fprintf(stderr, "sluice: test needs a pipeline file and at least one case directory\n\n%s",
            test_usage);
    free(cases);
    return SL_EXIT_USAGE;
  }
  sl_log_configure(format, level);
  size_t failed = 0;
  for (size_t i = 0; i < ncases; i++)
    failed += (size_t)run_case(file, cases[i], update);
  if (!update)
    printf("%zu case%s: %zu passed, %zu failed\n", ncases, ncases == 1 ? "" : "s", ncases - failed,
           failed);
  free(cases);
  return failed ? SL_EXIT_INVALID : SL_EXIT_OK;
}
