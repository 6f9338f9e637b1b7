/* SPDX-License-Identifier: Apache-2.0 */
/* Key guesses of the JSON decoder (internal): the keys of the last top-level object
 * decoded on a thread, in order.
 *
 * Records of one stream repeat one key order, so the next object's i-th key is checked
 * against the i-th guess with two word compares, where parsing it, hashing it and looking
 * it up in the name cache cost ~150 instructions a key. A guess is only a hint: it is taken
 * when the input's bytes are exactly the name and its closing quote, so the grammar, the
 * names budget and max_fields stay those of the general path. Decoders of other streams on
 * the same thread only cost misses. */
#ifndef SLUICE_JSON_DECODE_KEYS_H
#define SLUICE_JSON_DECODE_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/record_internal.h"

/* Keys guessed per object: the objects of real streams fit; past it sl_record_set's plain
 * scan gives way to an index anyway (SL_FIELD_INDEX_FROM). */
#define SL_JSON_KEYS_MAX SL_FIELD_INDEX_FROM

typedef struct sl_json_key {
  sl_name name; /* interned; NULL: a key whose input form is not its bytes, never guessed */
  uint32_t len;
  /* name + '"' + ':' (when they fit in 16 bytes), the mask of name + '"' and the mask of
   * all three: the compact form `"name":` is one compare of two words. */
  uint64_t w[2], m[2], mc[2];
} sl_json_key;

/* One per thread, zero-initialised (no guesses). */
typedef struct sl_json_keys {
  uint32_t n;        /* guesses: keys of the last top-level object, at most SL_JSON_KEYS_MAX */
  uint32_t distinct; /* k[0..distinct) are distinct names (a repeated key ends the run) */
  sl_json_key k[SL_JSON_KEYS_MAX];
} sl_json_keys;

/* Are the 16 bytes at s those of w where m is set? */
static inline int sl_json_words_match(const unsigned char *s, const uint64_t w[2],
                                      const uint64_t m[2]) {
  uint64_t a, b;
  memcpy(&a, s, sizeof a);
  memcpy(&b, s + 8, sizeof b);
  return (((a ^ w[0]) & m[0]) | ((b ^ w[1]) & m[1])) == 0;
}

/* Does the key at s (after its opening quote) read exactly g->name then '"'? Only names
 * whose bytes are their own JSON form are guessed (sl_json_keys_store), so a match is the string
 * the general path would parse, with nothing to unescape or validate. */
static inline int sl_json_key_matches(const sl_json_key *g, const unsigned char *s,
                                      const unsigned char *end) {
  if (!g->name)
    return 0;
  if (g->len < 16 && end - s >= 16)
    return sl_json_words_match(s, g->w, g->m);
  return (size_t)(end - s) > g->len && memcmp(s, g->name, g->len) == 0 && s[g->len] == '"';
}

/* The compact form `name":` at s (after the key's opening quote): the key is g->name, and
 * its value starts at s + g->len + 2. */
static inline int sl_json_key_compact(const sl_json_key *g, const unsigned char *s,
                                      const unsigned char *end) {
  if (!g->name)
    return 0;
  if (g->len < 15 && end - s >= 16)
    return sl_json_words_match(s, g->w, g->mc);
  return sl_json_key_matches(g, s, end) && end - s > g->len + 1 && s[g->len + 1] == ':';
}

/* Remember `name` (interned, `len` bytes) as the guess for key number i
 * (i <= g->n, i < SL_JSON_KEYS_MAX). */
void sl_json_keys_store(sl_json_keys *g, uint32_t i, sl_name name, size_t len);
/* After a top-level object of `keys` keys (repeats included), `missed` when some key was
 * not its guess: the guesses become its keys. */
void sl_json_keys_settle(sl_json_keys *g, uint32_t keys, int missed);

#endif
