/* SPDX-License-Identifier: Apache-2.0 */
/* Key guesses of the JSON decoder: updating them when a key was not its guess (cold: the
 * hot matching is inline, json_decode_keys.h). */
#include "codec/json_decode_keys.h"

/* Remember `name` as the guess for key number i (i <= g->n, i < SL_JSON_KEYS_MAX). A name
 * holding '"', '\\' or a control character is written escaped in JSON: never guessed. */
void sl_json_keys_store(sl_json_keys *g, uint32_t i, sl_name name, size_t len) {
  sl_json_key *k = &g->k[i];
  const unsigned char *u = (const unsigned char *)name;
  k->name = name;
  k->len = (uint32_t)len;
  for (size_t b = 0; b < len; b++)
    if (u[b] < 0x20 || u[b] == '"' || u[b] == '\\')
      k->name = NULL;
  if (len < 16) { /* longer names are compared with memcmp */
    unsigned char w[16] = {0}, m[16] = {0}, mc[16];
    memcpy(w, name, len);
    w[len] = '"';
    memset(m, 0xFF, len + 1);
    memcpy(mc, m, sizeof mc);
    if (len < 15) { /* at 15 the ':' is past the two words: compared byte by byte */
      w[len + 1] = ':';
      mc[len + 1] = 0xFF;
    }
    memcpy(k->w, w, sizeof w);
    memcpy(k->m, m, sizeof m);
    memcpy(k->mc, mc, sizeof mc);
  }
  if (g->distinct > i)
    g->distinct = i;
  if (g->n == i)
    g->n = i + 1;
}

/* After a top-level object of `keys` keys: the guesses are its keys, and `distinct` is
 * recounted when some guess changed (`missed`). */
void sl_json_keys_settle(sl_json_keys *g, uint32_t keys, int missed) {
  if (keys < g->n)
    g->n = keys;
  if (g->distinct > g->n)
    g->distinct = g->n;
  if (!missed)
    return;
  uint32_t d = 0;
  for (; d < g->n && g->k[d].name; d++) {
    uint32_t i = 0;
    while (i < d && g->k[i].name != g->k[d].name)
      i++;
    if (i < d)
      break;
  }
  g->distinct = d;
}
