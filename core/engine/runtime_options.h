/* SPDX-License-Identifier: Apache-2.0 */
/* The options of a runtime (runtime.h), apart so that the structures every
 * engine file shares (runtime_node.h) need not include the runtime's API. */
#ifndef SLUICE_RUNTIME_OPTIONS_H
#define SLUICE_RUNTIME_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_runtime sl_runtime;

typedef struct sl_runtime_options {
  const char *redis_url;   /* default SLUICE_REDIS_URL or redis://127.0.0.1:6379 */
  size_t batch_size;       /* records per source poll, default 1024 */
  size_t max_line_bytes;   /* file sources: longest accepted line, default 1 MiB */
  const char *api_addr;    /* NULL: no HTTP server */
  int64_t retry_budget_ms; /* how long a dependency may stay down while running
                              before run() fails (exit 3); default 10 min */
  int event_time_only;     /* `sluice test`: no timers and no wall clock (operators
                              see now_ms() = 0), so results depend on the input alone */
} sl_runtime_options;

#endif
