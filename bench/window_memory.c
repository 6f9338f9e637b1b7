/* SPDX-License-Identifier: Apache-2.0 */
/* Memory per open (key, window) of the window operator alone: opens
 * 1,000,000 keys (argv[1]) in one tumbling window each and reports heap
 * bytes per key (mallinfo2 delta, allocator overhead and unused capacity
 * included) and resident bytes per key (VmRSS delta). argv[3] picks the
 * variant: "target" (default: tumbling, count/avg/max, the issue's
 * target), "all" (count/sum/min/max/avg), "p95" (count/avg/max/p95, 10
 * readings per key), "distinct" (count/avg/max/distinct(temperature)) or
 * "session" (count/avg/max in 1 min sessions). Records carry Kafka positions (8 partitions) unless argv[2] is
 * "nooffsets", so the held offsets of the memory backend count. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../operators/builtin.h"
#include "base/config.h"
#include "base/record_internal.h"

typedef struct bench_host {
  sl_arena *arena;
  size_t emitted, dead;
} bench_host;

static bench_host B;

static void b_log(sl_operator *op, sl_log_level l, const char *fmt, ...) { (void)op, (void)l, (void)fmt; }
static int b_emit(sl_emitter *o, sl_record *r) { (void)o, (void)r; B.emitted++; return SL_OK; }
static int b_dead(sl_emitter *o, const sl_record *r, const char *why, const char *msg) {
  (void)o, (void)r, (void)why, (void)msg;
  B.dead++;
  return SL_OK;
}
static sl_arena *b_arena(sl_emitter *o) { (void)o; return B.arena; }
static int64_t b_now(sl_operator *op) { (void)op; return 1700000000000; }
static void b_counter(sl_operator *op, const char *n, double d) { (void)op, (void)n, (void)d; }

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kib) == 1)
      break;
  if (f)
    fclose(f);
  return kib;
}

int main(int argc, char **argv) {
  long nkeys = argc > 1 ? atol(argv[1]) : 1000000;
  /* second argument "nooffsets": records without a source position */
  int with_offsets = !(argc > 2 && strcmp(argv[2], "nooffsets") == 0);
  const char *variant = argc > 3 ? argv[3] : "target";
  int all = strcmp(variant, "all") == 0, p95 = strcmp(variant, "p95") == 0,
      distinct = strcmp(variant, "distinct") == 0, session = strcmp(variant, "session") == 0;
  int per_key = p95 ? 10 : 1; /* readings per key: a sketch with one value is not typical */
  sl_host host = {0};
  host.abi_version = SL_OPERATOR_ABI_VERSION;
  host.struct_size = sizeof host;
  host.log = b_log;
  host.emit = b_emit;
  host.dead_letter = b_dead;
  host.arena = b_arena;
  host.now_ms = b_now;
  host.counter_add = b_counter;
  B.arena = sl_arena_new(1 << 20);

  sl_config *cfg = sl_config_new("bench.lua", 1), *agg = sl_config_new("bench.lua", 1);
  const char *key = "machine_id";
  sl_config_put_string(cfg, session ? "session" : "tumbling", session ? "1m" : "10s");
  sl_config_put_list(cfg, "key", &key, 1);
  sl_config_put_string(cfg, "time", "ts");
  sl_config_put_string(agg, "n", "count()");
  if (all) {
    sl_config_put_string(agg, "sum_t", "sum(temperature)");
    sl_config_put_string(agg, "min_t", "min(temperature)");
  }
  sl_config_put_string(agg, "max_t", "max(temperature)");
  sl_config_put_string(agg, "avg_t", "avg(temperature)");
  if (p95)
    sl_config_put_string(agg, "p95_t", "p95(temperature)");
  if (distinct)
    sl_config_put_string(agg, "d_t", "distinct(temperature)");
  sl_config_put_table(cfg, "aggregate", agg);

  sl_name n_key = sl_name_cstr("machine_id"), n_ts = sl_name_cstr("ts"),
          n_temp = sl_name_cstr("temperature");
  void *state = NULL;
  sl_error err;
  struct mallinfo2 before = mallinfo2();
  long rss_before = rss_kib();
  if (sl_op_window.init(&host, (sl_operator *)&B, cfg, &state, &err) != SL_OK) {
    fprintf(stderr, "init: %s\n", err.message);
    return 1;
  }
  sl_batch b;
  sl_batch_init(&b, B.arena);
  for (long i = 0; i < nkeys * per_key; i += 1000) {
    for (long j = i; j < i + 1000 && j < nkeys * per_key; j++) {
      long k = j % nkeys;
      char id[16];
      int len = snprintf(id, sizeof id, "m%07ld", k);
      sl_record *r = sl_record_new(B.arena, 3);
      sl_record_set(r, n_key, sl_value_string(sl_arena_strndup(B.arena, id, (size_t)len), (size_t)len));
      sl_record_set(r, n_ts, sl_value_int(1700000000000 + k % 5000));
      sl_record_set(r, n_temp, sl_value_double(20 + (double)((k + j / nkeys * 37) % 100) / 10));
      if (with_offsets) /* as from Kafka: the held-offset index is then in use */
        sl_record_set_position(r, 0, "telemetry", (int32_t)(k % 8), j / 8);
      sl_batch_push(&b, r);
    }
    if (sl_op_window.process(state, &b, (sl_emitter *)&B, &err) != SL_OK) {
      fprintf(stderr, "process: %s\n", err.message);
      return 1;
    }
    sl_batch_clear(&b);
    sl_arena_reset(B.arena);
  }
  struct mallinfo2 after = mallinfo2();
  long rss_after = rss_kib();
  /* uordblks: bytes in use from the heap; hblkhd: large blocks the
   * allocator mmap'd (the hash buckets, the heap and the dirty list) */
  size_t used = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
  double rss_per_key = (double)(rss_after - rss_before) * 1024.0 / (double)nkeys;
  printf("keys=%ld open windows (%s, 8-char string keys, %s): heap %.1f bytes per key, "
         "resident %.1f bytes per key = %.1f MiB per million keys; emitted=%zu dead=%zu\n",
         nkeys, variant,
         with_offsets ? "Kafka positions over 8 partitions" : "no source positions",
         (double)used / (double)nkeys, rss_per_key, rss_per_key * 1e6 / 1048576.0, B.emitted,
         B.dead);
  sl_op_window.on_watermark(state, SL_WATERMARK_END, (sl_emitter *)&B, &err);
  printf("after end of input: emitted=%zu\n", B.emitted);
  sl_op_window.destroy(state);
  sl_batch_release(&b);
  sl_config_destroy(cfg);
  sl_arena_destroy(B.arena);
  return 0;
}
