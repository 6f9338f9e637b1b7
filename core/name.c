/* SPDX-License-Identifier: Apache-2.0 */
/* Interned field names: one copy per distinct name for the whole process, so
 * that record lookups compare pointers instead of strings. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/record.h"

typedef struct name_entry {
  struct name_entry *next;
  uint64_t hash;
  size_t len;
  char text[];
} name_entry;

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static name_entry **names_table; /* buckets; grows by doubling */
static size_t names_cap, names_count;

static uint64_t name_hash(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
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

sl_name sl_name_intern(const char *s, size_t len) {
  uint64_t h = name_hash(s, len);
  sl_name out = NULL;
  pthread_mutex_lock(&names_lock);
  if (names_cap == 0 && names_grow() != 0)
    goto out_unlock;
  for (name_entry *e = names_table[h & (names_cap - 1)]; e; e = e->next)
    if (e->hash == h && e->len == len && memcmp(e->text, s, len) == 0) {
      out = e->text;
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
  out = e->text;
out_unlock:
  pthread_mutex_unlock(&names_lock);
  return out;
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
  names_cap = names_count = 0;
}
