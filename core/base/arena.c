/* SPDX-License-Identifier: Apache-2.0 */
/* Bump allocator for per-batch memory: one reset frees a whole batch's records. The
 * allocation fast path is sl_arena_bump (arena_internal.h), inlined where it is hot. */
#include <stdlib.h>
#include <string.h>

#include "base/arena_internal.h"

static sl_arena_chunk *chunk_new(size_t size) {
  sl_arena_chunk *c = malloc(sizeof *c + size);
  if (!c)
    return NULL;
  c->next = NULL;
  c->size = size;
  c->used = 0;
  return c;
}

/* Make `c` the head chunk: allocations bump [next, limit) of its data. */
static void set_head(sl_arena *a, sl_arena_chunk *c) {
  a->head = c;
  a->next = c->data + c->used;
  a->limit = c->data + (c->size & ~(size_t)(SL_ARENA_ALIGN - 1));
}

sl_arena *sl_arena_new(size_t chunk_size) {
  sl_arena *a = malloc(sizeof *a);
  if (!a)
    return NULL;
  a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
  sl_arena_chunk *c = chunk_new(a->chunk_size);
  if (!c) {
    free(a);
    return NULL;
  }
  set_head(a, c);
  return a;
}

void sl_arena_destroy(sl_arena *a) {
  if (!a)
    return;
  sl_arena_chunk *c = a->head;
  while (c) {
    sl_arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  free(a);
}

void sl_arena_reset(sl_arena *a) {
  /* Keep the largest chunk: a batch that needed it once will likely need it again. */
  sl_arena_chunk *keep = a->head, *c = a->head;
  for (; c; c = c->next)
    if (c->size > keep->size)
      keep = c;
  c = a->head;
  while (c) {
    sl_arena_chunk *next = c->next;
    if (c != keep)
      free(c);
    c = next;
  }
  keep->next = NULL;
  keep->used = 0;
  set_head(a, keep);
}

void *sl_arena_alloc_grow(sl_arena *a, size_t size) {
  size_t need = (size + SL_ARENA_ALIGN - 1) & ~(size_t)(SL_ARENA_ALIGN - 1);
  if (need < size)
    return NULL;
  if (need > (size_t)(a->limit - a->next)) {
    size_t sz = need > a->chunk_size ? need : a->chunk_size;
    sl_arena_chunk *n = chunk_new(sz);
    if (!n)
      return NULL;
    a->head->used = (size_t)(a->next - a->head->data);
    n->next = a->head;
    set_head(a, n);
  }
  void *p = a->next;
  a->next += need;
  return p;
}

void *sl_arena_alloc(sl_arena *a, size_t size) { return sl_arena_bump(a, size); }

void *sl_arena_calloc(sl_arena *a, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size)
    return NULL;
  void *p = sl_arena_bump(a, n * size);
  if (p)
    memset(p, 0, n * size);
  return p;
}

char *sl_arena_strndup(sl_arena *a, const char *s, size_t len) {
  char *p = len < SIZE_MAX ? sl_arena_bump(a, len + 1) : NULL;
  if (!p)
    return NULL;
  if (len)
    memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

/* Walks the chunks (a few per batch): keeping a running total cost every allocation an add. */
size_t sl_arena_used(const sl_arena *a) {
  size_t used = (size_t)(a->next - a->head->data);
  for (const sl_arena_chunk *c = a->head->next; c; c = c->next)
    used += c->used;
  return used;
}
