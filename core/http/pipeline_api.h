/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server of `sluice run`: the pipelines document and readiness
 * come from the running pipeline, everything else from Redis. */
#ifndef SLUICE_PIPELINE_API_H
#define SLUICE_PIPELINE_API_H

#include "engine/runtime.h"
#include "http/http_server.h"

typedef struct sl_pipeline_api sl_pipeline_api;

typedef struct sl_api_options {
  const char *listen;   /* "127.0.0.1:8080" */
  const char *tls_cert; /* with tls_key: HTTPS */
  const char *tls_key;
  const char *redis_url;
} sl_api_options;

/* Start serving `g` run by `rt` (both must outlive the server). */
sl_pipeline_api *sl_pipeline_api_start(const sl_graph_desc *g, sl_runtime *rt,
                                       const sl_api_options *o, sl_error *err);
void sl_pipeline_api_stop(sl_pipeline_api *api); /* NULL is a no-op */

/* The pipelines document for `g` with `status` (thread-safe: reads only). */
int sl_pipeline_json(const sl_graph_desc *g, const char *status, sl_buf *out);

#endif
