/* SPDX-License-Identifier: Apache-2.0 */
/* The devices file and API-key authentication of the gateway. The file holds
 * SHA-256 digests of the keys, not the keys, so it can sit in a config map or
 * a repository: stealing it does not let anyone in. A key is checked by
 * hashing it once and comparing with every device's digest in constant time
 * (no early exit), so response timing reveals neither the device nor how
 * many bytes matched. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway.h"
#include "gateway/gateway_coap.h"

#define MAX_DEVICE_ID 128

typedef struct gw_device {
  char *id;
  unsigned char digest[32];
} gw_device;

struct sl_gw_devices {
  gw_device *items;
  size_t n, cap;
};

/* 0 on success; -1 when OpenSSL failed (then `out` is zeroed). */
static int digest_of(const char *key, size_t len, unsigned char out[32]) {
  unsigned int n = 32;
  if (EVP_Digest(key, len, out, &n, EVP_sha256(), NULL) && n == 32)
    return 0;
  memset(out, 0, 32);
  return -1;
}

void sl_gw_hash_key(const char *key, size_t len, char out[65]) {
  unsigned char d[32];
  (void)digest_of(key, len, d); /* zeros on failure: no device file line matches them */
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int hex_value(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_hex(const char *p, size_t len, unsigned char out[32]) {
  if (len != 64)
    return -1;
  for (size_t i = 0; i < 32; i++) {
    int hi = hex_value((unsigned char)p[2 * i]), lo = hex_value((unsigned char)p[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return 0;
}

int sl_gw_device_id_valid(const char *p, size_t len) {
  if (len == 0 || len > MAX_DEVICE_ID)
    return 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f || p[i] == '"' || p[i] == '\\')
      return 0;
  return 1;
}

static int add_device(sl_gw_devices *d, const char *id, size_t idlen, const unsigned char *dig,
                      const char *name, int line, sl_error *err) {
  for (size_t i = 0; i < d->n; i++) {
    if (strlen(d->items[i].id) == idlen && memcmp(d->items[i].id, id, idlen) == 0)
      return sl_error_set(err, SL_ERR_INVALID, "%s:%d: device '%.*s' listed twice", name, line,
                          (int)idlen, id);
    if (memcmp(d->items[i].digest, dig, 32) == 0)
      return sl_error_set(err, SL_ERR_INVALID,
                          "%s:%d: device '%.*s' has the same key as '%s': give each device its "
                          "own key",
                          name, line, (int)idlen, id, d->items[i].id);
  }
  if (d->n == d->cap) {
    size_t ncap = d->cap ? 2 * d->cap : 16;
    gw_device *ni = realloc(d->items, ncap * sizeof *ni);
    if (!ni)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    d->items = ni;
    d->cap = ncap;
  }
  gw_device *dev = &d->items[d->n];
  if (!(dev->id = strndup(id, idlen)))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  memcpy(dev->digest, dig, 32);
  d->n++;
  return SL_OK;
}

/* A line of "ID VALUE" files (the devices file, the CoAP PSK file): the
 * id and where its value starts, trimmed; 0 for a blank line or a comment. */
static int split_line(const char **pp, const char **endp, const char **id, size_t *idlen) {
  const char *p = *pp, *end = *endp;
  while (p < end && isspace((unsigned char)*p))
    p++;
  while (end > p && isspace((unsigned char)end[-1]))
    end--;
  if (p == end || *p == '#')
    return 0;
  *id = p;
  while (p < end && !isspace((unsigned char)*p))
    p++;
  *idlen = (size_t)(p - *id);
  while (p < end && isspace((unsigned char)*p))
    p++;
  *pp = p;
  *endp = end;
  return 1;
}

typedef int (*line_fn)(void *arg, const char *p, const char *end, const char *name, int line,
                       sl_error *err);

static int each_line(const char *text, size_t len, const char *name, line_fn fn, void *arg,
                     sl_error *err) {
  const char *p = text, *end = text + len;
  int line = 1;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    int rc = fn(arg, p, eol, name, line, err);
    if (rc != SL_OK)
      return rc;
    p = nl ? nl + 1 : end;
    line++;
  }
  return SL_OK;
}

/* The whole file into `b`; `what` names it in errors. */
static int read_whole(const char *path, const char *what, sl_buf *b, sl_error *err) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return sl_error_set(err, SL_ERR_IO, "cannot open the %s %s", what, path);
  char chunk[4096];
  size_t n;
  int rc = SL_OK;
  while (rc == SL_OK && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
    rc = sl_buf_append(b, chunk, n);
  int bad = ferror(fp);
  fclose(fp);
  if (rc != SL_OK || bad)
    return sl_error_set(err, rc ? rc : SL_ERR_IO, "cannot read the %s %s", what, path);
  return SL_OK;
}

/* One line without its newline: "ID DIGEST", blank, or a '#' comment. */
static int parse_line(void *arg, const char *p, const char *end, const char *name, int line,
                      sl_error *err) {
  sl_gw_devices *d = arg;
  const char *id;
  size_t idlen;
  if (!split_line(&p, &end, &id, &idlen))
    return SL_OK;
  unsigned char dig[32];
  if (p == end)
    return sl_error_set(err, SL_ERR_PARSE,
                        "%s:%d: expected \"DEVICE_ID SHA256_HEX_OF_KEY\" (make the digest with "
                        "`sluice gateway --hash-key KEY`)",
                        name, line);
  if (!sl_gw_device_id_valid(id, idlen))
    return sl_error_set(err, SL_ERR_PARSE,
                        "%s:%d: device id must be 1-%d printable characters without quotes or "
                        "backslashes",
                        name, line, MAX_DEVICE_ID);
  if (parse_hex(p, (size_t)(end - p), dig) != 0)
    return sl_error_set(err, SL_ERR_PARSE,
                        "%s:%d: '%.*s' is not a SHA-256 digest (64 hex digits); the file holds "
                        "digests, not keys: `sluice gateway --hash-key KEY`",
                        name, line, (int)((end - p) > 80 ? 80 : (end - p)), p);
  return add_device(d, id, idlen, dig, name, line, err);
}

sl_gw_devices *sl_gw_devices_parse(const char *text, size_t len, const char *name, sl_error *err) {
  sl_gw_devices *d = calloc(1, sizeof *d);
  if (!d) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (each_line(text, len, name, parse_line, d, err) != SL_OK) {
    sl_gw_devices_free(d);
    return NULL;
  }
  return d;
}

sl_gw_devices *sl_gw_devices_load(const char *path, sl_error *err) {
  sl_buf b = SL_BUF_INIT;
  sl_gw_devices *d = NULL;
  if (read_whole(path, "devices file", &b, err) == SL_OK)
    d = sl_gw_devices_parse(b.data ? b.data : "", b.len, path, err);
  sl_buf_free(&b);
  return d;
}

void sl_gw_devices_free(sl_gw_devices *d) {
  if (!d)
    return;
  for (size_t i = 0; i < d->n; i++)
    free(d->items[i].id);
  free(d->items);
  free(d);
}

size_t sl_gw_devices_count(const sl_gw_devices *d) { return d ? d->n : 0; }

const char *sl_gw_devices_auth(const sl_gw_devices *d, const char *key, size_t len) {
  if (!d || !key || len == 0)
    return NULL;
  unsigned char dig[32];
  if (digest_of(key, len, dig) != 0)
    return NULL; /* authenticate nobody: a zeroed digest could match a line */
  const char *found = NULL;
  for (size_t i = 0; i < d->n; i++) {
    /* Every digest is compared, whatever matched before. */
    int same = CRYPTO_memcmp(dig, d->items[i].digest, 32) == 0;
    found = same ? d->items[i].id : found;
  }
  return found;
}

/* ---- CoAP pre-shared keys -------------------------------------------------- */

#define MIN_PSK 16
#define MAX_PSK 128

typedef struct gw_psk {
  char *id;
  char *key;
  size_t keylen;
} gw_psk;

struct sl_gw_psks {
  gw_psk *items;
  size_t n, cap;
};

static int psk_line(void *arg, const char *p, const char *end, const char *name, int line,
                    sl_error *err) {
  sl_gw_psks *k = arg;
  const char *id;
  size_t idlen;
  if (!split_line(&p, &end, &id, &idlen))
    return SL_OK;
  size_t kl = (size_t)(end - p);
  if (!sl_gw_device_id_valid(id, idlen))
    return sl_error_set(err, SL_ERR_PARSE,
                        "%s:%d: device id must be 1-%d printable characters without quotes or "
                        "backslashes",
                        name, line, MAX_DEVICE_ID);
  if (kl < MIN_PSK || kl > MAX_PSK || memchr(p, ' ', kl) || memchr(p, '\t', kl))
    return sl_error_set(err, SL_ERR_PARSE,
                        "%s:%d: expected \"DEVICE_ID KEY\" with a key of %d to %d characters "
                        "without spaces (e.g. `openssl rand -hex 16`)",
                        name, line, MIN_PSK, MAX_PSK);
  for (size_t i = 0; i < k->n; i++)
    if (strlen(k->items[i].id) == idlen && memcmp(k->items[i].id, id, idlen) == 0)
      return sl_error_set(err, SL_ERR_INVALID, "%s:%d: device '%.*s' listed twice", name, line,
                          (int)idlen, id);
  if (k->n == k->cap) {
    size_t ncap = k->cap ? 2 * k->cap : 16;
    gw_psk *ni = realloc(k->items, ncap * sizeof *ni);
    if (!ni)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    k->items = ni;
    k->cap = ncap;
  }
  gw_psk *e = &k->items[k->n];
  e->id = strndup(id, idlen);
  e->key = strndup(p, kl);
  e->keylen = kl;
  if (!e->id || !e->key) {
    free(e->id);
    free(e->key);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  k->n++;
  return SL_OK;
}

sl_gw_psks *sl_gw_psks_parse(const char *text, size_t len, const char *name, sl_error *err) {
  sl_gw_psks *k = calloc(1, sizeof *k);
  if (!k) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (each_line(text, len, name, psk_line, k, err) != SL_OK) {
    sl_gw_psks_free(k);
    return NULL;
  }
  return k;
}

sl_gw_psks *sl_gw_psks_load(const char *path, sl_error *err) {
  sl_buf b = SL_BUF_INIT;
  sl_gw_psks *k = NULL;
  if (read_whole(path, "CoAP PSK file", &b, err) == SL_OK)
    k = sl_gw_psks_parse(b.data ? b.data : "", b.len, path, err);
  if (b.data)
    OPENSSL_cleanse(b.data, b.cap); /* the keys themselves: leave no copy behind */
  sl_buf_free(&b);
  return k;
}

void sl_gw_psks_free(sl_gw_psks *k) {
  if (!k)
    return;
  for (size_t i = 0; i < k->n; i++) {
    free(k->items[i].id);
    OPENSSL_cleanse(k->items[i].key, k->items[i].keylen);
    free(k->items[i].key);
  }
  free(k->items);
  free(k);
}

size_t sl_gw_psks_count(const sl_gw_psks *k) { return k ? k->n : 0; }

const char *sl_gw_psks_find(const sl_gw_psks *k, const void *identity, size_t len,
                            const uint8_t **key, size_t *keylen) {
  for (size_t i = 0; k && i < k->n; i++)
    if (strlen(k->items[i].id) == len && memcmp(k->items[i].id, identity, len) == 0) {
      *key = (const uint8_t *)k->items[i].key;
      *keylen = k->items[i].keylen;
      return k->items[i].id;
    }
  return NULL;
}
