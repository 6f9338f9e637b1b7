/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SLUICE_BENCH_H
#define SLUICE_BENCH_H

/* `sluice bench [--format avro|json] [--keys N] [--records N] [--pipeline FILE]`:
 * prints one JSON line with the throughput. Returns an exit code. */
int sl_bench_main(int argc, char **argv);

#endif
