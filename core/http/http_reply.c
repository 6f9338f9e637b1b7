/* SPDX-License-Identifier: Apache-2.0 */
/* Replies: every response of the API server, the SSE endpoint and the
 * gateway goes out through here, counted by status class. The lowest layer of
 * http/: the router (http_server.c), the API (http_api.c) and SSE
 * (http_sse.c) call it, it calls none of them. */
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <string.h>

#include "http/http_internal.h"

static const char *reason(int code) {
  switch (code) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  default: return "Status";
  }
}

void http_count(sl_http_server *s, int code) {
  int cls = code / 100;
  if (cls >= 1 && cls <= 5)
    sl_metric_add(s->m_requests[cls], 1);
}

void http_reply(sl_http_server *s, struct evhttp_request *req, int code, const char *ctype,
                const char *body, size_t len) {
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", ctype);
  evhttp_add_header(h, "Cache-Control", "no-store");
  evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
  struct evbuffer *out = evbuffer_new();
  if (out && len)
    evbuffer_add(out, body, len);
  http_count(s, code);
  evhttp_send_reply(req, code, reason(code), out);
  if (out)
    evbuffer_free(out);
}

void http_reply_json(sl_http_server *s, struct evhttp_request *req, int code, const sl_buf *b) {
  http_reply(s, req, code, "application/json", b->data ? b->data : "", b->len);
}

void http_reply_error(sl_http_server *s, struct evhttp_request *req, int code, const char *msg) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_puts(&b, "{\"error\":");
  sl_buf_json_string(&b, msg, strlen(msg));
  sl_buf_printf(&b, ",\"status\":%d}", code);
  if (code == 401)
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                      "Bearer realm=\"sluice\"");
  http_reply_json(s, req, code, &b);
  sl_buf_free(&b);
}
