/* SPDX-License-Identifier: Apache-2.0 */
/* floor_avro: the hand-written floor for `sluice bench --format avro`. The
 * same readings (machine_reading.avsc, every machine every 100 ms of event
 * time) are encoded in memory with Avro-C before the clock starts; the timed
 * loop decodes each with Avro-C's generic value (avro_value_read from a
 * memory reader), applies the same filter (temperature between -40 and 150)
 * and updates count/sum/max per machine in an open-addressing hash table,
 * closing a machine's 10 s tumbling window when its next reading falls in a
 * later one. No p95, no watermark, no dead letters, no batches: what a
 * careful programmer would write by hand for this one job.
 *
 *   floor_avro [--keys N] [--records N]
 * prints one JSON line like `sluice bench`. */
#include <avro.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char schema_json[] =
    "{\"type\":\"record\",\"name\":\"MachineReading\",\"namespace\":\"sluice.demo\",\"fields\":["
    "{\"name\":\"machine_id\",\"type\":\"string\"},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"temperature\",\"type\":\"double\"},"
    "{\"name\":\"vibration\",\"type\":\"double\"},"
    "{\"name\":\"site\",\"type\":[\"null\",\"string\"],\"default\":null}]}";

typedef struct slot {
  char id[24]; /* "" = empty */
  int64_t window;
  uint64_t count;
  double sum, max;
} slot;

static uint64_t hash(const char *s, size_t n) { /* FNV-1a */
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const char *what) {
  fprintf(stderr, "floor_avro: %s: %s\n", what, avro_strerror());
  return 1;
}

int main(int argc, char **argv) {
  long long keys = 10000, records = 2000000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--keys") == 0)
      keys = atoll(argv[i + 1]);
    else if (strcmp(argv[i], "--records") == 0)
      records = atoll(argv[i + 1]);
  }
  if (keys <= 0 || records <= 0) {
    fprintf(stderr, "usage: floor_avro [--keys N] [--records N]\n");
    return 2;
  }
  avro_schema_t schema;
  if (avro_schema_from_json_length(schema_json, sizeof schema_json - 1, &schema))
    return die("schema");
  avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
  avro_value_t v;
  if (!iface || avro_generic_value_new(iface, &v))
    return die("generic value");

  /* Encode the input, as `sluice bench` does, before the clock starts. */
  size_t cap = (size_t)records * 48 + 64, len = 0;
  char *input = malloc(cap);
  size_t *off = malloc(((size_t)records + 1) * sizeof *off);
  avro_writer_t w = avro_writer_memory(input, (int64_t)cap);
  if (!input || !off || !w)
    return die("out of memory");
  int64_t start = (int64_t)time(NULL) * 1000;
  start -= start % 10000;
  uint64_t rng = 42 * 0x9E3779B97F4A7C15ull + 1;
  for (long long i = 0; i < records; i++) {
    long long m = i % keys;
    int64_t ts = start + (i / keys) * 100;
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    double r = (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
    double temp = 60 + 8 * sin((double)ts / 60000.0 + (double)m) + 4 * (r - 0.5);
    char id[24];
    snprintf(id, sizeof id, "m%04lld", m + 1);
    avro_value_t f, branch;
    avro_value_reset(&v);
    avro_value_get_by_index(&v, 0, &f, NULL);
    avro_value_set_string(&f, id);
    avro_value_get_by_index(&v, 1, &f, NULL);
    avro_value_set_long(&f, ts);
    avro_value_get_by_index(&v, 2, &f, NULL);
    avro_value_set_double(&f, temp);
    avro_value_get_by_index(&v, 3, &f, NULL);
    avro_value_set_double(&f, 0.2 + 0.05 * r);
    avro_value_get_by_index(&v, 4, &f, NULL);
    avro_value_set_branch(&f, 1, &branch);
    avro_value_set_string(&branch, m % 2 ? "plant-b" : "plant-a");
    off[i] = len;
    if (avro_value_write(w, &v))
      return die("encode");
    len = (size_t)avro_writer_tell(w);
  }
  off[records] = len;

  size_t nslots = 1;
  while (nslots < (size_t)keys * 2)
    nslots <<= 1;
  slot *table = calloc(nslots, sizeof *table);
  avro_reader_t rd = avro_reader_memory(input, (int64_t)len);
  if (!table || !rd)
    return die("out of memory");
  uint64_t windows = 0, kept = 0;
  double checksum = 0;

  double t0 = now_s();
  for (long long i = 0; i < records; i++) {
    avro_reader_memory_set_source(rd, input + off[i], (int64_t)(off[i + 1] - off[i]));
    avro_value_reset(&v);
    if (avro_value_read(rd, &v))
      return die("decode");
    avro_value_t f;
    const char *id;
    size_t idlen;
    int64_t ts;
    double temp;
    avro_value_get_by_index(&v, 0, &f, NULL);
    avro_value_get_string(&f, &id, &idlen); /* idlen counts the NUL */
    avro_value_get_by_index(&v, 1, &f, NULL);
    avro_value_get_long(&f, &ts);
    avro_value_get_by_index(&v, 2, &f, NULL);
    avro_value_get_double(&f, &temp);
    if (!(temp >= -40 && temp <= 150))
      continue;
    kept++;
    int64_t win = ts / 10000;
    size_t n = idlen ? idlen - 1 : 0;
    for (size_t h = hash(id, n) & (nslots - 1);; h = (h + 1) & (nslots - 1)) {
      slot *s = &table[h];
      if (!s->id[0]) {
        memcpy(s->id, id, n < sizeof s->id ? n : sizeof s->id - 1);
        s->window = win;
        s->count = 1;
        s->sum = s->max = temp;
        break;
      }
      if (strncmp(s->id, id, sizeof s->id) == 0) {
        if (s->window != win) { /* close the window: its result is count, sum/count, max */
          windows++;
          checksum += s->sum / (double)s->count + s->max;
          s->window = win;
          s->count = 0;
          s->sum = 0;
          s->max = -INFINITY;
        }
        s->count++;
        s->sum += temp;
        if (temp > s->max)
          s->max = temp;
        break;
      }
    }
  }
  for (size_t h = 0; h < nslots; h++) /* end of input closes every open window */
    if (table[h].id[0]) {
      windows++;
      checksum += table[h].sum / (double)table[h].count + table[h].max;
    }
  double secs = now_s() - t0;

  printf("{\"records\":%lld,\"seconds\":%.4f,\"records_per_sec\":%.0f,\"ns_per_record\":%.1f,"
         "\"windows\":%llu,\"kept\":%llu,\"checksum\":%.3f,\"format\":\"avro\",\"keys\":%lld}\n",
         records, secs, (double)records / secs, secs * 1e9 / (double)records,
         (unsigned long long)windows, (unsigned long long)kept, checksum, keys);
  avro_reader_free(rd);
  avro_writer_free(w);
  avro_value_decref(&v);
  avro_value_iface_decref(iface);
  avro_schema_decref(schema);
  free(table);
  free(input);
  free(off);
  return 0;
}
