/* SPDX-License-Identifier: Apache-2.0 */
/* The fake schema registry of registry_fixture.h. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "registry_fixture.h"
#include "tls_fixture.h"

static void reply_json(struct evhttp_request *req, int status, json_t *j) {
  char *text = json_dumps(j, JSON_COMPACT);
  struct evbuffer *out = evbuffer_new();
  evbuffer_add(out, text, strlen(text));
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                    "application/vnd.schemaregistry.v1+json");
  evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", out);
  evbuffer_free(out);
  free(text);
  json_decref(j);
}

static void handle_get(fr_server *s, struct evhttp_request *req, int id) {
  for (int i = 0; i < s->nschemas; i++)
    if (s->schemas[i].id == id) {
      s->gets[i]++;
      reply_json(req, 200, json_pack("{s:s}", "schema", s->schemas[i].json));
      return;
    }
  s->unknown_gets++;
  char msg[64];
  snprintf(msg, sizeof msg, "Schema %d not found", id);
  reply_json(req, 404, json_pack("{s:i,s:s}", "error_code", 40403, "message", msg));
}

static void handle_post(fr_server *s, struct evhttp_request *req, const char *subject) {
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t n = evbuffer_get_length(in);
  char *body = malloc(n + 1);
  evbuffer_copyout(in, body, n);
  body[n] = '\0';
  json_t *j = json_loads(body, 0, NULL);
  free(body);
  const char *schema = json_string_value(json_object_get(j, "schema"));
  s->posts++;
  if (!schema || s->nschemas == FR_MAX) {
    json_decref(j);
    reply_json(req, 422, json_pack("{s:i,s:s}", "error_code", 42201, "message", "bad schema"));
    return;
  }
  int id = -1;
  for (int i = 0; i < s->nschemas; i++)
    if (strcmp(s->schemas[i].json, schema) == 0)
      id = s->schemas[i].id;
  if (id < 0) {
    fr_schema *e = &s->schemas[s->nschemas++];
    e->id = id = s->next_id++;
    e->json = strdup(schema);
    snprintf(e->subject, sizeof e->subject, "%s", subject);
  }
  json_decref(j);
  reply_json(req, 200, json_pack("{s:i}", "id", id));
}

static void handle(struct evhttp_request *req, void *arg) {
  fr_server *s = arg;
  const char *uri = evhttp_request_get_uri(req);
  const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  char subject[128];
  int id;
  pthread_mutex_lock(&s->mu);
  s->requests++;
  snprintf(s->auth, sizeof s->auth, "%s", auth ? auth : "");
  snprintf(s->last_path, sizeof s->last_path, "%s", uri);
  if (s->answer_status)
    reply_json(
        req, s->answer_status,
        json_pack("{s:i,s:s}", "error_code", s->answer_status, "message", "configured failure"));
  else if (evhttp_request_get_command(req) == EVHTTP_REQ_GET &&
           sscanf(uri, "/schemas/ids/%d", &id) == 1)
    handle_get(s, req, id);
  else if (evhttp_request_get_command(req) == EVHTTP_REQ_POST &&
           sscanf(uri, "/subjects/%127[^/]/versions", subject) == 1)
    handle_post(s, req, subject);
  else
    reply_json(req, 404, json_pack("{s:i,s:s}", "error_code", 404, "message", "no such path"));
  pthread_mutex_unlock(&s->mu);
}

static void *run(void *arg) {
  fr_server *s = arg;
  event_base_dispatch(s->base);
  return NULL;
}

int fr_start(fr_server *s) { return fr_start_tls(s, NULL); }

int fr_start_tls(fr_server *s, SSL_CTX *tls) {
  static int threads_on;
  if (!threads_on && evthread_use_pthreads() == 0)
    threads_on = 1; /* loopexit from the test thread */
  memset(s, 0, sizeof *s);
  s->tls = tls;
  s->next_id = 100;
  pthread_mutex_init(&s->mu, NULL);
  s->base = event_base_new();
  s->http = s->base ? evhttp_new(s->base) : NULL;
  if (!s->http)
    return -1;
  evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
  evhttp_set_gencb(s->http, handle, s);
  if (tls)
    evhttp_set_bevcb(s->http, tls_fixture_bevcb, tls);
  struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
  if (!bs)
    return -1;
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &len);
  s->port = ntohs(sa.sin_port);
  snprintf(s->url, sizeof s->url, "%s://127.0.0.1:%d", tls ? "https" : "http", s->port);
  return pthread_create(&s->thread, NULL, run, s);
}

void fr_stop(fr_server *s) {
  event_base_loopexit(s->base, NULL);
  pthread_join(s->thread, NULL);
  evhttp_free(s->http);
  event_base_free(s->base);
  for (int i = 0; i < s->nschemas; i++)
    free(s->schemas[i].json);
  pthread_mutex_destroy(&s->mu);
  SSL_CTX_free(s->tls);
}

void fr_add(fr_server *s, int id, const char *json) {
  pthread_mutex_lock(&s->mu);
  if (s->nschemas < FR_MAX) {
    s->schemas[s->nschemas].id = id;
    s->schemas[s->nschemas].json = strdup(json);
    s->schemas[s->nschemas].subject[0] = '\0';
    s->nschemas++;
  }
  pthread_mutex_unlock(&s->mu);
}

int fr_requests(fr_server *s) {
  pthread_mutex_lock(&s->mu);
  int n = s->requests;
  pthread_mutex_unlock(&s->mu);
  return n;
}

int fr_gets(fr_server *s, int id) {
  int n = 0;
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < s->nschemas; i++)
    if (s->schemas[i].id == id)
      n = s->gets[i];
  pthread_mutex_unlock(&s->mu);
  return n;
}

void fr_auth(fr_server *s, char *out, size_t n) {
  pthread_mutex_lock(&s->mu);
  snprintf(out, n, "%s", s->auth);
  pthread_mutex_unlock(&s->mu);
}

int fr_registered(fr_server *s, const char *subject, int *id, char *out, size_t n) {
  int found = 0;
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < s->nschemas && !found; i++)
    if (strcmp(s->schemas[i].subject, subject) == 0) {
      *id = s->schemas[i].id;
      snprintf(out, n, "%s", s->schemas[i].json);
      found = 1;
    }
  pthread_mutex_unlock(&s->mu);
  return found;
}

int fr_closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  bind(fd, (struct sockaddr *)&sa, sizeof sa);
  getsockname(fd, (struct sockaddr *)&sa, &len);
  close(fd);
  return ntohs(sa.sin_port);
}

int fr_silent_listener(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 8)) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  getsockname(fd, (struct sockaddr *)&sa, &len);
  *port = ntohs(sa.sin_port);
  return fd;
}
