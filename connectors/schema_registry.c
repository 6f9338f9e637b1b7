/* SPDX-License-Identifier: Apache-2.0 */
/* Confluent schema-registry client: one blocking HTTP request at a time on a
 * private event_base (evhttp client, bufferevent_openssl for https), run
 * until the answer or the timeout. Schemas are cached by id for the life of
 * the client (ids are immutable in a registry); failures are cached for
 * SL_REGISTRY_RETRY_MS so that a broken registry costs one request per id
 * and retry period, never one per record. */
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "https_client.h"
#include "schema_registry.h"

#define ACCEPT "application/vnd.schemaregistry.v1+json, application/json"
#define MAX_ANSWER (16u << 20) /* a schema larger than this is not one we want */

typedef struct reg_entry {
  int32_t id;
  char *json;       /* the schema on success, else NULL */
  int code;         /* the remembered failure when json is NULL */
  char *message;    /* of that failure */
  int64_t retry_at; /* a failed id is fetched again from then on */
} reg_entry;

struct sl_registry_client {
  char *url; /* without credentials, for messages */
  char *host;
  char *prefix; /* path prefix, no trailing '/' ("" for none) */
  char *auth;   /* "Basic <base64>" or NULL */
  int port;
  int https;
  int timeout_ms;
  SSL_CTX *ssl_ctx;
  struct event_base *base;
  reg_entry *entries;
  size_t n, cap;
  size_t max_ids;          /* entries kept at most (known schemas and remembered failures) */
  int lookups_per_minute;  /* fetches of ids not in the cache, refilled continuously */
  double tokens;           /* fetches allowed now (a token bucket of lookups_per_minute) */
  int64_t tokens_at;       /* when `tokens` was last refilled */
  unsigned long requests;
  int64_t (*now_ms)(void *ud);
  void *now_ud;
};

/* The outcome of one request, filled by its callback. */
typedef struct reg_call {
  struct event_base *base;
  int status;          /* HTTP status, 0 when no answer came */
  const char *failure; /* why no answer came; NULL for a failed connect (libevent
                        * calls no error callback for that) */
  sl_buf body;
  int too_large;
} reg_call;

static int64_t mono_ms(void *ud) {
  (void)ud;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- configuration ------------------------------------------------------ */

static int set_auth(sl_registry_client *c, const char *user, const char *pass, sl_error *err) {
  sl_buf plain = SL_BUF_INIT;
  int rc = SL_OK;
  if (sl_buf_printf(&plain, "%s:%s", user, pass ? pass : "")) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out;
  }
  size_t n = 6 + 4 * ((plain.len + 2) / 3) + 1;
  if (!(c->auth = malloc(n))) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out;
  }
  memcpy(c->auth, "Basic ", 6);
  EVP_EncodeBlock((unsigned char *)c->auth + 6, (const unsigned char *)plain.data, (int)plain.len);
out:
  if (plain.data)
    memset(plain.data, 0, plain.len); /* the password does not linger on the heap */
  sl_buf_free(&plain);
  return rc;
}

/* user[:pass] of the URL, percent-decoded; else the environment. */
static int credentials(sl_registry_client *c, const struct evhttp_uri *u, sl_error *err) {
  const char *info = evhttp_uri_get_userinfo(u);
  if (!info || !*info) {
    const char *user = getenv("SLUICE_REGISTRY_USER");
    if (!user || !*user)
      return SL_OK;
    return set_auth(c, user, getenv("SLUICE_REGISTRY_PASSWORD"), err);
  }
  char *copy = strdup(info);
  if (!copy)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  char *colon = strchr(copy, ':');
  if (colon)
    *colon = '\0';
  char *user = evhttp_uridecode(copy, 0, NULL);
  char *pass = colon ? evhttp_uridecode(colon + 1, 0, NULL) : NULL;
  int rc = user && (!colon || pass) ? set_auth(c, user, pass, err)
                                    : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (pass)
    memset(pass, 0, strlen(pass));
  memset(copy, 0, strlen(copy));
  free(user);
  free(pass);
  free(copy);
  return rc;
}

static int parse_url(sl_registry_client *c, const char *url, sl_error *err) {
  struct evhttp_uri *u = evhttp_uri_parse_with_flags(url, 0);
  const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
  const char *host = u ? evhttp_uri_get_host(u) : NULL;
  int rc = SL_OK;
  if (!scheme || !host || !*host || (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
    /* The URL may hold a password: name only its scheme-less shape. */
    rc = sl_error_set(err, SL_ERR_INVALID,
                      "registry: not an http:// or https:// URL with a host (got %s)",
                      strchr(url, '@') ? "a URL with credentials" : url);
    goto out;
  }
  c->https = strcmp(scheme, "https") == 0;
  c->port = evhttp_uri_get_port(u);
  const char *path = evhttp_uri_get_path(u);
  size_t plen = path ? strlen(path) : 0;
  while (plen && path[plen - 1] == '/')
    plen--;
  sl_buf shown = SL_BUF_INIT;
  int bad = sl_buf_printf(&shown, "%s://%s", scheme, host);
  if (!bad && c->port >= 0)
    bad = sl_buf_printf(&shown, ":%d", c->port);
  if (!bad && plen)
    bad = sl_buf_append(&shown, path, plen);
  if (c->port < 0)
    c->port = c->https ? 443 : 80;
  c->url = bad ? NULL : shown.data;
  if (bad)
    sl_buf_free(&shown);
  c->host = strdup(host);
  c->prefix = strndup(path ? path : "", plen);
  if (!c->url || !c->host || !c->prefix) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out;
  }
  rc = credentials(c, u, err);
out:
  if (u)
    evhttp_uri_free(u);
  return rc;
}

sl_registry_client *sl_registry_client_new(const char *url, int timeout_ms, sl_error *err) {
  sl_registry_client *c = calloc(1, sizeof *c);
  if (!c) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
  c->now_ms = mono_ms;
  c->max_ids = SL_REGISTRY_MAX_IDS;
  c->lookups_per_minute = SL_REGISTRY_LOOKUPS_PER_MINUTE;
  c->tokens = c->lookups_per_minute;
  c->tokens_at = mono_ms(NULL);
  if (!url || !*url) {
    sl_error_set(err, SL_ERR_INVALID, "registry: the URL is empty");
    goto out_free;
  }
  if (parse_url(c, url, err))
    goto out_free;
  if (!(c->base = event_base_new())) {
    sl_error_set(err, SL_ERR_INTERNAL, "registry: cannot create an event loop");
    goto out_free;
  }
  /* a registry with a private CA's certificate: SLUICE_REGISTRY_CA names it */
  if (c->https && !(c->ssl_ctx = sl_https_ctx_new(getenv("SLUICE_REGISTRY_CA"), "registry", err)))
    goto out_free;
  return c;
out_free:
  sl_registry_client_free(c);
  return NULL;
}

void sl_registry_client_free(sl_registry_client *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->n; i++) {
    free(c->entries[i].json);
    free(c->entries[i].message);
  }
  free(c->entries);
  if (c->base)
    event_base_free(c->base);
  if (c->ssl_ctx)
    SSL_CTX_free(c->ssl_ctx);
  if (c->auth)
    memset(c->auth, 0, strlen(c->auth));
  free(c->auth);
  free(c->url);
  free(c->host);
  free(c->prefix);
  free(c);
}

const char *sl_registry_client_url(const sl_registry_client *c) { return c->url; }
unsigned long sl_registry_client_requests(const sl_registry_client *c) { return c->requests; }

size_t sl_registry_client_entries(const sl_registry_client *c) { return c->n; }

int64_t sl_registry_client_now_ms(const sl_registry_client *c) { return c->now_ms(c->now_ud); }

void sl_registry_client_set_clock(sl_registry_client *c, int64_t (*now_ms)(void *ud), void *ud) {
  c->now_ms = now_ms ? now_ms : mono_ms;
  c->now_ud = ud;
  c->tokens_at = c->now_ms(c->now_ud);
}

int sl_registry_client_set_limits(sl_registry_client *c, int lookups_per_minute, int max_ids,
                                  sl_error *err) {
  if (lookups_per_minute < 1 || lookups_per_minute > 60000)
    return sl_error_set(err, SL_ERR_INVALID,
                        "registry_lookups_per_minute must be between 1 and 60000, not %d",
                        lookups_per_minute);
  if (max_ids < 1 || max_ids > 1000000)
    return sl_error_set(err, SL_ERR_INVALID,
                        "registry_max_ids must be between 1 and 1000000, not %d", max_ids);
  c->lookups_per_minute = lookups_per_minute;
  c->tokens = lookups_per_minute;
  c->tokens_at = c->now_ms(c->now_ud);
  c->max_ids = (size_t)max_ids;
  return SL_OK;
}

/* ---- one request -------------------------------------------------------- */

static void on_done(struct evhttp_request *req, void *arg) {
  reg_call *call = arg;
  call->status = req ? evhttp_request_get_response_code(req) : 0;
  if (req && call->status) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n > MAX_ANSWER)
      call->too_large = 1;
    else if (n && sl_buf_reserve(&call->body, n + 1) == 0) {
      evbuffer_remove(in, call->body.data, n);
      call->body.len = n;
      call->body.data[n] = '\0';
    }
  }
  event_base_loopbreak(call->base);
}

static void on_error(enum evhttp_request_error e, void *arg) {
  reg_call *call = arg;
  static const char *const names[] = {"timed out", "connection closed before the answer",
                                      "connection failed", "cancelled", "invalid answer"};
  call->failure = (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "request failed";
}

static struct evhttp_connection *connect_to(sl_registry_client *c) {
  struct bufferevent *bev = NULL;
  if (c->https) {
    if (!(bev = sl_https_bev(c->base, c->ssl_ctx, c->host)))
      return NULL;
  }
  struct evhttp_connection *conn =
      evhttp_connection_base_bufferevent_new(c->base, NULL, bev, c->host, (unsigned short)c->port);
  if (!conn)
    return NULL;
  evhttp_connection_set_retries(conn, 0);
  struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
  evhttp_connection_set_timeout_tv(conn, &tv);
  return conn;
}

/* Send one request and wait for its answer. SL_OK with call->status set when
 * an answer came (any status); SL_ERR_UNAVAILABLE otherwise. `what` names
 * the request in messages. */
static int http_call(sl_registry_client *c, enum evhttp_cmd_type method, const char *path,
                     const char *body, reg_call *call, const char *what, sl_error *err) {
  struct evhttp_connection *conn = connect_to(c);
  struct evhttp_request *req = conn ? evhttp_request_new(on_done, call) : NULL;
  call->base = c->base;
  if (!req) {
    if (conn)
      evhttp_connection_free(conn);
    return sl_error_set(err, SL_ERR_NOMEM, "registry: cannot start a request to %s", c->url);
  }
  evhttp_request_set_error_cb(req, on_error);
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  char hostport[300];
  snprintf(hostport, sizeof hostport, "%s:%d", c->host, c->port);
  evhttp_add_header(h, "Host", hostport);
  evhttp_add_header(h, "Accept", ACCEPT);
  evhttp_add_header(h, "User-Agent", "sluice/" SLUICE_VERSION);
  if (c->auth)
    evhttp_add_header(h, "Authorization", c->auth);
  if (body) {
    evhttp_add_header(h, "Content-Type", "application/vnd.schemaregistry.v1+json");
    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
  }
  c->requests++;
  if (evhttp_make_request(conn, req, method, path) != 0) { /* libevent freed req */
    evhttp_connection_free(conn);
    return sl_error_set(err, SL_ERR_UNAVAILABLE, "registry at %s: cannot send %s", c->url, what);
  }
  event_base_dispatch(c->base); /* until on_done; evhttp's timeout bounds it */
  char why[160];
  const char *refused = c->https && call->status == 0 ? sl_https_refusal(conn, why, sizeof why)
                                                      : NULL;
  evhttp_connection_free(conn);
  if (call->status == 0) {
    sl_error_set(err, SL_ERR_UNAVAILABLE, "registry at %s unreachable for %s: %s", c->url, what,
                 refused ? refused : call->failure ? call->failure : "connection failed");
    if (err)
      err->retriable = 1;
    return SL_ERR_UNAVAILABLE;
  }
  return SL_OK;
}

/* A non-2xx answer as an error; Confluent puts {"error_code", "message"} in the body. */
static int answer_error(sl_registry_client *c, const reg_call *call, const char *what,
                        sl_error *err) {
  const char *msg = NULL;
  json_t *j = call->body.len ? json_loadb(call->body.data, call->body.len, 0, NULL) : NULL;
  if (json_is_object(j))
    msg = json_string_value(json_object_get(j, "message"));
  int code = call->status == 401 || call->status == 403 ? SL_ERR_INVALID
             : call->status >= 500                      ? SL_ERR_UNAVAILABLE
                                                        : SL_ERR_IO;
  if (code == SL_ERR_INVALID)
    sl_error_set(err, code,
                 "registry at %s refused %s (HTTP %d): check the credentials (user:pass in the "
                 "URL, or SLUICE_REGISTRY_USER / SLUICE_REGISTRY_PASSWORD)",
                 c->url, what, call->status);
  else
    sl_error_set(err, code, "registry at %s answered HTTP %d to %s%s%s", c->url, call->status, what,
                 msg ? ": " : "", msg ? msg : "");
  if (err && code == SL_ERR_UNAVAILABLE)
    err->retriable = 1;
  json_decref(j);
  return code;
}

/* ---- schemas by id ------------------------------------------------------ */

static reg_entry *find(sl_registry_client *c, int32_t id) {
  for (size_t i = 0; i < c->n; i++)
    if (c->entries[i].id == id)
      return &c->entries[i];
  return NULL;
}

static reg_entry *add(sl_registry_client *c, int32_t id) {
  if (c->n == c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 8;
    reg_entry *ne = realloc(c->entries, ncap * sizeof *ne);
    if (!ne)
      return NULL;
    c->entries = ne;
    c->cap = ncap;
  }
  reg_entry *e = &c->entries[c->n++];
  memset(e, 0, sizeof *e);
  e->id = id;
  return e;
}

/* GET /schemas/ids/{id}; the schema text in a malloc'd *out. */
static int fetch(sl_registry_client *c, int32_t id, char **out, sl_error *err) {
  char path[1200], what[64];
  reg_call call = {0};
  json_t *j = NULL;
  snprintf(path, sizeof path, "%s/schemas/ids/%d", c->prefix, (int)id);
  snprintf(what, sizeof what, "schema id %d", (int)id);
  int rc = http_call(c, EVHTTP_REQ_GET, path, NULL, &call, what, err);
  if (rc)
    goto out;
  if (call.status == 404) {
    rc = sl_error_set(err, SL_ERR_NOT_FOUND, "schema id %d not found in the registry at %s",
                      (int)id, c->url);
    goto out;
  }
  if (call.status != 200) {
    rc = answer_error(c, &call, what, err);
    goto out;
  }
  j = call.too_large ? NULL
                     : json_loadb(call.body.data ? call.body.data : "", call.body.len, 0, NULL);
  const char *schema = json_string_value(json_object_get(j, "schema"));
  const char *type = json_string_value(json_object_get(j, "schemaType"));
  if (!schema) {
    rc = sl_error_set(err, SL_ERR_PARSE,
                      "registry at %s: the answer for schema id %d has no \"schema\" string",
                      c->url, (int)id);
    goto out;
  }
  if (type && strcmp(type, "AVRO") != 0) {
    rc = sl_error_set(err, SL_ERR_INVALID, "schema id %d in the registry at %s is %s, not Avro",
                      (int)id, c->url, type);
    goto out;
  }
  if (!(*out = strdup(schema)))
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
out:
  json_decref(j);
  sl_buf_free(&call.body);
  return rc;
}

/* One lookup from the token bucket: lookups_per_minute, refilled continuously, at most that
 * many at once. Schema ids come from the records, so whoever can produce to the topic picks
 * them: each unknown id costs a blocking request of up to registry_timeout. */
static int take_lookup(sl_registry_client *c, int64_t now) {
  if (now > c->tokens_at) {
    c->tokens += (double)(now - c->tokens_at) * c->lookups_per_minute / 60000.0;
    if (c->tokens > c->lookups_per_minute)
      c->tokens = c->lookups_per_minute;
  }
  c->tokens_at = now;
  if (c->tokens < 1)
    return 0;
  c->tokens -= 1;
  return 1;
}

/* Room for one more entry when the table is full: the oldest remembered failure goes (its
 * id is simply looked up again if it shows up again); known schemas stay. */
static int make_room(sl_registry_client *c) {
  if (c->n < c->max_ids)
    return 1;
  size_t victim = c->n;
  for (size_t i = 0; i < c->n; i++)
    if (!c->entries[i].json && (victim == c->n || c->entries[i].retry_at < c->entries[victim].retry_at))
      victim = i;
  if (victim == c->n)
    return 0;
  free(c->entries[victim].message);
  c->entries[victim] = c->entries[--c->n];
  return 1;
}

int sl_registry_client_schema(sl_registry_client *c, int32_t id, const char **schema_json,
                              sl_error *err) {
  reg_entry *e = find(c, id);
  if (e && e->json) {
    *schema_json = e->json;
    return SL_OK;
  }
  int64_t now = c->now_ms(c->now_ud);
  if (e && now < e->retry_at) {
    sl_error_set(err, e->code, "%s", e->message ? e->message : "registry request failed");
    if (err)
      err->retriable = e->code == SL_ERR_UNAVAILABLE;
    return e->code;
  }
  if (!e && c->n >= c->max_ids && !make_room(c))
    return sl_error_set(err, SL_ERR_LIMIT,
                        "schema id %d was not looked up in the registry at %s: %zu schemas are "
                        "already known (registry_max_ids)",
                        (int)id, c->url, c->max_ids);
  if (!take_lookup(c, now))
    return sl_error_set(err, SL_ERR_LIMIT,
                        "schema id %d was not looked up in the registry at %s: more than %d "
                        "lookups of unknown schema ids per minute (registry_lookups_per_minute)",
                        (int)id, c->url, c->lookups_per_minute);
  if (!e && (!make_room(c) || !(e = add(c, id))))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_error local;
  sl_error_clear(&local);
  int rc = fetch(c, id, &e->json, &local);
  if (rc == SL_OK) {
    free(e->message);
    e->message = NULL;
    *schema_json = e->json;
    return SL_OK;
  }
  if (rc != SL_ERR_NOMEM) { /* remember it; out of memory is not the registry's fault */
    free(e->message);
    e->message = strdup(local.message);
    e->code = rc;
    e->retry_at = now + SL_REGISTRY_RETRY_MS;
  }
  if (err)
    *err = local;
  return rc;
}

/* ---- registration ------------------------------------------------------- */

int sl_registry_client_register(sl_registry_client *c, const char *subject, const char *schema_json,
                                int32_t *id, sl_error *err) {
  char *esc = evhttp_uriencode(subject, -1, 0);
  char *body = NULL, what[300];
  sl_buf path = SL_BUF_INIT;
  reg_call call = {0};
  json_t *j = NULL;
  int rc;
  json_t *req = json_pack("{s:s}", "schema", schema_json);
  if (!esc || !req || !(body = json_dumps(req, JSON_COMPACT)) ||
      sl_buf_printf(&path, "%s/subjects/%s/versions", c->prefix, esc)) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out;
  }
  snprintf(what, sizeof what, "the registration of subject '%s'", subject);
  if ((rc = http_call(c, EVHTTP_REQ_POST, path.data, body, &call, what, err)))
    goto out;
  if (call.status != 200) {
    rc = answer_error(c, &call, what, err);
    goto out;
  }
  j = json_loadb(call.body.data ? call.body.data : "", call.body.len, 0, NULL);
  json_t *jid = json_object_get(j, "id");
  if (!json_is_integer(jid) || json_integer_value(jid) < 0 || json_integer_value(jid) > INT32_MAX) {
    rc = sl_error_set(err, SL_ERR_PARSE, "registry at %s: the answer to %s has no integer \"id\"",
                      c->url, what);
    goto out;
  }
  *id = (int32_t)json_integer_value(jid);
  rc = SL_OK;
out:
  json_decref(j);
  json_decref(req);
  free(body);
  free(esc);
  sl_buf_free(&path);
  sl_buf_free(&call.body);
  return rc;
}
