/* SPDX-License-Identifier: Apache-2.0 */
/* The arena's layout, so that hot core paths bump it inline (internal, never installed).
 *
 * A call to sl_arena_alloc costs ~25 instructions (a call, register saves for its rare
 * growth path, a chunk header to load); the decoders allocate per record, where the
 * inline bump below costs ~6: one compare against `limit`, one add. */
#ifndef SLUICE_ARENA_INTERNAL_H
#define SLUICE_ARENA_INTERNAL_H

#include <stdint.h>

#include "sluice/record.h"

#define SL_ARENA_ALIGN 16u

typedef struct sl_arena_chunk {
  struct sl_arena_chunk *next;
  size_t size; /* usable bytes after the header */
  size_t used; /* bytes handed out; for the head chunk, only once it stops being the head */
  _Alignas(16) unsigned char data[];
} sl_arena_chunk;

struct sl_arena {
  /* The head chunk's free space, [next, limit): `limit` is rounded down to SL_ARENA_ALIGN,
   * so that `size <= limit - next` proves the aligned size fits too (no overflow check). */
  unsigned char *next, *limit;
  sl_arena_chunk *head; /* current chunk; older ones follow via next */
  size_t chunk_size;    /* default size of a new chunk */
};

/* The growth path of sl_arena_alloc: a new chunk, then the allocation. */
void *sl_arena_alloc_grow(sl_arena *a, size_t size);

/* sl_arena_alloc, inlined: `size` bytes aligned for any type, NULL on OOM. */
static inline void *sl_arena_bump(sl_arena *a, size_t size) {
  unsigned char *p = a->next;
  if (__builtin_expect(size > (size_t)(a->limit - p), 0))
    return sl_arena_alloc_grow(a, size);
  a->next = p + ((size + SL_ARENA_ALIGN - 1) & ~(size_t)(SL_ARENA_ALIGN - 1));
  return p;
}

#endif
