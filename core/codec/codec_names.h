/* SPDX-License-Identifier: Apache-2.0 */
/* A per-thread cache in front of sl_name_intern for the decoders.
 *
 * sl_name_intern takes a process-wide mutex; decoders intern every field name of every
 * record (JSON keys, Avro map keys), so at millions of records per second that lock would
 * dominate. Records of one stream repeat the same few names, so a small direct-mapped
 * cache per thread answers almost every lookup without the lock. Entries hold interned
 * names, which live for the whole process, so the cache never dangles. */
#ifndef SLUICE_CODEC_NAMES_H
#define SLUICE_CODEC_NAMES_H

#include <stdint.h>
#include <string.h>

#include "base/name_internal.h"
#include "sluice/record.h"

#define SL_CODEC_NAME_BITS 9 /* 512 entries */
#define SL_CODEC_NAME_CACHE (1u << SL_CODEC_NAME_BITS)

typedef struct sl_codec_name_slot {
  sl_name name;
  size_t len;
} sl_codec_name_slot;

/* The slot of a name: a multiplicative hash over 8-byte words (the first 32 bytes and the
 * last 8), top bits taken since they depend on every input bit. A word at a time, as a
 * byte-wise FNV cost ~5 instructions per byte of every field name of every record. Only
 * the cache's hit rate depends on it: a hit is confirmed with memcmp. */
static inline uint32_t sl_codec_name_slot_of(const char *s, size_t len) {
  const uint64_t k = 0x9E3779B97F4A7C15u;
  uint64_t h = (len + 1) * k, w;
  if (len >= 8) {
    for (size_t i = 0; i + 8 < len && i < 32; i += 8) {
      memcpy(&w, s + i, 8);
      h = (h ^ w) * k;
    }
    memcpy(&w, s + len - 8, 8);
  } else if (len >= 4) {
    uint32_t lo, hi;
    memcpy(&lo, s, 4);
    memcpy(&hi, s + len - 4, 4);
    w = (uint64_t)hi << 32 | lo;
  } else {
    const unsigned char *u = (const unsigned char *)s;
    w = len ? (uint64_t)u[0] | (uint64_t)u[len / 2] << 8 | (uint64_t)u[len - 1] << 16 : 0;
  }
  h = (h ^ w) * k;
  return (uint32_t)(h >> (64 - SL_CODEC_NAME_BITS));
}

static inline sl_name sl_codec_name(const char *s, size_t len) {
  static _Thread_local sl_codec_name_slot cache[SL_CODEC_NAME_CACHE];
  sl_codec_name_slot *slot = &cache[sl_codec_name_slot_of(s, len)];
  if (slot->name && slot->len == len && memcmp(slot->name, s, len) == 0)
    return slot->name;
  sl_name name = sl_name_intern(s, len);
  if (name) {
    slot->name = name;
    slot->len = len;
  }
  return name;
}

/* sl_codec_name for names that come from data (JSON keys, Avro map keys): a name not yet
 * interned is created only within the budget of sl_name_intern_data. SL_OK, SL_ERR_LIMIT
 * (a new name past the budget) or SL_ERR_NOMEM. A cache of its own, of interned names
 * only, like sl_codec_name's. */
static inline int sl_codec_data_name(const char *s, size_t len, sl_name *out) {
  static _Thread_local sl_codec_name_slot cache[SL_CODEC_NAME_CACHE];
  sl_codec_name_slot *slot = &cache[sl_codec_name_slot_of(s, len)];
  if (slot->name && slot->len == len && memcmp(slot->name, s, len) == 0) {
    *out = slot->name;
    return SL_OK;
  }
  int rc = sl_name_intern_data(s, len, out);
  if (rc == SL_OK) {
    slot->name = *out;
    slot->len = len;
  }
  return rc;
}

#endif
