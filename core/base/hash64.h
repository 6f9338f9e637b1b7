/* SPDX-License-Identifier: Apache-2.0 */
/* A fast 64-bit hash of bytes (wyhash-style multiply-fold), shared by the
 * window state table and HyperLogLog, which needs well-mixed high bits. */
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
  const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull,
                 k2 = 0x8ebc6af09c88c6e3ull;
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

#endif
