/* SPDX-License-Identifier: Apache-2.0 */
/* A stand-in for `sluice run` used by the browser test and the load test: it
 * starts the HTTP server with fake pipeline callbacks and, playing the cache
 * sink and the pipeline, writes machine statistics into Redis and publishes
 * them (and alerts) as events every 250 ms.
 *
 *   http_demo_server --listen 127.0.0.1:8080 --redis redis://127.0.0.1:6379
 *                    [--token T] [--duration SECONDS] [--quiet]
 * Prints "listening PORT" on stdout once ready; stops on SIGINT/SIGTERM. */
#include <hiredis/hiredis.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/metrics.h"
#include "http/events.h"
#include "http/http_server.h"

#define MACHINES 6

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int ready_cb(void *ud) { (void)ud; return 1; }

static int pipelines_cb(void *ud, sl_buf *out) {
  (void)ud;
  return sl_buf_puts(
      out, "{\"pipelines\":[{\"name\":\"assembly\",\"status\":\"running\","
           "\"caches\":[\"machine_stats\"],\"units\":{\"avg_temp\":\"\\u00b0C\",\"max_temp\":"
           "\"\\u00b0C\",\"vibration\":\"mm/s\"},"
           "\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"label\":\"kafka: telemetry\"},"
           "{\"id\":\"decode#1\",\"kind\":\"decode\",\"label\":\"decode avro\"},"
           "{\"id\":\"filter#2\",\"kind\":\"filter\",\"label\":\"temp ~= nil\"},"
           "{\"id\":\"window#3\",\"kind\":\"window\",\"label\":\"tumbling 10s\"},"
           "{\"id\":\"aggregate#4\",\"kind\":\"aggregate\",\"label\":\"avg/max by machine\"},"
           "{\"id\":\"alert#5\",\"kind\":\"alert\",\"label\":\"overheat\"},"
           "{\"id\":\"cache\",\"kind\":\"cache\",\"label\":\"machine_stats\"},"
           "{\"id\":\"sink\",\"kind\":\"sink\",\"label\":\"kafka: stats\"},"
           "{\"id\":\"alerts\",\"kind\":\"sink\",\"label\":\"kafka: alerts\"}],"
           "\"edges\":[{\"from\":\"src\",\"to\":\"decode#1\"},{\"from\":\"decode#1\",\"to\":"
           "\"filter#2\"},{\"from\":\"filter#2\",\"to\":\"window#3\"},{\"from\":\"window#3\",\"to\":"
           "\"aggregate#4\"},{\"from\":\"aggregate#4\",\"to\":\"cache\"},{\"from\":"
           "\"aggregate#4\",\"to\":\"sink\"},{\"from\":\"aggregate#4\",\"to\":\"alert#5\"},"
           "{\"from\":\"alert#5\",\"to\":\"alerts\"}]}]}");
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tick(redisContext *rc, int step, double *temp, int *firing) {
  long long t = now_ms();
  for (int m = 0; m < MACHINES; m++) {
    /* a slow wave per machine plus noise, pulled back to its base */
    double base = 64 + m * 2.5 + (m == 3 ? 20 : 0); /* machine 3 runs hot */
    temp[m] += 0.08 * (base - temp[m]) + 0.6 * sin(step / 9.0 + m) +
               ((double)rand() / RAND_MAX - 0.5) * 0.8;
    if (temp[m] < 55)
      temp[m] = 55;
    double vib = 2.0 + m * 0.3 + ((double)rand() / RAND_MAX) * 0.4;
    /* The asset name an `enrich` step adds: the dashboard shows it beside the id. */
    static const char *const kinds[] = {"Press", "Lathe", "Mill", "Welder", "Oven", "Robot"};
    char key[16], rec[320], ev[512];
    snprintf(key, sizeof key, "m%04d", 40 + m);
    snprintf(rec, sizeof rec,
             "{\"machine_id\":\"%s\",\"name\":\"%s %d\",\"window_start\":%lld,"
             "\"window_end\":%lld,\"avg_temp\":%.2f,"
             "\"max_temp\":%.2f,\"vibration\":%.2f,\"count\":%d}",
             key, kinds[m % 6], 40 + m, t - 250, t, temp[m], temp[m] + 1.5, vib, 40 + rand() % 10);
    if (rc) {
      freeReplyObject(redisCommand(rc, "SET sl:cache:machine_stats:v:%s %s", key, rec));
      freeReplyObject(redisCommand(rc, "LPUSH sl:cache:machine_stats:h:%s %s", key, rec));
      freeReplyObject(redisCommand(rc, "LTRIM sl:cache:machine_stats:h:%s 0 199", key));
      freeReplyObject(redisCommand(rc, "ZADD sl:cache:machine_stats:keys 0 %s", key));
    }
    snprintf(ev, sizeof ev, "{\"pipeline\":\"assembly\",\"cache\":\"machine_stats\",\"key\":\"%s\","
             "\"record\":%s}", key, rec);
    sl_events_publish("result", ev);
    int hot = temp[m] > 80;
    if (hot != firing[m]) {
      firing[m] = hot;
      char alert[768], field[64];
      snprintf(alert, sizeof alert,
               "{\"alert\":\"overheat\",\"state\":\"%s\",\"severity\":\"critical\",\"key\":"
               "{\"machine_id\":\"%s\"},\"ts\":%lld,\"record\":%s,\"pipeline\":\"assembly\"}",
               hot ? "firing" : "resolved", key, t, rec);
      snprintf(field, sizeof field, "overheat\x1f{\"machine_id\":\"%s\"}", key);
      if (rc && hot)
        freeReplyObject(redisCommand(rc, "HSET sl:alerts:assembly %s %s", field, alert));
      else if (rc)
        freeReplyObject(redisCommand(rc, "HDEL sl:alerts:assembly %s", field));
      sl_events_publish("alert", alert);
    }
  }
}

int main(int argc, char **argv) {
  const char *listen = "127.0.0.1:8080", *redis = "redis://127.0.0.1:6379", *token = "";
  double duration = 0;
  int quiet = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--listen") && i + 1 < argc)
      listen = argv[++i];
    else if (!strcmp(argv[i], "--redis") && i + 1 < argc)
      redis = argv[++i];
    else if (!strcmp(argv[i], "--token") && i + 1 < argc)
      token = argv[++i];
    else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
      duration = atof(argv[++i]);
    else if (!strcmp(argv[i], "--quiet"))
      quiet = 1;
    else {
      fprintf(stderr, "usage: %s [--listen ADDR] [--redis URL] [--token T] [--duration S] [--quiet]\n",
              argv[0]);
      return 2;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  static const char *const pipes[] = {"assembly"};
  sl_http_config cfg = {.listen = listen, .api_token = token, .redis_url = redis,
                        .pipelines = pipes, .npipelines = 1, .rate_per_sec = -1,
                        .ready = ready_cb, .pipelines_json = pipelines_cb};
  sl_error err = {0};
  sl_http_server *s = sl_http_start(&cfg, &err);
  if (!s) {
    fprintf(stderr, "http_demo_server: %s\n", err.message);
    return 3;
  }
  char host[128] = "127.0.0.1";
  int port = 6379;
  sscanf(redis, "redis://%127[^:]:%d", host, &port);
  redisContext *rc = redisConnect(host, port);
  if (!rc || rc->err) {
    fprintf(stderr, "http_demo_server: cannot reach Redis at %s\n", redis);
    redisFree(rc);
    rc = NULL;
  }
  printf("listening %d\n", sl_http_port(s));
  fflush(stdout);
  /* Labelled as the runtime labels them: records a source emits come in,
   * records a sink receives go out. */
  sl_metric *in = sl_metrics_counter("sluice_records_out_total", "Records emitted by a node",
                                     "pipeline=assembly,operator=kafka_source#0");
  sl_metric *out = sl_metrics_counter("sluice_records_in_total", "Records received by a node",
                                      "pipeline=assembly,operator=kafka_sink#6");
  sl_metric *lag = sl_metrics_gauge("sluice_consumer_lag", "Records behind.", "pipeline=assembly");
  sl_metric *wm = sl_metrics_gauge("sluice_watermark_lag_seconds", "Watermark lag.",
                                   "pipeline=assembly");
  double temp[MACHINES];
  int firing[MACHINES] = {0};
  for (int m = 0; m < MACHINES; m++)
    temp[m] = 64 + m * 2.5 + (m == 3 ? 12 : 0);
  long long start = now_ms();
  for (int step = 0; !stop && (duration <= 0 || now_ms() - start < duration * 1000); step++) {
    tick(rc, step, temp, firing);
    sl_metric_add(in, 1200 + rand() % 200);
    sl_metric_add(out, MACHINES);
    sl_metric_set(lag, 40 + rand() % 30);
    sl_metric_set(wm, 1.2 + (rand() % 10) / 10.0);
    struct timespec ts = {0, 250 * 1000000L};
    nanosleep(&ts, NULL);
  }
  if (!quiet)
    fprintf(stderr, "http_demo_server: stopping\n");
  redisFree(rc);
  sl_http_stop(s);
  return 0;
}
