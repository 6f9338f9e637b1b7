/* SPDX-License-Identifier: Apache-2.0 */
/* A fast 64-bit hash of bytes (wyhash-style multiply-fold), shared by the
 * window state table and HyperLogLog, which needs well-mixed high bits;
 * and a faster one for short keys kept in memory only (sl_hash64_short). */
#ifndef SLUICE_HASH64_H
#define SLUICE_HASH64_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t sl_hash64_mum(uint64_t a, uint64_t b) {
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t sl_hash64(const void *data, size_t len, uint64_t seed) {
  const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull, k2 = 0x8ebc6af09c88c6e3ull;
  const unsigned char *p = (const unsigned char *)data;
  uint64_t h = seed ^ sl_hash64_mum(seed ^ k0, (uint64_t)len ^ k1);
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = sl_hash64_mum(h ^ w ^ k1, k2 ^ (h >> 32));
    p += 8;
    len -= 8;
  }
  uint64_t tail = 0;
  for (size_t i = 0; i < len; i++)
    tail |= (uint64_t)p[i] << (8 * i);
  h = sl_hash64_mum(h ^ tail ^ k2, k0 ^ (uint64_t)len);
  /* final avalanche (murmur3 fmix64) */
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

static inline uint64_t sl_load64(const void *p) { /* unaligned, native byte order */
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static inline uint64_t sl_load32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* The mix of sl_hash64_short: two words of a key of len bytes. */
static inline uint64_t sl_hash64_mix2(uint64_t a, uint64_t b, size_t len, uint64_t seed) {
  const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
  return sl_hash64_mum(k1 ^ len, sl_hash64_mum(a ^ k1, b ^ k0 ^ seed));
}

/* Device ids are short: up to 16 bytes are read as two overlapping words
 * (every byte counts) and mixed with two multiplies, about a third of
 * sl_hash64's work; longer keys take sl_hash64. It differs from sl_hash64,
 * so it is for hashes that live in memory only (tables rebuilt at start),
 * never for anything stored. */
static inline __attribute__((always_inline)) uint64_t sl_hash64_short(const void *key, size_t len,
                                                                      uint64_t seed) {
  const unsigned char *p = (const unsigned char *)key;
  uint64_t a, b;
  if (len > 16)
    return sl_hash64(key, len, seed);
  if (len >= 8) {
    a = sl_load64(p);
    b = sl_load64(p + len - 8);
  } else if (len >= 4) {
    a = sl_load32(p);
    b = sl_load32(p + len - 4);
  } else if (len) {
    a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len / 2] << 8) | p[len - 1];
    b = 0;
  } else {
    a = b = 0;
  }
  return sl_hash64_mix2(a, b, len, seed);
}

#endif
