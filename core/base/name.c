/* SPDX-License-Identifier: Apache-2.0 */
/* Interned field names: one copy per distinct name for the whole process, so
 * that record lookups compare pointers instead of strings.
 *
 * Names from schemas, expressions and pipeline files are few and interned
 * freely. Names that come from data (JSON keys, Avro map keys) are chosen by
 * whoever produces the records, so the decoders intern through
 * sl_name_intern_data, which creates at most SL_NAME_DATA_MAX names (and
 * SL_NAME_DATA_BYTES: a key can be a megabyte long) for the process: names already known are always found, a new one past the budget
 * is refused (the record is dead-lettered, too_many_names) instead of growing
 * memory without bound. The table's hash is seeded per process so that
 * chosen keys cannot pile into one bucket. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/hash64.h"
#include "base/name_internal.h"

typedef struct name_entry {
  struct name_entry *next;
  uint64_t hash;
  size_t len;
  char text[];
} name_entry;

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static name_entry **names_table; /* buckets; grows by doubling */
static size_t names_cap, names_count;
static size_t names_from_data;    /* created by sl_name_intern_data */
static size_t names_data_bytes;   /* their size, entry headers included */
static size_t names_data_max = SL_NAME_DATA_MAX;
static uint64_t names_seed;       /* set with the first table, under the lock */

static uint64_t name_hash(const char *s, size_t len) { return sl_hash64(s, len, names_seed); }

static void seed_once(void) {
  if (names_cap)
    return;
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
    struct timespec ts; /* no entropy yet (early boot): still differs per run */
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15u ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid();
  }
  names_seed = seed;
}

static int names_grow(void) {
  size_t ncap = names_cap ? names_cap * 2 : 256;
  name_entry **nt = calloc(ncap, sizeof *nt);
  if (!nt)
    return -1;
  for (size_t i = 0; i < names_cap; i++) {
    name_entry *e = names_table[i];
    while (e) {
      name_entry *next = e->next;
      size_t b = e->hash & (ncap - 1);
      e->next = nt[b];
      nt[b] = e;
      e = next;
    }
  }
  free(names_table);
  names_table = nt;
  names_cap = ncap;
  return 0;
}

/* The interned copy of s, created when absent (names from data: within their budget). */
static int intern(const char *s, size_t len, int from_data, sl_name *out) {
  int rc = SL_ERR_NOMEM;
  *out = NULL;
  pthread_mutex_lock(&names_lock);
  seed_once();
  uint64_t h = name_hash(s, len);
  if (names_cap == 0 && names_grow() != 0)
    goto out_unlock;
  for (name_entry *e = names_table[h & (names_cap - 1)]; e; e = e->next)
    if (e->hash == h && e->len == len && memcmp(e->text, s, len) == 0) {
      *out = e->text;
      rc = SL_OK;
      goto out_unlock;
    }
  if (from_data && (names_from_data >= names_data_max ||
                    names_data_bytes + sizeof(name_entry) + len + 1 > SL_NAME_DATA_BYTES)) {
    rc = SL_ERR_LIMIT;
    goto out_unlock;
  }
  if (names_count + 1 > names_cap * 3 / 4 && names_grow() != 0)
    goto out_unlock;
  name_entry *e = malloc(sizeof *e + len + 1);
  if (!e)
    goto out_unlock;
  e->hash = h;
  e->len = len;
  memcpy(e->text, s, len);
  e->text[len] = '\0';
  size_t b = h & (names_cap - 1);
  e->next = names_table[b];
  names_table[b] = e;
  names_count++;
  if (from_data) {
    names_from_data++;
    names_data_bytes += sizeof *e + len + 1;
  }
  *out = e->text;
  rc = SL_OK;
out_unlock:
  pthread_mutex_unlock(&names_lock);
  return rc;
}

sl_name sl_name_intern(const char *s, size_t len) {
  sl_name out;
  intern(s, len, 0, &out);
  return out;
}

int sl_name_intern_data(const char *s, size_t len, sl_name *out) {
  return intern(s, len, 1, out);
}

void sl_name_set_data_max(size_t max) {
  pthread_mutex_lock(&names_lock);
  names_data_max = max;
  pthread_mutex_unlock(&names_lock);
}

size_t sl_name_data_count(void) {
  pthread_mutex_lock(&names_lock);
  size_t n = names_from_data;
  pthread_mutex_unlock(&names_lock);
  return n;
}

sl_name sl_name_cstr(const char *s) { return sl_name_intern(s, strlen(s)); }

/* Names live for the process; free them at exit so leak checkers stay quiet. */
__attribute__((destructor)) static void names_free_all(void) {
  for (size_t i = 0; i < names_cap; i++) {
    name_entry *e = names_table[i];
    while (e) {
      name_entry *next = e->next;
      free(e);
      e = next;
    }
  }
  free(names_table);
  names_table = NULL;
  names_cap = names_count = names_from_data = names_data_bytes = 0;
}
