/* SPDX-License-Identifier: Apache-2.0 */
/* Bump allocator for per-batch memory: one reset frees a whole batch's records. */
#include <stdlib.h>
#include <string.h>

#include "sluice/record.h"

#define ARENA_ALIGN 16u

typedef struct chunk {
  struct chunk *next;
  size_t size; /* usable bytes after the header */
  size_t used;
  _Alignas(16) unsigned char data[];
} chunk;

struct sl_arena {
  chunk *head;       /* current chunk; older ones follow via next */
  size_t chunk_size; /* default size of a new chunk */
  size_t total_used; /* bytes handed out since the last reset */
};

static chunk *chunk_new(size_t size) {
  chunk *c = malloc(sizeof *c + size);
  if (!c)
    return NULL;
  c->next = NULL;
  c->size = size;
  c->used = 0;
  return c;
}

sl_arena *sl_arena_new(size_t chunk_size) {
  sl_arena *a = malloc(sizeof *a);
  if (!a)
    return NULL;
  a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
  a->total_used = 0;
  a->head = chunk_new(a->chunk_size);
  if (!a->head) {
    free(a);
    return NULL;
  }
  return a;
}

void sl_arena_destroy(sl_arena *a) {
  if (!a)
    return;
  chunk *c = a->head;
  while (c) {
    chunk *next = c->next;
    free(c);
    c = next;
  }
  free(a);
}

void sl_arena_reset(sl_arena *a) {
  /* Keep the largest chunk: a batch that needed it once will likely need it again. */
  chunk *keep = a->head, *c = a->head;
  for (; c; c = c->next)
    if (c->size > keep->size)
      keep = c;
  c = a->head;
  while (c) {
    chunk *next = c->next;
    if (c != keep)
      free(c);
    c = next;
  }
  keep->next = NULL;
  keep->used = 0;
  a->head = keep;
  a->total_used = 0;
}

void *sl_arena_alloc(sl_arena *a, size_t size) {
  size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (need < size)
    return NULL;
  chunk *c = a->head;
  if (c->size - c->used < need) {
    size_t sz = need > a->chunk_size ? need : a->chunk_size;
    chunk *n = chunk_new(sz);
    if (!n)
      return NULL;
    n->next = c;
    a->head = n;
    c = n;
  }
  void *p = c->data + c->used;
  c->used += need;
  a->total_used += need;
  return p;
}

void *sl_arena_calloc(sl_arena *a, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size)
    return NULL;
  void *p = sl_arena_alloc(a, n * size);
  if (p)
    memset(p, 0, n * size);
  return p;
}

char *sl_arena_strndup(sl_arena *a, const char *s, size_t len) {
  char *p = sl_arena_alloc(a, len + 1);
  if (!p)
    return NULL;
  if (len)
    memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

size_t sl_arena_used(const sl_arena *a) { return a->total_used; }
