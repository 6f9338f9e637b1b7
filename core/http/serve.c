/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice serve`: the application API and dashboard alone, reading Redis,
 * so the API scales apart from the workers. The pipelines document comes
 * from what workers announce in `sl:pipelines`, refreshed every 2 s by a
 * thread of its own so that the HTTP thread never waits for Redis. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/exit_code.h"
#include "base/log.h"
#include "http/http_server.h"
#include "http/serve.h"
#include "redis.h"

typedef struct serve_state {
  pthread_mutex_t lock;
  char *doc;        /* latest {"pipelines":[...]}, malloc'd */
  const char *redis_url;
} serve_state;

static volatile sig_atomic_t serve_stop;

static void on_signal(int sig) {
  (void)sig;
  serve_stop = 1;
}

static int serve_pipelines(void *ud, sl_buf *out) {
  serve_state *s = ud;
  pthread_mutex_lock(&s->lock);
  int rc = sl_buf_puts(out, s->doc ? s->doc : "{\"pipelines\":[]}");
  pthread_mutex_unlock(&s->lock);
  return rc;
}

static void *refresh_loop(void *ud) {
  serve_state *s = ud;
  sl_error err;
  sl_redis *r = sl_redis_new(s->redis_url, NULL, &err);
  while (r && !serve_stop) {
    int64_t retry_in;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    sl_buf doc = SL_BUF_INIT;
    if (sl_redis_ensure(r, now_ms, &retry_in, &err) == SL_OK &&
        sl_pipelines_list(r, &doc, &err) == SL_OK && doc.data) {
      pthread_mutex_lock(&s->lock);
      free(s->doc);
      s->doc = doc.data;
      pthread_mutex_unlock(&s->lock);
    } else {
      sl_buf_free(&doc);
    }
    for (int i = 0; i < 20 && !serve_stop; i++) {
      struct timespec ts = {0, 100 * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
  sl_redis_free(r);
  return NULL;
}

int sl_serve_main(const char *listen, const char *tls_cert, const char *tls_key) {
  serve_state s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.lock, NULL);
  const char *url = getenv("SLUICE_REDIS_URL");
  s.redis_url = url && *url ? url : "redis://127.0.0.1:6379";
  sl_http_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.listen = listen;
  cfg.tls_cert = tls_cert;
  cfg.tls_key = tls_key;
  cfg.redis_url = s.redis_url;
  cfg.serve_mode = 1;
  cfg.pipelines_json = serve_pipelines;
  cfg.ud = &s;
  sl_error err;
  sl_error_clear(&err);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  sl_http_server *server = sl_http_start(&cfg, &err);
  if (!server) {
    sl_log(SL_LOG_ERROR, "serve", "%s", err.message);
    pthread_mutex_destroy(&s.lock);
    return err.code == SL_ERR_INVALID ? SL_EXIT_USAGE : SL_EXIT_RUNTIME;
  }
  pthread_t refresher;
  int refreshing = pthread_create(&refresher, NULL, refresh_loop, &s) == 0;
  sl_log(SL_LOG_INFO, "serve", "API and dashboard on %s://%s/ reading %s",
         tls_cert ? "https" : "http", listen ? listen : "127.0.0.1:8080", s.redis_url);
  while (!serve_stop) {
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
  }
  sl_log(SL_LOG_INFO, "serve", "stopping");
  if (refreshing)
    pthread_join(refresher, NULL);
  sl_http_stop(server);
  free(s.doc);
  pthread_mutex_destroy(&s.lock);
  return SL_EXIT_OK;
}
