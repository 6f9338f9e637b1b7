/* SPDX-License-Identifier: Apache-2.0 */
/* Server-Sent Events at /api/v1/events. Each client owns a bounded
 * subscription on the event bus; the publisher wakes the client's libevent
 * event (thread-safe event_active), and the server thread moves queued events
 * into the chunked response. A client is dropped when its subscription
 * overflows or when more than sse_max_bytes wait unsent in its socket buffer,
 * so one stalled browser costs bounded memory and never slows the pipeline. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "http/events.h"
#include "http/http_internal.h"

struct sse_client {
  sse_client *next, *prev;
  sl_http_server *s;
  struct evhttp_request *req;
  struct evhttp_connection *evcon;
  sl_event_sub *sub;
  struct event *wake;      /* activated by the publisher */
  struct event *keepalive; /* periodic comment line */
};

static void notify(void *ud) {
  sse_client *c = ud;
  event_active(c->wake, EV_READ, 0);
}

static void unlink_free(sse_client *c) {
  sl_http_server *s = c->s;
  sl_events_unsubscribe(c->sub); /* after this, notify() never runs again */
  if (c->wake)
    event_free(c->wake);
  if (c->keepalive)
    event_free(c->keepalive);
  if (c->prev)
    c->prev->next = c->next;
  else if (s->sse_list == c)
    s->sse_list = c->next;
  if (c->next)
    c->next->prev = c->prev;
  s->sse_count--;
  sl_metric_set(s->m_sse_clients, (double)s->sse_count);
  free(c);
}

/* Called from the connection's close callback. The request either still
 * belongs to the connection (which frees it next) or was detached by evhttp
 * on EOF, in which case finishing the reply frees it. */
void http_sse_closed(sl_http_server *s, sse_client *c) {
  (void)s;
  if (!evhttp_request_get_connection(c->req))
    evhttp_send_reply_end(c->req);
  unlink_free(c);
}

static void drop(sse_client *c) {
  sl_metric_add(c->s->m_sse_dropped, 1);
  /* Frees the connection; its close callback frees the client. */
  evhttp_connection_free(c->evcon);
}

static size_t pending_bytes(sse_client *c) {
  struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
  return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

/* One SSE frame: id, event, and the JSON split into data: lines. */
static void frame(struct evbuffer *b, const sl_event_msg *m) {
  evbuffer_add_printf(b, "id: %llu\nevent: %s\n", (unsigned long long)m->id, m->type);
  const char *p = m->json, *end = m->json + m->json_len;
  do {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    if (stop > p && stop[-1] == '\r')
      stop--;
    evbuffer_add(b, "data: ", 6);
    evbuffer_add(b, p, (size_t)(stop - p));
    evbuffer_add(b, "\n", 1);
    p = nl ? nl + 1 : end;
  } while (p < end);
  evbuffer_add(b, "\n", 1);
}

static void on_wake(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sse_client *c = arg;
  struct evbuffer *b = evbuffer_new();
  if (!b)
    return;
  sl_event_msg m;
  int rc;
  while ((rc = sl_events_next(c->sub, &m)) == 1) {
    frame(b, &m);
    sl_events_msg_release(&m);
  }
  if (rc < 0 || pending_bytes(c) + evbuffer_get_length(b) > c->s->cfg.sse_max_bytes) {
    evbuffer_free(b);
    drop(c);
    return;
  }
  if (evbuffer_get_length(b))
    evhttp_send_reply_chunk(c->req, b);
  evbuffer_free(b);
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sse_client *c = arg;
  struct evbuffer *b = evbuffer_new();
  if (!b)
    return;
  evbuffer_add(b, ": keepalive\n\n", 13);
  evhttp_send_reply_chunk(c->req, b);
  evbuffer_free(b);
}

void http_sse_start(sl_http_server *s, struct evhttp_request *req, http_conn *conn) {
  if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
    http_reply(s, req, 200, "text/event-stream", NULL, 0);
    return;
  }
  sse_client *c = calloc(1, sizeof *c);
  if (!c)
    goto oom;
  c->s = s;
  c->req = req;
  c->evcon = evhttp_request_get_connection(req);
  c->wake = event_new(s->base, -1, 0, on_wake, c);
  c->keepalive = event_new(s->base, -1, EV_PERSIST, on_keepalive, c);
  if (!c->wake || !c->keepalive)
    goto oom;
  c->sub = sl_events_subscribe(s->cfg.sse_max_events, s->cfg.sse_max_bytes, notify, c);
  if (!c->sub)
    goto oom;
  c->next = s->sse_list;
  if (s->sse_list)
    s->sse_list->prev = c;
  s->sse_list = c;
  s->sse_count++;
  sl_metric_set(s->m_sse_clients, (double)s->sse_count);
  conn->sse = c;

  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", "text/event-stream");
  evhttp_add_header(h, "Cache-Control", "no-store");
  evhttp_add_header(h, "X-Accel-Buffering", "no");
  http_count(s, 200);
  evhttp_send_reply_start(req, 200, "OK");
  struct evbuffer *b = evbuffer_new();
  if (b) {
    evbuffer_add_printf(b, "retry: 2000\n: connected\n\n");
    evhttp_send_reply_chunk(req, b);
    evbuffer_free(b);
  }
  unsigned ms = s->cfg.sse_keepalive_ms;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  event_add(c->keepalive, &tv);
  /* The read timeout would cut a quiet stream: the client only listens. */
  evhttp_connection_set_timeout(c->evcon, -1);
  return;
oom:
  if (c) {
    if (c->wake)
      event_free(c->wake);
    if (c->keepalive)
      event_free(c->keepalive);
    free(c);
  }
  http_reply_error(s, req, 500, "out of memory");
}

void http_sse_free_all(sl_http_server *s) {
  /* Normally empty: evhttp_free closed every connection and the close
   * callbacks freed their clients. */
  while (s->sse_list)
    unlink_free(s->sse_list);
}
