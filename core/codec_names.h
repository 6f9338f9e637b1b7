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

#include "sluice/record.h"

#define SL_CODEC_NAME_CACHE 512 /* entries, a power of two */

typedef struct sl_codec_name_slot {
  sl_name name;
  size_t len;
} sl_codec_name_slot;

static inline sl_name sl_codec_name(const char *s, size_t len) {
  static _Thread_local sl_codec_name_slot cache[SL_CODEC_NAME_CACHE];
  uint32_t h = 2166136261u ^ (uint32_t)len; /* FNV-1a over at most 32 bytes: names are short */
  size_t n = len < 32 ? len : 32;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 16777619u;
  }
  sl_codec_name_slot *slot = &cache[h & (SL_CODEC_NAME_CACHE - 1)];
  if (slot->name && slot->len == len && memcmp(slot->name, s, len) == 0)
    return slot->name;
  sl_name name = sl_name_intern(s, len);
  if (name) {
    slot->name = name;
    slot->len = len;
  }
  return name;
}

#endif
