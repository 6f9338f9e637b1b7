/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP API server (core/http/http_*.c): the input is what a client sends on
 * one connection (request line, headers, body; maybe several requests),
 * written to a server started once on a loopback port; the target reads the
 * answer until the server closes the connection. The server requires the
 * bearer token "fuzz-token" (the corpus carries it), has no Redis (a closed
 * port: the endpoints that need it answer 503) and no rate limit. Request
 * parsing is libevent's; routing, auth, limits and the endpoints are ours. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_support.h"
#include "http/http_server.h"
#include "registry_fixture.h"

/* Longest wait for the server between two reads: an answer that keeps the
 * connection open (a Server-Sent Events stream) ends the input after it. */
#define IDLE_MS 100

static sl_http_server *server;
static int port;

static int ready(void *ud) {
  (void)ud;
  return 1;
}

static int pipelines_json(void *ud, sl_buf *out) {
  (void)ud;
  static const char doc[] =
      "{\"pipelines\":[{\"name\":\"demo\",\"status\":\"running\",\"nodes\":[{\"id\":\"n1\","
      "\"kind\":\"filter\",\"label\":\"temperature > 80\"}],\"edges\":[],\"caches\":[]}]}";
  return sl_buf_append(out, doc, sizeof doc - 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  signal(SIGPIPE, SIG_IGN);
  static const char *const names[] = {"demo"};
  char redis[64];
  snprintf(redis, sizeof redis, "redis://127.0.0.1:%d", fr_closed_port());
  sl_http_config cfg = {0};
  cfg.listen = "127.0.0.1:0";
  cfg.api_token = "fuzz-token";
  cfg.redis_url = redis;
  cfg.pipelines = names;
  cfg.npipelines = 1;
  cfg.rate_per_sec = -1;
  cfg.ready = ready;
  cfg.pipelines_json = pipelines_json;
  sl_error err;
  sl_error_clear(&err);
  if (!(server = sl_http_start(&cfg, &err)))
    fuzz_fail("cannot start the HTTP server: %s", err.message);
  port = sl_http_port(server);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    fuzz_fail("socket: %s", strerror(errno));
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    /* libFuzzer's timeout alarm (SIGALRM) may interrupt the connect, which
     * then completes on its own. */
    int e = errno, soerr = 0;
    socklen_t len = sizeof soerr;
    struct pollfd w = {fd, POLLOUT, 0};
    if (e == EINTR)
      while (poll(&w, 1, -1) < 0 && errno == EINTR) {
      }
    if (e != EINTR || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0)
      fuzz_fail("connect to the server: %s", strerror(e != EINTR ? e : soerr ? soerr : errno));
  }
  /* The server may answer (and close) before it has read everything: a
   * failed write is an answer too. */
  size_t off = 0;
  while (off < size) {
    ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  shutdown(fd, SHUT_WR);
  char buf[16384];
  struct pollfd p = {fd, POLLIN, 0};
  for (;;) {
    int ready = poll(&p, 1, IDLE_MS);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
  }
  close(fd);
  return 0;
}
