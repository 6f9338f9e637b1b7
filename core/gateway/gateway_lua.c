/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway file: `sl.gateway{}` with `g:topic{}` and `g:mqtt{}` (and
 * `sl.param`, as in pipelines). Like the pipeline loader, Lua only declares:
 * each call copies its options into an sl_config checked against a config
 * map, and problems are collected as "FILE:LINE: message" rather than raised,
 * so one run reports them all. It is a loader of its own (not a method of
 * sl.pipeline) because a gateway has no graph: no sources, operators or
 * state. No C allocation is held across a Lua call that can raise. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "gateway/gateway.h"
#include "http/http_internal.h"

#define MT_GATEWAY "sluice.gateway"
/* A message blocks its MQTT client while it waits for Kafka: bounded so
 * that the keepalive derived from it stays reasonable (sl_gw_keepalive). */
#define MAX_TIMEOUT_MS (10 * 60 * 1000)
#define MIN_KEEPALIVE_SEC 30

typedef struct gw_loader {
  sl_gw_conf *conf;
  const char *const *params;
  size_t nparams;
} gw_loader;

static const sl_config_entry gateway_map[] = {
    {"name", SL_CFG_STRING, 0, "the file name", "metrics label and MQTT client id prefix"},
    {"listen", SL_CFG_STRING, 0, "0.0.0.0:8090", "HTTP address, or \"off\""},
    {"devices", SL_CFG_STRING, 0, NULL, "devices file: DEVICE_ID SHA256_HEX_OF_KEY per line"},
    {"max_inflight", SL_CFG_INT, 0, "10000", "records produced and not yet acknowledged"},
    {"max_body", SL_CFG_INT, 0, "1048576", "bytes of one request body"},
    {"max_pending_bytes", SL_CFG_INT, 0, "67108864",
     "memory held by HTTP requests waiting for Kafka before 429"},
    {"timeout", SL_CFG_DURATION, 0, "10s", "how long Kafka may take to acknowledge"},
    {"kafka", SL_CFG_TABLE, 0, NULL, "librdkafka properties"},
    {"dead_letter", SL_CFG_STRING, 0, NULL, "Kafka topic for invalid MQTT payloads"},
    {"coap", SL_CFG_TABLE, 0, NULL, "CoAP ingest: { listen, dtls, psk }"},
    {NULL, 0, 0, NULL, NULL},
};
static const sl_operator_desc gateway_desc = {.name = "gateway", .config = gateway_map};

static const sl_config_entry topic_map[] = {
    {"name", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "Kafka topic, and /ingest/{name}"},
    {"format", SL_CFG_STRING, 0, "json", "\"avro\" or \"json\""},
    {"schema", SL_CFG_STRING, 0, NULL, "Avro schema file (required for avro)"},
    {"key", SL_CFG_STRING, 0, "device_id", "field holding the device id"},
    {"registry", SL_CFG_STRING, 0, NULL, "Confluent schema-registry URL"},
    {"subject", SL_CFG_STRING, 0, "TOPIC-value", "schema-registry subject"},
    {"registry_timeout", SL_CFG_DURATION, 0, "5s", "schema-registry request timeout"},
    {NULL, 0, 0, NULL, NULL},
};
static const sl_operator_desc topic_desc = {.name = "topic", .config = topic_map};

static const sl_config_entry mqtt_map[] = {
    {"broker", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "mqtt://host:port"},
    {"subscribe", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "topic filter, e.g. plant/+/telemetry"},
    {"topic", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "gateway topic the messages go to"},
    {"device", SL_CFG_INT, 0, "the first '+' level", "topic level holding the device id"},
    {"dead_letter", SL_CFG_STRING, 0, "the gateway's", "Kafka topic for invalid payloads"},
    {"client_id", SL_CFG_STRING, 0, "sluice-NAME-N", "MQTT client id (persistent session)"},
    {NULL, 0, 0, NULL, NULL},
};
static const sl_operator_desc mqtt_desc = {.name = "mqtt", .config = mqtt_map};

static void conf_error(sl_gw_conf *c, int line, const char *fmt, ...) SL_PRINTF(3, 4);

static void conf_error(sl_gw_conf *c, int line, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char **ne = realloc(c->errors, (c->nerrors + 1) * sizeof *ne);
  if (!ne)
    return;
  c->errors = ne;
  size_t n = strlen(c->file) + strlen(msg) + 32;
  char *full = malloc(n);
  if (!full)
    return;
  snprintf(full, n, "%s:%d: %s", c->file, line, msg);
  c->errors[c->nerrors++] = full;
}

static gw_loader *loader(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

static int caller_line(lua_State *L) {
  lua_Debug ar;
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
    return ar.currentline;
  return 0;
}

/* Copy the Lua table at `idx` (strings, numbers, booleans, nested tables). */
static sl_config *to_config(gw_loader *g, lua_State *L, int idx, int line, int depth) {
  sl_config *c = sl_config_new(g->conf->file, line);
  if (!c)
    return NULL;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int t = lua_type(L, -1);
    if (!key)
      conf_error(g->conf, line, "options must have string keys");
    else if (t == LUA_TSTRING)
      sl_config_put_string(c, key, lua_tostring(L, -1));
    else if (t == LUA_TNUMBER)
      sl_config_put_number(c, key, lua_tonumber(L, -1));
    else if (t == LUA_TBOOLEAN)
      sl_config_put_bool(c, key, lua_toboolean(L, -1));
    else if (t == LUA_TTABLE && depth < 4)
      sl_config_put_table(c, key, to_config(g, L, -1, line, depth + 1));
    else
      conf_error(g->conf, line, "option '%s': a %s cannot be an option value", key,
                 lua_typename(L, t));
    lua_pop(L, 1);
  }
  return c;
}

/* The options table of a call, or NULL after reporting why not. */
static sl_config *call_options(gw_loader *g, lua_State *L, int idx, const char *what, int line) {
  if (lua_type(L, idx) == LUA_TTABLE)
    return to_config(g, L, idx, line, 0);
  conf_error(g->conf, line, "%s expects a table of options, not a %s", what,
             lua_typename(L, lua_type(L, idx)));
  return NULL;
}

typedef struct problem_ctx {
  sl_gw_conf *conf;
  int line;
} problem_ctx;

static void on_problem(void *ud, const sl_config *c, const char *msg) {
  (void)c;
  problem_ctx *p = ud;
  conf_error(p->conf, p->line, "%s", msg);
}

static int validate(gw_loader *g, const sl_config *c, const sl_operator_desc *d, int line) {
  problem_ctx p = {g->conf, line};
  return sl_config_validate(c, d, on_problem, &p);
}

static char *dup_opt(const sl_config *c, const char *key, const char *def) {
  const char *v = sl_config_string(c, key, def);
  return v ? strdup(v) : NULL;
}

/* ---- sl.gateway{ coap = {...} } ------------------------------------------- */

static const sl_config_entry coap_map[] = {
    {"listen", SL_CFG_STRING, 0, NULL, "coap:// address (UDP), devices send ?key=API_KEY"},
    {"dtls", SL_CFG_STRING, 0, NULL, "coaps:// address (DTLS with a pre-shared key per device)"},
    {"psk", SL_CFG_STRING, 0, NULL, "PSK file: DEVICE_ID KEY per line (a secret)"},
    {NULL, 0, 0, NULL, NULL},
};
static const sl_operator_desc coap_desc = {.name = "coap", .config = coap_map};

static char *coap_address(gw_loader *g, const sl_config *c, const char *key, int line) {
  const char *v = sl_config_string(c, key, NULL);
  char host[256];
  int port;
  sl_error err;
  sl_error_clear(&err);
  if (!v)
    return NULL;
  if (http_parse_listen(v, host, sizeof host, &port, &err) != SL_OK)
    conf_error(g->conf, line, "coap: %s: %s", key, err.message);
  return strdup(v);
}

static void apply_coap(gw_loader *g, const sl_config *c, int line) {
  sl_gw_coap_conf *cc = &g->conf->coap;
  if (validate(g, c, &coap_desc, line))
    return;
  cc->line = line;
  cc->listen = coap_address(g, c, "listen", line);
  cc->dtls = coap_address(g, c, "dtls", line);
  const char *psk = sl_config_string(c, "psk", NULL);
  if (psk) {
    char path[4096];
    sl_path_relative_to(g->conf->file, psk, path, sizeof path);
    cc->psk = strdup(path);
  }
  if (!cc->listen && !cc->dtls)
    conf_error(g->conf, line,
               "coap needs listen = \"HOST:PORT\" (coap://) and/or dtls = \"HOST:PORT\" "
               "(coaps://)");
  if (cc->dtls && !psk)
    conf_error(g->conf, line, "coap: dtls needs psk = \"FILE\" (DEVICE_ID KEY per line)");
  if (psk && !cc->dtls)
    conf_error(g->conf, line, "coap: psk is for coaps://: add dtls = \"HOST:PORT\"");
}

/* ---- sl.gateway{} ---------------------------------------------------------- */

static void apply_gateway(gw_loader *g, sl_config *c, int line) {
  sl_gw_conf *gc = g->conf;
  validate(g, c, &gateway_desc, line);
  const char *name = sl_config_string(c, "name", NULL);
  if (name) {
    free(gc->name);
    gc->name = strdup(name);
  }
  free(gc->listen);
  gc->listen = dup_opt(c, "listen", "0.0.0.0:8090");
  const char *devices = sl_config_string(c, "devices", NULL);
  if (devices) {
    char path[4096];
    sl_path_relative_to(gc->file, devices, path, sizeof path);
    gc->devices = strdup(path);
  }
  gc->max_inflight = sl_config_int(c, "max_inflight", 10000);
  gc->max_body = sl_config_int(c, "max_body", 1 << 20);
  gc->max_pending_bytes = sl_config_int(c, "max_pending_bytes", 64 << 20);
  gc->timeout_ms = sl_config_duration_ms(c, "timeout", 10000);
  if (gc->max_inflight < 1 || gc->max_inflight > 1000000)
    conf_error(gc, line, "max_inflight must be between 1 and 1000000");
  if (gc->max_body < 2 || gc->max_body > (64 << 20))
    conf_error(gc, line, "max_body must be between 2 and 67108864 bytes");
  if (gc->max_pending_bytes < gc->max_body)
    conf_error(gc, line, "max_pending_bytes must be at least max_body (%lld bytes)",
               (long long)gc->max_body);
  if (gc->timeout_ms < 100 || gc->timeout_ms > MAX_TIMEOUT_MS)
    conf_error(gc, line, "timeout must be between 100ms and 10m");
  gc->dead_letter = dup_opt(c, "dead_letter", NULL);
  const sl_config *coap = sl_config_table(c, "coap");
  if (coap)
    apply_coap(g, coap, line);
  gc->options = c; /* kept: the kafka table is a child of it */
  gc->kafka = sl_config_table(c, "kafka");
}

static int sl_gateway_fn(lua_State *L) {
  gw_loader *g = loader(L);
  int line = caller_line(L);
  if (g->conf->declared) {
    conf_error(g->conf, line, "sl.gateway called twice");
  } else {
    g->conf->declared = line;
    sl_config *c = call_options(g, L, 1, "sl.gateway", line);
    if (!c)
      c = sl_config_new(g->conf->file, line);
    if (!c)
      return luaL_error(L, "out of memory");
    apply_gateway(g, c, line);
  }
  lua_newtable(L);
  luaL_setmetatable(L, MT_GATEWAY);
  return 1;
}

/* ---- g:topic{} ------------------------------------------------------------- */

static void check_topic(gw_loader *g, const sl_gw_topic *t, const sl_config *c, int line) {
  if (strcmp(t->format, "avro") != 0 && strcmp(t->format, "json") != 0)
    conf_error(g->conf, line, "topic '%s': format must be \"avro\" or \"json\", not \"%s\"",
               t->name, t->format);
  else if (strcmp(t->format, "avro") == 0 && !sl_config_has(c, "schema"))
    conf_error(g->conf, line, "topic '%s': format \"avro\" needs schema = \"FILE.avsc\"", t->name);
  if (!*t->name || strchr(t->name, '/'))
    conf_error(g->conf, line, "topic name '%s' must be non-empty and without '/'", t->name);
  for (size_t i = 0; i + 1 < g->conf->ntopics; i++)
    if (strcmp(g->conf->topics[i].name, t->name) == 0)
      conf_error(g->conf, line, "topic '%s' declared twice (first at line %d)", t->name,
                 g->conf->topics[i].line);
}

static int gateway_topic(lua_State *L) {
  gw_loader *g = loader(L);
  int line = caller_line(L);
  sl_config *c = call_options(g, L, 2, "g:topic", line);
  if (!c || validate(g, c, &topic_desc, line) || !sl_config_string(c, "name", NULL)) {
    sl_config_destroy(c);
    return 0;
  }
  sl_gw_topic *nt = realloc(g->conf->topics, (g->conf->ntopics + 1) * sizeof *nt);
  if (!nt) {
    sl_config_destroy(c);
    return luaL_error(L, "out of memory");
  }
  g->conf->topics = nt;
  sl_gw_topic *t = &nt[g->conf->ntopics++];
  memset(t, 0, sizeof *t);
  t->cfg = c;
  t->line = line;
  t->name = dup_opt(c, "name", "");
  t->format = dup_opt(c, "format", "json");
  t->key = dup_opt(c, "key", "device_id");
  t->key_name = sl_name_cstr(t->key ? t->key : "");
  if (!t->name || !t->format || !t->key || !t->key_name)
    return luaL_error(L, "out of memory");
  check_topic(g, t, c, line);
  return 0;
}

/* ---- g:mqtt{} -------------------------------------------------------------- */

/* "mqtt://host[:port]" -> host, port (1883 by default). */
static int parse_broker(const char *url, char **host, int *port) {
  if (strncmp(url, "mqtt://", 7) != 0)
    return -1;
  const char *h = url + 7, *colon = strrchr(h, ':');
  size_t hl = colon ? (size_t)(colon - h) : strcspn(h, "/");
  *port = 1883;
  if (colon) {
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (p < 1 || p > 65535 || (*end && *end != '/'))
      return -1;
    *port = (int)p;
  }
  if (hl == 0)
    return -1;
  *host = strndup(h, hl);
  return *host ? 0 : -1;
}

/* 1-based level of the first '+' in the filter, 0 if none. */
static int first_plus(const char *filter) {
  int level = 1;
  for (const char *p = filter; *p; p++) {
    if (*p == '/')
      level++;
    else if (*p == '+')
      return level;
  }
  return 0;
}

static void check_mqtt(gw_loader *g, sl_gw_mqtt *m, const sl_config *c, int line) {
  const char *broker = sl_config_string(c, "broker", "");
  if (parse_broker(broker, &m->host, &m->port) != 0)
    conf_error(g->conf, line, "mqtt: broker must be \"mqtt://host:port\", not \"%s\"", broker);
  /* Levels count in the topics messages arrive on: without "$share/GROUP/". */
  const char *filter = sl_gw_filter_topics(m->subscribe);
  if (!filter) {
    conf_error(g->conf, line, "mqtt: a shared subscription is '$share/GROUP/FILTER', not '%s'",
               m->subscribe);
    return;
  }
  int plus = first_plus(filter);
  m->device_level = (int)sl_config_int(c, "device", plus);
  size_t len;
  const char *lvl = sl_gw_topic_level(filter, m->device_level, &len);
  if (!lvl || len != 1 || *lvl != '+')
    conf_error(g->conf, line,
               "mqtt: device = %d must name a '+' level of '%s' (it holds the device id)",
               m->device_level, filter);
}

static int gateway_mqtt(lua_State *L) {
  gw_loader *g = loader(L);
  int line = caller_line(L);
  sl_config *c = call_options(g, L, 2, "g:mqtt", line);
  if (!c || validate(g, c, &mqtt_desc, line)) {
    sl_config_destroy(c);
    return 0;
  }
  sl_gw_mqtt *nm = realloc(g->conf->mqtt, (g->conf->nmqtt + 1) * sizeof *nm);
  if (!nm) {
    sl_config_destroy(c);
    return luaL_error(L, "out of memory");
  }
  g->conf->mqtt = nm;
  sl_gw_mqtt *m = &nm[g->conf->nmqtt++];
  memset(m, 0, sizeof *m);
  m->line = line;
  m->subscribe = dup_opt(c, "subscribe", "");
  m->topic = dup_opt(c, "topic", "");
  m->dead_letter = dup_opt(c, "dead_letter", NULL);
  char id[256];
  snprintf(id, sizeof id, "sluice-%s-%zu", g->conf->name, g->conf->nmqtt);
  m->client_id = dup_opt(c, "client_id", id);
  if (m->subscribe && m->topic && m->client_id)
    check_mqtt(g, m, c, line);
  sl_config_destroy(c);
  if (!m->subscribe || !m->topic || !m->client_id)
    return luaL_error(L, "out of memory");
  return 0;
}

/* ---- sl.param, module ------------------------------------------------------ */

/* sl.param("a.b", default): the --set value converted to the default's type. */
static int sl_param_fn(lua_State *L) {
  gw_loader *g = loader(L);
  const char *key = luaL_checkstring(L, 1);
  size_t klen = strlen(key);
  for (size_t i = g->nparams; i-- > 0;) { /* the last --set wins */
    const char *p = g->params[i];
    if (strncmp(p, key, klen) != 0 || p[klen] != '=')
      continue;
    const char *v = p + klen + 1;
    if (lua_type(L, 2) == LUA_TNUMBER) {
      if (!lua_stringtonumber(L, v))
        return luaL_error(L, "--set %s=%s: expected a number", key, v);
    } else if (lua_type(L, 2) == LUA_TBOOLEAN) {
      if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
        return luaL_error(L, "--set %s=%s: expected true or false", key, v);
      lua_pushboolean(L, strcmp(v, "true") == 0);
    } else {
      lua_pushstring(L, v);
    }
    return 1;
  }
  lua_settop(L, 2);
  return 1;
}

static int not_in_gateway(lua_State *L) {
  return luaL_error(L, "sl.pipeline belongs in a pipeline file (sluice run); a gateway file "
                       "declares sl.gateway{...}");
}

static int open_module(lua_State *L) {
  static const luaL_Reg fns[] = {{"gateway", sl_gateway_fn},
                                 {"param", sl_param_fn},
                                 {"pipeline", not_in_gateway},
                                 {NULL, NULL}};
  luaL_newlibtable(L, fns);
  lua_pushvalue(L, lua_upvalueindex(1));
  luaL_setfuncs(L, fns, 1);
  lua_pushstring(L, SLUICE_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}

static void register_module(lua_State *L, gw_loader *g) {
  static const luaL_Reg methods[] = {
      {"topic", gateway_topic}, {"mqtt", gateway_mqtt}, {NULL, NULL}};
  luaL_newmetatable(L, MT_GATEWAY);
  luaL_newlibtable(L, methods);
  lua_pushlightuserdata(L, g);
  luaL_setfuncs(L, methods, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushlightuserdata(L, g);
  lua_pushcclosure(L, open_module, 1);
  lua_setfield(L, -2, "sluice");
  lua_pop(L, 1);
}

/* ---- loading --------------------------------------------------------------- */

static int traceback_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  lua_pushstring(L, msg ? msg : "(error object is not a string)");
  return 1;
}

/* Checks that need the whole file: references between declarations. */
static void check_whole(sl_gw_conf *c) {
  if (!c->declared) {
    conf_error(c, 1, "no sl.gateway{...} in this file");
    return;
  }
  if (c->ntopics == 0)
    conf_error(c, c->declared, "the gateway declares no topic: add g:topic{name = ...}");
  if (strcmp(c->listen, "off") != 0 && !c->devices)
    conf_error(c, c->declared, "HTTP ingest needs devices = \"FILE\" (or listen = \"off\")");
  if (c->coap.listen && !c->devices)
    conf_error(c, c->coap.line, "coap: listen (keys in the query) needs devices = \"FILE\"");
  for (size_t i = 0; i < c->nmqtt; i++) {
    sl_gw_mqtt *m = &c->mqtt[i];
    if (!sl_gw_conf_topic(c, m->topic, strlen(m->topic)))
      conf_error(c, m->line, "mqtt: topic '%s' is not declared with g:topic{...}", m->topic);
    if (!m->dead_letter && c->dead_letter)
      m->dead_letter = strdup(c->dead_letter);
    m->keepalive = sl_gw_keepalive(c->timeout_ms);
  }
}

int sl_gw_keepalive(int64_t timeout_ms) {
  /* Blocked for at most 2 timeouts (the message, then its dead letter);
   * 10 s more for the reports to be served. */
  int64_t sec = 2 * ((timeout_ms + 999) / 1000) + 10;
  return sec < MIN_KEEPALIVE_SEC ? MIN_KEEPALIVE_SEC : (int)sec;
}

static int run_file(sl_gw_conf *c, gw_loader *g, sl_error *err) {
  lua_State *L = luaL_newstate();
  if (!L)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  luaL_openlibs(L);
  register_module(L, g);
  lua_pushcfunction(L, traceback_handler);
  int status = luaL_loadfile(L, c->file);
  int rc = SL_OK;
  if (status == LUA_ERRFILE) {
    rc = sl_error_set(err, SL_ERR_NOT_FOUND, "%s", lua_tostring(L, -1));
  } else {
    if (status == LUA_OK)
      status = lua_pcall(L, 0, 0, -2);
    if (status != LUA_OK) { /* Lua messages already read "file:line: message" */
      const char *msg = lua_tostring(L, -1);
      char **ne = realloc(c->errors, (c->nerrors + 1) * sizeof *ne);
      if (ne) {
        c->errors = ne;
        ne[c->nerrors] = strdup(msg ? msg : "unknown Lua error");
        c->nerrors += ne[c->nerrors] != NULL;
      }
    }
  }
  lua_close(L);
  return rc;
}

static void default_name(sl_gw_conf *c) {
  const char *base = strrchr(c->file, '/');
  base = base ? base + 1 : c->file;
  size_t n = strlen(base);
  if (n > 4 && strcmp(base + n - 4, ".lua") == 0)
    n -= 4;
  c->name = strndup(base, n);
}

sl_gw_conf *sl_gw_conf_load(const char *path, const char *const *params, size_t nparams,
                            sl_error *err) {
  sl_gw_conf *c = calloc(1, sizeof *c);
  if (!c || !(c->file = strdup(path)) || (default_name(c), !c->name) ||
      !(c->listen = strdup("0.0.0.0:8090"))) {
    sl_gw_conf_free(c);
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  c->max_inflight = 10000;
  c->max_body = 1 << 20;
  c->max_pending_bytes = 64 << 20;
  c->timeout_ms = 10000;
  gw_loader g = {c, params, nparams};
  if (run_file(c, &g, err) != SL_OK) {
    sl_gw_conf_free(c);
    return NULL;
  }
  if (c->nerrors == 0)
    check_whole(c);
  return c;
}

const sl_gw_topic *sl_gw_conf_topic(const sl_gw_conf *c, const char *name, size_t len) {
  for (size_t i = 0; i < c->ntopics; i++)
    if (strlen(c->topics[i].name) == len && memcmp(c->topics[i].name, name, len) == 0)
      return &c->topics[i];
  return NULL;
}

static int open_topic(const sl_gw_conf *c, sl_gw_topic *t, sl_error *err) {
  char subject[512];
  snprintf(subject, sizeof subject, "%s-value", t->name);
  t->fmt = sl_format_open_subject(t->cfg, t->format, subject, err);
  if (!t->fmt)
    goto fail;
  const char *schema = sl_config_string(t->cfg, "schema", NULL);
  if (strcmp(t->format, "json") == 0 && schema) {
    char path[4096];
    sl_path_relative_to(c->file, schema, path, sizeof path);
    if (!(t->check = sl_avro_schema_load(path, err)))
      goto fail;
  }
  return SL_OK;
fail:;
  char msg[sizeof err->message];
  snprintf(msg, sizeof msg, "%s", err->message);
  return sl_error_set(err, err->code ? err->code : SL_ERR_INVALID, "%s:%d: topic '%s': %s", c->file,
                      t->line, t->name, msg);
}

int sl_gw_conf_open(sl_gw_conf *c, sl_error *err) {
  for (size_t i = 0; i < c->ntopics; i++) {
    int rc = open_topic(c, &c->topics[i], err);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

void sl_gw_conf_free(sl_gw_conf *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->ntopics; i++) {
    sl_gw_topic *t = &c->topics[i];
    free(t->name);
    free(t->format);
    free(t->key);
    sl_config_destroy(t->cfg);
    sl_format_free(t->fmt);
    sl_avro_schema_free(t->check);
  }
  for (size_t i = 0; i < c->nmqtt; i++) {
    sl_gw_mqtt *m = &c->mqtt[i];
    free(m->host);
    free(m->subscribe);
    free(m->topic);
    free(m->dead_letter);
    free(m->client_id);
  }
  for (size_t i = 0; i < c->nerrors; i++)
    free(c->errors[i]);
  free(c->errors);
  free(c->topics);
  free(c->mqtt);
  sl_config_destroy(c->options);
  free(c->file);
  free(c->name);
  free(c->listen);
  free(c->devices);
  free(c->dead_letter);
  free(c->coap.listen);
  free(c->coap.dtls);
  free(c->coap.psk);
  free(c);
}
