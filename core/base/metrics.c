/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics registry: families of series keyed by (name, label set), kept
 * in creation order for stable output and in a hash table for cheap lookup.
 * Series values are atomics so the pipeline threads update them without
 * locks; the registry mutex only guards creation and rendering of the list. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/metrics.h"
#include "sluice/error.h"

#define MAX_LABELS 16
#define MAX_BOUNDS 64

typedef struct family {
  char *name;
  char *help;
  sl_metric_type type;
  double *bounds; /* histograms: upper bounds without +Inf */
  size_t nbounds;
  sl_metric **series; /* creation order */
  size_t nseries, cap;
} family;

struct sl_metric {
  family *fam;
  char *labels; /* canonical rendered label pairs `a="x",b="y"` (sorted), "" if none */
  _Atomic uint64_t bits;     /* counter/gauge value, or histogram sum (double bits) */
  _Atomic uint64_t *buckets; /* histograms: nbounds + 1 non-cumulative counts */
  sl_metric *hnext;          /* hash chain */
  uint64_t hash;
};

struct sl_metrics {
  pthread_mutex_t mu;
  family **fams;
  size_t nfams, fcap;
  sl_metric **table; /* hash buckets */
  size_t tsize, count;
};

static const double default_bounds[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
static double process_start_time;

__attribute__((constructor)) static void note_start_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  process_start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bits_to_d(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

static uint64_t d_to_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

static uint64_t fnv(uint64_t h, const char *s) {
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return (h ^ 0xff) * 1099511628211ull;
}

sl_metrics *sl_metrics_new(void) {
  sl_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  pthread_mutex_init(&m->mu, NULL);
  m->tsize = 64;
  m->table = calloc(m->tsize, sizeof *m->table);
  if (!m->table) {
    free(m);
    return NULL;
  }
  return m;
}

static sl_metrics *global_registry;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { global_registry = sl_metrics_new(); }

sl_metrics *sl_metrics_default(void) {
  pthread_once(&global_once, global_init);
  return global_registry;
}

void sl_metrics_destroy(sl_metrics *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->nfams; i++) {
    family *f = m->fams[i];
    for (size_t j = 0; j < f->nseries; j++) {
      free(f->series[j]->labels);
      free(f->series[j]->buckets);
      free(f->series[j]);
    }
    free(f->series);
    free(f->name);
    free(f->help);
    free(f->bounds);
    free(f);
  }
  free(m->fams);
  free(m->table);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

static int valid_name(const char *s, int colon_ok) {
  if (!s || !*s || (*s >= '0' && *s <= '9'))
    return 0;
  for (; *s; s++) {
    char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || (colon_ok && c == ':')))
      return 0;
  }
  return 1;
}

typedef struct label {
  char name[64];
  sl_buf value; /* unescaped */
} label;

static int label_cmp(const void *a, const void *b) {
  return strcmp(((const label *)a)->name, ((const label *)b)->name);
}

/* Parse "a=x,b=y" into labels; backslash escapes the next character. */
static int parse_labels(const char *csv, label *out, size_t *n) {
  *n = 0;
  if (!csv || !*csv)
    return SL_OK;
  const char *p = csv;
  while (*p) {
    if (*n == MAX_LABELS)
      return SL_ERR_LIMIT;
    label *l = &out[(*n)++];
    size_t nl = 0;
    while (*p && *p != '=') {
      if (nl + 1 >= sizeof l->name)
        return SL_ERR_INVALID;
      l->name[nl++] = *p++;
    }
    l->name[nl] = '\0';
    if (*p != '=' || !valid_name(l->name, 0) || strncmp(l->name, "__", 2) == 0 ||
        strcmp(l->name, "le") == 0)
      return SL_ERR_INVALID;
    p++;
    while (*p && *p != ',') {
      if (*p == '\\' && p[1])
        p++;
      if (sl_buf_putc(&l->value, *p++) != SL_OK)
        return SL_ERR_NOMEM;
    }
    if (!l->value.data && sl_buf_puts(&l->value, "") != SL_OK)
      return SL_ERR_NOMEM;
    if (*p == ',')
      p++;
  }
  qsort(out, *n, sizeof *out, label_cmp);
  for (size_t i = 1; i < *n; i++)
    if (strcmp(out[i - 1].name, out[i].name) == 0)
      return SL_ERR_INVALID;
  return SL_OK;
}

/* Label value escaping of the text format: backslash, double quote, newline. */
static int put_escaped(sl_buf *b, const char *s, size_t len, int quote) {
  int rc = SL_OK;
  for (size_t i = 0; i < len && rc == SL_OK; i++) {
    if (s[i] == '\\')
      rc = sl_buf_puts(b, "\\\\");
    else if (s[i] == '\n')
      rc = sl_buf_puts(b, "\\n");
    else if (quote && s[i] == '"')
      rc = sl_buf_puts(b, "\\\"");
    else
      rc = sl_buf_putc(b, s[i]);
  }
  return rc;
}

static int canonical_labels(const char *csv, sl_buf *out) {
  label ls[MAX_LABELS];
  memset(ls, 0, sizeof ls);
  size_t n = 0;
  int rc = parse_labels(csv, ls, &n);
  if (rc == SL_OK)
    rc = sl_buf_puts(out, "");
  for (size_t i = 0; i < n && rc == SL_OK; i++) {
    if (i)
      rc = sl_buf_putc(out, ',');
    if (rc == SL_OK)
      rc = sl_buf_printf(out, "%s=\"", ls[i].name);
    if (rc == SL_OK)
      rc = put_escaped(out, ls[i].value.data, ls[i].value.len, 1);
    if (rc == SL_OK)
      rc = sl_buf_putc(out, '"');
  }
  for (size_t i = 0; i < MAX_LABELS; i++)
    sl_buf_free(&ls[i].value);
  return rc;
}

static family *find_family(sl_metrics *m, const char *name) {
  for (size_t i = 0; i < m->nfams; i++)
    if (strcmp(m->fams[i]->name, name) == 0)
      return m->fams[i];
  return NULL;
}

static family *new_family(sl_metrics *m, sl_metric_type type, const char *name, const char *help,
                          const double *bounds, size_t nbounds) {
  if (m->nfams == m->fcap) {
    size_t nc = m->fcap ? m->fcap * 2 : 16;
    family **nf = realloc(m->fams, nc * sizeof *nf);
    if (!nf)
      return NULL;
    m->fams = nf;
    m->fcap = nc;
  }
  family *f = calloc(1, sizeof *f);
  if (!f)
    return NULL;
  f->type = type;
  f->name = strdup(name);
  f->help = strdup(help ? help : "");
  if (type == SL_METRIC_HISTOGRAM) {
    f->bounds = malloc((nbounds ? nbounds : 1) * sizeof *f->bounds);
    if (f->bounds)
      memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
    f->nbounds = nbounds;
  }
  if (!f->name || !f->help || (type == SL_METRIC_HISTOGRAM && !f->bounds)) {
    free(f->name);
    free(f->help);
    free(f->bounds);
    free(f);
    return NULL;
  }
  m->fams[m->nfams++] = f;
  return f;
}

static int same_bounds(const family *f, const double *b, size_t n) {
  return f->nbounds == n && (n == 0 || memcmp(f->bounds, b, n * sizeof *b) == 0);
}

static int grow_table(sl_metrics *m) {
  size_t ns = m->tsize * 2;
  sl_metric **nt = calloc(ns, sizeof *nt);
  if (!nt)
    return SL_ERR_NOMEM;
  for (size_t i = 0; i < m->tsize; i++) {
    sl_metric *s = m->table[i];
    while (s) {
      sl_metric *next = s->hnext;
      s->hnext = nt[s->hash & (ns - 1)];
      nt[s->hash & (ns - 1)] = s;
      s = next;
    }
  }
  free(m->table);
  m->table = nt;
  m->tsize = ns;
  return SL_OK;
}

static sl_metric *new_series(sl_metrics *m, family *f, sl_buf *labels, uint64_t h) {
  if (f->nseries == f->cap) {
    size_t nc = f->cap ? f->cap * 2 : 4;
    sl_metric **ns = realloc(f->series, nc * sizeof *ns);
    if (!ns)
      return NULL;
    f->series = ns;
    f->cap = nc;
  }
  sl_metric *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->fam = f;
  s->hash = h;
  s->labels = labels->data; /* take ownership */
  if (f->type == SL_METRIC_HISTOGRAM) {
    s->buckets = calloc(f->nbounds + 1, sizeof *s->buckets);
    if (!s->buckets) {
      free(s);
      return NULL;
    }
  }
  labels->data = NULL;
  f->series[f->nseries++] = s;
  s->hnext = m->table[h & (m->tsize - 1)];
  m->table[h & (m->tsize - 1)] = s;
  if (++m->count > m->tsize)
    grow_table(m); /* a failed grow only makes chains longer */
  return s;
}

sl_metric *sl_metrics_get(sl_metrics *m, sl_metric_type type, const char *name, const char *help,
                          const char *labels_csv, const double *bounds, size_t nbounds) {
  if (!m || !valid_name(name, 1))
    return NULL;
  if (type == SL_METRIC_HISTOGRAM) {
    if (!bounds) {
      bounds = default_bounds;
      nbounds = sizeof default_bounds / sizeof *default_bounds;
    }
    if (nbounds > MAX_BOUNDS)
      return NULL;
    for (size_t i = 0; i < nbounds; i++)
      if (isnan(bounds[i]) || isinf(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
        return NULL;
  }
  sl_buf lb = SL_BUF_INIT;
  if (canonical_labels(labels_csv, &lb) != SL_OK) {
    sl_buf_free(&lb);
    return NULL;
  }
  uint64_t h = fnv(fnv(1469598103934665603ull, name), lb.data);
  sl_metric *s = NULL;
  pthread_mutex_lock(&m->mu);
  for (s = m->table[h & (m->tsize - 1)]; s; s = s->hnext)
    if (s->hash == h && strcmp(s->fam->name, name) == 0 && strcmp(s->labels, lb.data) == 0)
      break;
  if (s) {
    if (s->fam->type != type ||
        (type == SL_METRIC_HISTOGRAM && !same_bounds(s->fam, bounds, nbounds)))
      s = NULL;
    goto out;
  }
  family *f = find_family(m, name);
  if (f && (f->type != type || (type == SL_METRIC_HISTOGRAM && !same_bounds(f, bounds, nbounds))))
    goto out;
  if (!f)
    f = new_family(m, type, name, help, bounds, nbounds);
  if (f)
    s = new_series(m, f, &lb, h);
out:
  pthread_mutex_unlock(&m->mu);
  sl_buf_free(&lb);
  return s;
}

sl_metric *sl_metrics_counter(const char *name, const char *help, const char *labels_csv) {
  return sl_metrics_get(sl_metrics_default(), SL_METRIC_COUNTER, name, help, labels_csv, NULL, 0);
}

sl_metric *sl_metrics_gauge(const char *name, const char *help, const char *labels_csv) {
  return sl_metrics_get(sl_metrics_default(), SL_METRIC_GAUGE, name, help, labels_csv, NULL, 0);
}

sl_metric *sl_metrics_histogram(const char *name, const char *help, const char *labels_csv,
                                const double *bounds, size_t nbounds) {
  return sl_metrics_get(sl_metrics_default(), SL_METRIC_HISTOGRAM, name, help, labels_csv, bounds,
                        nbounds);
}

static void atomic_add_double(_Atomic uint64_t *a, double d) {
  uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(a, &old, d_to_bits(bits_to_d(old) + d),
                                                memory_order_relaxed, memory_order_relaxed))
    ;
}

void sl_metric_add(sl_metric *m, double d) {
  if (!m || m->fam->type == SL_METRIC_HISTOGRAM || isnan(d))
    return;
  if (m->fam->type == SL_METRIC_COUNTER && d < 0)
    return; /* counters only go up; a negative delta is a caller bug */
  atomic_add_double(&m->bits, d);
}

void sl_metric_set(sl_metric *m, double v) {
  if (!m || m->fam->type == SL_METRIC_HISTOGRAM)
    return;
  atomic_store_explicit(&m->bits, d_to_bits(v), memory_order_relaxed);
}

void sl_metric_observe_n(sl_metric *m, double v, uint64_t n) {
  if (!m || m->fam->type != SL_METRIC_HISTOGRAM || isnan(v) || n == 0)
    return;
  size_t i = 0;
  while (i < m->fam->nbounds && v > m->fam->bounds[i])
    i++;
  atomic_fetch_add_explicit(&m->buckets[i], n, memory_order_relaxed);
  atomic_add_double(&m->bits, v * (double)n);
}

void sl_metric_observe(sl_metric *m, double v) { sl_metric_observe_n(m, v, 1); }

double sl_metric_value(const sl_metric *m) {
  if (!m)
    return 0;
  if (m->fam->type != SL_METRIC_HISTOGRAM)
    return bits_to_d(atomic_load_explicit(&m->bits, memory_order_relaxed));
  uint64_t n = 0;
  for (size_t i = 0; i <= m->fam->nbounds; i++)
    n += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
  return (double)n;
}

/* Shortest text that reads back as the same double; Prometheus spellings
 * for the non-finite values. */
static int put_double(sl_buf *b, double d) {
  if (isnan(d))
    return sl_buf_puts(b, "NaN");
  if (isinf(d))
    return sl_buf_puts(b, d > 0 ? "+Inf" : "-Inf");
  char tmp[40];
  if (d == floor(d) && fabs(d) < 9007199254740992.0) /* counts read as counts */
    return sl_buf_printf(b, "%.0f", d);
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (strtod(tmp, NULL) == d)
      break;
  }
  return sl_buf_puts(b, tmp);
}

static const char *type_name(sl_metric_type t) {
  return t == SL_METRIC_COUNTER ? "counter" : t == SL_METRIC_GAUGE ? "gauge" : "histogram";
}

static int put_header(sl_buf *out, const char *name, const char *help, const char *type) {
  int rc = sl_buf_printf(out, "# HELP %s ", name);
  if (rc == SL_OK)
    rc = put_escaped(out, help, strlen(help), 0);
  if (rc == SL_OK)
    rc = sl_buf_printf(out, "\n# TYPE %s %s\n", name, type);
  return rc;
}

static int put_series(sl_buf *out, const char *name, const char *suffix, const char *labels,
                      const char *extra, double v) {
  int rc = sl_buf_printf(out, "%s%s", name, suffix);
  if (rc == SL_OK && (*labels || extra))
    rc = sl_buf_printf(out, "{%s%s%s}", labels, *labels && extra ? "," : "", extra ? extra : "");
  if (rc == SL_OK)
    rc = sl_buf_putc(out, ' ');
  if (rc == SL_OK)
    rc = put_double(out, v);
  if (rc == SL_OK)
    rc = sl_buf_putc(out, '\n');
  return rc;
}

static int render_histogram(sl_buf *out, const family *f, const sl_metric *s) {
  uint64_t cum = 0;
  int rc = SL_OK;
  char le[64];
  for (size_t i = 0; i <= f->nbounds && rc == SL_OK; i++) {
    cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    if (i < f->nbounds) {
      sl_buf tmp = SL_BUF_INIT;
      rc = put_double(&tmp, f->bounds[i]);
      snprintf(le, sizeof le, "le=\"%s\"", rc == SL_OK ? tmp.data : "");
      sl_buf_free(&tmp);
    } else {
      snprintf(le, sizeof le, "le=\"+Inf\"");
    }
    if (rc == SL_OK)
      rc = put_series(out, f->name, "_bucket", s->labels, le, (double)cum);
  }
  /* _count is the +Inf bucket so a scrape is always self-consistent. */
  if (rc == SL_OK)
    rc = put_series(out, f->name, "_sum", s->labels, NULL,
                    bits_to_d(atomic_load_explicit(&s->bits, memory_order_relaxed)));
  if (rc == SL_OK)
    rc = put_series(out, f->name, "_count", s->labels, NULL, (double)cum);
  return rc;
}

static int render_process(sl_buf *out) {
  double rss = 0;
  FILE *fp = fopen("/proc/self/statm", "r");
  if (fp) {
    unsigned long size = 0, resident = 0;
    if (fscanf(fp, "%lu %lu", &size, &resident) == 2)
      rss = (double)resident * (double)sysconf(_SC_PAGESIZE);
    fclose(fp);
  }
  struct rusage ru;
  double cpu = 0;
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  int rc = put_header(out, "sluice_process_resident_memory_bytes", "Resident memory size in bytes.",
                      "gauge");
  if (rc == SL_OK)
    rc = put_series(out, "sluice_process_resident_memory_bytes", "", "", NULL, rss);
  if (rc == SL_OK)
    rc = put_header(out, "sluice_process_cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.", "counter");
  if (rc == SL_OK)
    rc = put_series(out, "sluice_process_cpu_seconds_total", "", "", NULL, cpu);
  if (rc == SL_OK)
    rc = put_header(out, "sluice_process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.", "gauge");
  if (rc == SL_OK)
    rc = put_series(out, "sluice_process_start_time_seconds", "", "", NULL, process_start_time);
  return rc;
}

int sl_metrics_render_registry(sl_metrics *m, sl_buf *out, int with_process) {
  int rc = sl_buf_puts(out, "");
  if (!m)
    return rc;
  pthread_mutex_lock(&m->mu);
  for (size_t i = 0; i < m->nfams && rc == SL_OK; i++) {
    const family *f = m->fams[i];
    rc = put_header(out, f->name, f->help, type_name(f->type));
    for (size_t j = 0; j < f->nseries && rc == SL_OK; j++) {
      const sl_metric *s = f->series[j];
      if (f->type == SL_METRIC_HISTOGRAM)
        rc = render_histogram(out, f, s);
      else
        rc = put_series(out, f->name, "", s->labels, NULL,
                        bits_to_d(atomic_load_explicit(&s->bits, memory_order_relaxed)));
    }
  }
  pthread_mutex_unlock(&m->mu);
  if (rc == SL_OK && with_process)
    rc = render_process(out);
  return rc;
}

int sl_metrics_render(sl_buf *out) {
  return sl_metrics_render_registry(sl_metrics_default(), out, 1);
}
