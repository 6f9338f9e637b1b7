/* SPDX-License-Identifier: Apache-2.0 */
/* The main() of the fuzz targets when they are built without libFuzzer
 * (-DSLUICE_FUZZ=ON with gcc): runs each file given, and each file of each
 * directory given, once, and fails on an input slower than 1 s
 * (SLUICE_FUZZ_TIMEOUT_MS to change). Options starting with '-' (libFuzzer's)
 * are ignored, so both builds take the same command line. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fuzz_support.h"

static long timeout_ms = 1000;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 1;
  }
  size_t cap = 4096, len = 0, n;
  uint8_t *buf = malloc(cap);
  while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) {
    fprintf(stderr, "replay: out of memory reading %s\n", path);
    return 1;
  }
  double start = now_ms();
  LLVMFuzzerTestOneInput(buf, len);
  double took = now_ms() - start;
  free(buf);
  if (took > (double)timeout_ms) {
    fprintf(stderr, "replay: %s took %.0f ms (limit %ld ms)\n", path, took, timeout_ms);
    return 1;
  }
  return 0;
}

static int run_path(const char *path, size_t *count) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "replay: %s does not exist\n", path);
    return 1;
  }
  if (!S_ISDIR(st.st_mode)) {
    (*count)++;
    return run_file(path);
  }
  DIR *d = opendir(path);
  if (!d) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    return 1;
  }
  int failed = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char child[4096];
    snprintf(child, sizeof child, "%s/%s", path, e->d_name);
    failed |= run_path(child, count);
  }
  closedir(d);
  return failed;
}

int main(int argc, char **argv) {
  const char *t = getenv("SLUICE_FUZZ_TIMEOUT_MS");
  if (t && atol(t) > 0)
    timeout_ms = atol(t);
  LLVMFuzzerInitialize(&argc, &argv);
  int failed = 0;
  size_t count = 0;
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-')
      failed |= run_path(argv[i], &count);
  fprintf(stderr, "replay: %zu inputs, %s\n", count, failed ? "FAILED" : "ok");
  return failed;
}
