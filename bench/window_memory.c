/* SPDX-License-Identifier: Apache-2.0 */
/* Memory per open (key, window) of the window operator: opens 1,000,000
 * keys with count/sum/min/max/avg in one tumbling window each and reports
 * heap bytes per key (mallinfo2 delta, so allocator overhead counts).
 * Records carry Kafka positions (8 partitions) unless argv[2] is
 * "nooffsets", so the held-offset index of the memory backend counts. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../operators/builtin.h"
#include "config.h"
#include "record_internal.h"

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

int main(int argc, char **argv) {
  long nkeys = argc > 1 ? atol(argv[1]) : 1000000;
  /* second argument "nooffsets": records without a source position */
  int with_offsets = !(argc > 2 && strcmp(argv[2], "nooffsets") == 0);
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
  sl_config_put_string(cfg, "tumbling", "10s");
  sl_config_put_list(cfg, "key", &key, 1);
  sl_config_put_string(cfg, "time", "ts");
  sl_config_put_string(agg, "n", "count()");
  sl_config_put_string(agg, "sum_t", "sum(temperature)");
  sl_config_put_string(agg, "min_t", "min(temperature)");
  sl_config_put_string(agg, "max_t", "max(temperature)");
  sl_config_put_string(agg, "avg_t", "avg(temperature)");
  sl_config_put_table(cfg, "aggregate", agg);

  sl_name n_key = sl_name_cstr("machine_id"), n_ts = sl_name_cstr("ts"),
          n_temp = sl_name_cstr("temperature");
  void *state = NULL;
  sl_error err;
  struct mallinfo2 before = mallinfo2();
  if (sl_op_window.init(&host, (sl_operator *)&B, cfg, &state, &err) != SL_OK) {
    fprintf(stderr, "init: %s\n", err.message);
    return 1;
  }
  sl_batch b;
  sl_batch_init(&b, B.arena);
  for (long i = 0; i < nkeys; i += 1000) {
    for (long k = i; k < i + 1000 && k < nkeys; k++) {
      char id[16];
      int len = snprintf(id, sizeof id, "m%07ld", k);
      sl_record *r = sl_record_new(B.arena, 3);
      sl_record_set(r, n_key, sl_value_string(sl_arena_strndup(B.arena, id, (size_t)len), (size_t)len));
      sl_record_set(r, n_ts, sl_value_int(1700000000000 + k % 5000));
      sl_record_set(r, n_temp, sl_value_double(20 + (double)(k % 100) / 10));
      if (with_offsets) /* as from Kafka: the held-offset index is then in use */
        sl_record_set_position(r, 0, "telemetry", (int32_t)(k % 8), k / 8);
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
  /* uordblks: bytes in use from the heap; hblkhd: large blocks the
   * allocator mmap'd (the hash buckets, the heap and the dirty list) */
  size_t used = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
  printf("keys=%ld open windows, heap delta=%zu bytes, %.1f bytes per (key, window) "
         "(count/sum/min/max/avg, 8-char string keys, %s), emitted=%zu dead=%zu\n",
         nkeys, used, (double)used / (double)nkeys,
         with_offsets ? "Kafka positions over 8 partitions" : "no source positions", B.emitted,
         B.dead);
  sl_op_window.on_watermark(state, SL_WATERMARK_END, (sl_emitter *)&B, &err);
  printf("after end of input: emitted=%zu\n", B.emitted);
  sl_op_window.destroy(state);
  sl_batch_release(&b);
  sl_config_destroy(cfg);
  sl_arena_destroy(B.arena);
  return 0;
}
