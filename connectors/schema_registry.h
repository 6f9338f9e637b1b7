/* SPDX-License-Identifier: Apache-2.0 */
/* A small Confluent schema-registry client (internal, never installed): fetch
 * a schema by id, register a schema under a subject. Blocking calls on a
 * private libevent loop, bounded by a timeout; used by the format layer
 * (core/codec/format.c), so operators stay free of sockets. Not thread-safe: one
 * client per decode/encode/sink instance. */
#ifndef SLUICE_SCHEMA_REGISTRY_H
#define SLUICE_SCHEMA_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

typedef struct sl_registry_client sl_registry_client;

/* How long a failed fetch of an id is remembered (answered from memory
 * without a request), so a broken registry does not cost one request per
 * record. */
#define SL_REGISTRY_RETRY_MS 10000

/* Defaults of the flood bounds (sl_registry_client_set_limits): schema ids come from the
 * records, so a producer that writes random ids must not turn each record into a blocking
 * request nor grow the cache without bound. */
#define SL_REGISTRY_LOOKUPS_PER_MINUTE 60 /* fetches of ids not in the cache */
#define SL_REGISTRY_MAX_IDS 1000          /* schemas and remembered failures kept */

/* `url`: http://[user:pass@]host[:port][/prefix] or https://...; credentials
 * from the URL, else from SLUICE_REGISTRY_USER / SLUICE_REGISTRY_PASSWORD
 * (HTTP basic auth; never logged nor put into messages). `timeout_ms` bounds
 * each request (connect + answer). NULL on error, with `err` set. */
sl_registry_client *sl_registry_client_new(const char *url, int timeout_ms, sl_error *err);
void sl_registry_client_free(sl_registry_client *c); /* NULL is a no-op */

/* The registry URL without credentials, for messages. */
const char *sl_registry_client_url(const sl_registry_client *c);

/* The schema (Avro JSON text) with id `id`, in *schema_json (owned by the
 * client, valid until it is freed). GET {url}/schemas/ids/{id} on the first
 * call per id, from the cache afterwards. A failure is remembered for
 * SL_REGISTRY_RETRY_MS and returned again without a request (a negative cache). Lookups
 * of ids not in the cache are bounded (sl_registry_client_set_limits). Errors:
 * SL_ERR_LIMIT (past those bounds; no request was sent),
 * SL_ERR_NOT_FOUND (404: "schema id 42 not found in the registry at URL"),
 * SL_ERR_UNAVAILABLE (unreachable, timeout, 5xx; retriable), SL_ERR_INVALID
 * (401/403, not an Avro schema), SL_ERR_IO / SL_ERR_PARSE (other answers). */
int sl_registry_client_schema(sl_registry_client *c, int32_t id, const char **schema_json,
                              sl_error *err);

/* Bound the lookups of ids not in the cache to `lookups_per_minute` (a token bucket: that
 * many at once, then refilled continuously) and the entries kept to `max_ids` (when full,
 * the oldest remembered failure makes room; known schemas are never dropped). A lookup past
 * either bound fails at once with SL_ERR_LIMIT, without a request. SL_ERR_INVALID when out of
 * range (1..60000 per minute, 1..1000000 ids). */
int sl_registry_client_set_limits(sl_registry_client *c, int lookups_per_minute, int max_ids,
                                  sl_error *err);

/* Register `schema_json` under `subject` (POST {url}/subjects/{subject}/versions)
 * and return its id; registering an existing schema returns its existing id. */
int sl_registry_client_register(sl_registry_client *c, const char *subject, const char *schema_json,
                                int32_t *id, sl_error *err);

/* Requests sent so far (for tests and metrics). */
unsigned long sl_registry_client_requests(const sl_registry_client *c);
/* Entries in the cache: known schemas and remembered failures (at most max_ids). */
size_t sl_registry_client_entries(const sl_registry_client *c);

/* The client's monotonic clock, in milliseconds. */
int64_t sl_registry_client_now_ms(const sl_registry_client *c);

/* Tests: replace the monotonic clock (milliseconds) used for the retry delay. */
void sl_registry_client_set_clock(sl_registry_client *c, int64_t (*now_ms)(void *ud), void *ud);

#endif
