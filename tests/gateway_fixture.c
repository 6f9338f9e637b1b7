/* SPDX-License-Identifier: Apache-2.0 */
/* See gateway_fixture.h. */
#include "gateway_fixture.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "kafka.h"

static const char *test_brokers(void) {
  const char *b = getenv("SLUICE_TEST_KAFKA_BROKERS");
  return b && *b ? b : "embedded";
}

int gf_is_embedded(void) { return strcmp(test_brokers(), "embedded") == 0; }

static void on_reports(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sl_gw_producer_poll(arg);
}

static void *loop_main(void *arg) {
  gf_gateway *g = arg;
  event_base_dispatch(g->base);
  return NULL;
}

static int write_file(gf_gateway *g, const char *options) {
  static unsigned seq;
  char path[256];
  snprintf(g->topic, sizeof g->topic, "gwt-%ld-%u", (long)getpid(), ++seq);
  snprintf(g->dlq, sizeof g->dlq, "%s-dlq", g->topic);
  snprintf(path, sizeof path, "%s/gw.lua", g->dir);
  FILE *fp = fopen(path, "w");
  if (!fp)
    return -1;
  fprintf(fp,
          "local sl = require 'sluice'\n"
          "local g = sl.gateway { name = 'test-gw', listen = '127.0.0.1:0',\n"
          "  devices = '%s/pipelines/devices.example.txt', dead_letter = '%s',\n"
          "  kafka = { ['bootstrap.servers'] = '%s' }, %s }\n"
          "g:topic { name = '%s', format = 'json', key = 'machine_id',\n"
          "          schema = '%s/pipelines/schemas/machine_reading.avsc' }\n"
          "g:mqtt { broker = 'mqtt://127.0.0.1:1', subscribe = 'plant/+/t', topic = '%s' }\n",
          SLUICE_SOURCE_DIR, g->dlq, test_brokers(), options ? options : "", g->topic,
          SLUICE_SOURCE_DIR, g->topic);
  return fclose(fp);
}

static int start_loop(gf_gateway *g, int http) {
  sl_error err;
  sl_error_clear(&err);
  evthread_use_pthreads(); /* gf_stop breaks the loop from the test thread */
  g->base = event_base_new();
  g->reports = g->base ? event_new(g->base, sl_gw_producer_fd(g->producer), EV_READ | EV_PERSIST,
                                   on_reports, g->producer)
                       : NULL;
  if (!g->reports || event_add(g->reports, NULL) != 0)
    return -1;
  if (http && !(g->http = sl_gw_http_start(g->base, g->conf, g->devices, &g->gate, NULL, &err))) {
    fprintf(stderr, "gateway http: %s\n", err.message);
    return -1;
  }
  if (g->conf->coap.line &&
      !(g->coap = sl_gw_coap_start(g->base, g->conf, g->devices, &g->gate, &err))) {
    fprintf(stderr, "gateway coap: %s\n", err.message);
    return -1;
  }
  if (pthread_create(&g->thread, NULL, loop_main, g) != 0)
    return -1;
  g->running = 1;
  return 0;
}

int gf_start(gf_gateway *g, const char *options, int http) {
  sl_error err;
  sl_error_clear(&err);
  memset(g, 0, sizeof *g);
  snprintf(g->dir, sizeof g->dir, "/tmp/sluice_gw_XXXXXX");
  char path[256];
  if (!mkdtemp(g->dir) || write_file(g, options) != 0)
    return -1;
  snprintf(path, sizeof path, "%s/gw.lua", g->dir);
  g->conf = sl_gw_conf_load(path, NULL, 0, &err);
  if (!g->conf || g->conf->nerrors) {
    fprintf(stderr, "gateway file: %s\n", g->conf ? g->conf->errors[0] : err.message);
    return -1;
  }
  if (sl_gw_conf_open(g->conf, &err) != SL_OK ||
      !(g->devices = sl_gw_devices_load(g->conf->devices, &err)) ||
      !(g->producer = sl_gw_producer_new(g->conf, &err))) {
    fprintf(stderr, "gateway: %s\n", err.message);
    return -1;
  }
  if (gf_is_embedded()) { /* the producer holds the embedded broker: create the topics */
    g->embedded = sl_kafka_embedded_acquire(NULL, NULL) == SL_OK;
    sl_kafka_embedded_topic(g->topic, 0, NULL);
    sl_kafka_embedded_topic(g->dlq, 0, NULL);
  }
  sl_gw_gate_init(&g->gate, g->conf, g->producer);
  g->ingest.conf = g->conf;
  g->ingest.producer = g->producer;
  return start_loop(g, http);
}

static void on_stop(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  event_base_loopbreak(arg);
}

void gf_stop(gf_gateway *g) {
  if (g->running) {
    /* Break from inside the loop: event_base_loop clears a loopbreak that
     * came before the thread entered it, and the join would wait forever. */
    struct timeval now = {0, 0};
    event_base_once(g->base, -1, EV_TIMEOUT, on_stop, g->base, &now);
    pthread_join(g->thread, NULL);
  }
  sl_gw_producer_free(g->producer); /* its last reports answer requests on http */
  sl_gw_http_free(g->http);
  sl_gw_coap_free(g->coap);
  if (g->reports)
    event_free(g->reports);
  if (g->base)
    event_base_free(g->base);
  sl_gw_devices_free(g->devices);
  sl_gw_conf_free(g->conf);
  if (g->embedded)
    sl_kafka_embedded_release();
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g->dir);
  if (g->dir[0] && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", g->dir);
}

/* ---- HTTP client --------------------------------------------------------- */

static void parse_reply(const char *resp, gf_reply *r) {
  r->status = 0;
  sscanf(resp, "HTTP/1.1 %d", &r->status);
  const char *ra = strstr(resp, "Retry-After: ");
  const char *end = strstr(resp, "\r\n\r\n");
  if (ra && (!end || ra < end))
    sscanf(ra + 13, "%15[0-9]", r->retry_after);
  snprintf(r->body, sizeof r->body, "%s", end ? end + 4 : "");
}

static int send_request(gf_gateway *g, const char *head, const char *body) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(sl_gw_http_port(g->http))};
  struct timeval tv = {30, 0}; /* a hung server fails the test, not the suite */
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0)
    return -1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      write(fd, head, strlen(head)) != (ssize_t)strlen(head) ||
      write(fd, body, strlen(body)) != (ssize_t)strlen(body)) {
    close(fd);
    return -1;
  }
  return fd;
}

int gf_post_finish(int fd, gf_reply *r) {
  memset(r, 0, sizeof *r);
  if (fd < 0)
    return -1;
  char resp[8192];
  size_t n = 0;
  ssize_t k;
  while (n < sizeof resp - 1 && (k = read(fd, resp + n, sizeof resp - 1 - n)) > 0)
    n += (size_t)k;
  resp[n] = '\0';
  close(fd);
  parse_reply(resp, r);
  return r->status ? 0 : -1;
}

static int request(gf_gateway *g, const char *head, const char *body, gf_reply *r) {
  return gf_post_finish(send_request(g, head, body), r);
}

int gf_post_start(gf_gateway *g, const char *topic, const char *key, const char *body) {
  char head[1024], auth[256] = "";
  if (key)
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", key);
  snprintf(head, sizeof head,
           "POST /ingest/%s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%s"
           "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
           topic, auth, strlen(body));
  return send_request(g, head, body);
}

int gf_post(gf_gateway *g, const char *topic, const char *key, const char *body, gf_reply *r) {
  return gf_post_finish(gf_post_start(g, topic, key, body), r);
}

int gf_get(gf_gateway *g, const char *path, gf_reply *r) {
  char head[512];
  snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", path);
  return request(g, head, "", r);
}

/* ---- consumer ------------------------------------------------------------- */

static rd_kafka_t *consumer(void) {
  const char *brokers = test_brokers();
  if (gf_is_embedded() && sl_kafka_embedded_acquire(&brokers, NULL) != SL_OK)
    return NULL;
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char errstr[256];
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "group.id", "sluice-gateway-test", errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "enable.partition.eof", "false", errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk)
    rd_kafka_conf_destroy(conf);
  return rk;
}

static void copy_message(const rd_kafka_message_t *m, gf_message *o) {
  memset(o, 0, sizeof *o);
  snprintf(o->key, sizeof o->key, "%.*s", (int)m->key_len, (const char *)m->key);
  snprintf(o->value, sizeof o->value, "%.*s", (int)m->len, (const char *)m->payload);
  rd_kafka_headers_t *hs = NULL;
  const void *v;
  size_t vl;
  if (rd_kafka_message_headers(m, &hs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      rd_kafka_header_get_last(hs, "sluice-error", &v, &vl) == RD_KAFKA_RESP_ERR_NO_ERROR)
    snprintf(o->error_header, sizeof o->error_header, "%.*s", (int)vl, (const char *)v);
}

static int assign_all(rd_kafka_t *rk, const char *topic) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
  int n = -1;
  for (int i = 0; i < 40 && n <= 0; i++) { /* a fresh topic may need a moment to show */
    if (rd_kafka_metadata(rk, 0, t, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : -1;
      rd_kafka_metadata_destroy(md);
    }
  }
  rd_kafka_topic_destroy(t);
  if (n <= 0)
    return -1;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
  for (int p = 0; p < n; p++)
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  int rc = rd_kafka_assign(rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
  rd_kafka_topic_partition_list_destroy(l);
  return rc;
}

size_t gf_consume(const char *topic, size_t want, gf_message *out, size_t cap) {
  rd_kafka_t *rk = consumer();
  size_t got = 0;
  if (!rk || assign_all(rk, topic) != 0) {
    fprintf(stderr, "cannot read topic %s\n", topic);
  } else {
    /* Up to 20 s for what is expected, then 1 s more for what should not be there. */
    for (int polls = 0, extra = 0; polls < 80 && extra < 4; polls++) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 250);
      if (m && !m->err && got < cap)
        copy_message(m, &out[got]);
      if (m && !m->err)
        got++;
      if (m)
        rd_kafka_message_destroy(m);
      extra += got >= want && !m;
    }
    rd_kafka_consumer_close(rk);
  }
  if (rk)
    rd_kafka_destroy(rk);
  if (gf_is_embedded())
    sl_kafka_embedded_release();
  return got;
}
