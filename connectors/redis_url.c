/* SPDX-License-Identifier: Apache-2.0 */
/* SLUICE_REDIS_URL parsing, for every connection sluice makes to Redis:
 *   redis://[user[:password]@]host[:port][/db][?param=value&...]
 *   redis://[user[:password]@]host[:port],host[:port]...[?...]  (Redis Cluster seeds)
 *   redis+sentinel://[user[:password]@]host[:port][,host[:port]...]/primary[/db][?...]
 * Parameters: wait_replicas, wait_timeout_ms (both schemes) and
 * sentinel_password (Sentinel only). Messages never contain a password. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "redis.h"

static const char usage[] = "expected redis://[user[:password]@]host[:port][/db], "
                            "redis://host:port,host:port... (Redis Cluster seeds) or "
                            "redis+sentinel://[user[:password]@]host[:port][,host[:port]...]/"
                            "primary-name[/db], optionally followed by ?wait_replicas=N";

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode [s, s+n) into dst (size cap). -1 when too long or bad. */
static int pct_decode(const char *s, size_t n, char *dst, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= n)
        return -1;
      int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
      if (h < 0 || l < 0 || (h == 0 && l == 0))
        return -1;
      c = h * 16 + l;
      i += 2;
    }
    if (o + 1 >= cap)
      return -1;
    dst[o++] = (char)c;
  }
  dst[o] = '\0';
  return 0;
}

static int parse_uint(const char *s, size_t n, long max, long *out) {
  if (n == 0 || n > 10)
    return -1;
  long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i]))
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v > max)
    return -1;
  *out = v;
  return 0;
}

/* host[:port] or [v6][:port] in [p, end) into host/port (port keeps its
 * default when absent). */
static int parse_hostport(const char *p, const char *end, char *host, size_t cap, int *port,
                          sl_error *err) {
  const char *hend;
  if (*p == '[') { /* [IPv6] */
    const char *rb = memchr(p, ']', (size_t)(end - p));
    if (!rb)
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: missing ']' after IPv6 host");
    if ((size_t)(rb - p - 1) >= cap || rb == p + 1)
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: bad IPv6 host");
    memcpy(host, p + 1, (size_t)(rb - p - 1));
    host[rb - p - 1] = '\0';
    hend = rb + 1;
  } else {
    hend = memchr(p, ':', (size_t)(end - p));
    if (!hend)
      hend = end;
    if (hend == p)
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: missing host");
    if ((size_t)(hend - p) >= cap)
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: host name too long");
    memcpy(host, p, (size_t)(hend - p));
    host[hend - p] = '\0';
  }
  if (hend < end) {
    long v;
    if (*hend != ':' || parse_uint(hend + 1, (size_t)(end - hend - 1), 65535, &v) != 0 || v == 0)
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: bad port (expected 1-65535)");
    *port = (int)v;
  }
  return SL_OK;
}

/* [user[:password]@] at p (authority ends at end); *p advanced past '@'. */
static int parse_userinfo(const char **pp, const char *end, sl_redis_url *out, sl_error *err) {
  const char *p = *pp, *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@')
      at = q; /* the last '@': passwords may contain one when not escaped */
  if (!at)
    return SL_OK;
  const char *colon = memchr(p, ':', (size_t)(at - p));
  const char *uend = colon ? colon : at;
  if (pct_decode(p, (size_t)(uend - p), out->user, sizeof out->user) != 0)
    return sl_error_set(err, SL_ERR_INVALID, "Redis URL: bad or too long user name");
  if (colon &&
      pct_decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password) != 0)
    return sl_error_set(err, SL_ERR_INVALID, "Redis URL: bad or too long password");
  if (colon && !out->password[0])
    return sl_error_set(err, SL_ERR_INVALID, "Redis URL: empty password after ':'");
  *pp = at + 1;
  return SL_OK;
}

/* The comma-separated sentinels (or cluster seeds) in [p, end). */
static int parse_list(const char *p, const char *end, sl_redis_addr *list, int *n, int defport,
                      const char *what, sl_error *err) {
  while (p <= end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *e = comma ? comma : end;
    if (*n == SL_REDIS_MAX_SENTINELS)
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: more than %d %ss",
                          SL_REDIS_MAX_SENTINELS, what);
    sl_redis_addr *s = &list[*n];
    s->port = defport;
    if (e == p)
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: missing %s host (%s)", what, usage);
    int rc = parse_hostport(p, e, s->host, sizeof s->host, &s->port, err);
    if (rc != SL_OK)
      return rc;
    (*n)++;
    if (!comma)
      break;
    p = comma + 1;
  }
  return SL_OK;
}

static int parse_query(const char *q, sl_redis_url *out, sl_error *err) {
  while (*q) {
    size_t n = strcspn(q, "&#");
    const char *eq = memchr(q, '=', n);
    if (!eq)
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: parameter '%.*s' without '=value'",
                          (int)(n > 40 ? 40 : n), q);
    size_t kl = (size_t)(eq - q), vl = n - kl - 1;
    const char *v = eq + 1;
    long x;
    if (kl == 13 && memcmp(q, "wait_replicas", kl) == 0) {
      if (parse_uint(v, vl, 100, &x) != 0)
        return sl_error_set(err, SL_ERR_INVALID, "Redis URL: wait_replicas must be 0-100");
      out->wait_replicas = (int)x;
    } else if (kl == 15 && memcmp(q, "wait_timeout_ms", kl) == 0) {
      if (parse_uint(v, vl, 600000, &x) != 0 || x == 0)
        return sl_error_set(err, SL_ERR_INVALID, "Redis URL: wait_timeout_ms must be 1-600000");
      out->wait_timeout_ms = (int)x;
    } else if (kl == 17 && memcmp(q, "sentinel_password", kl) == 0) {
      if (!out->nsentinels)
        return sl_error_set(err, SL_ERR_INVALID,
                            "Redis URL: sentinel_password needs a redis+sentinel:// URL");
      if (pct_decode(v, vl, out->sentinel_password, sizeof out->sentinel_password) != 0 || !vl)
        return sl_error_set(err, SL_ERR_INVALID, "Redis URL: bad or too long sentinel_password");
    } else {
      return sl_error_set(err, SL_ERR_INVALID,
                          "Redis URL: unknown parameter '%.*s' (known: wait_replicas, "
                          "wait_timeout_ms, sentinel_password)",
                          (int)(kl > 40 ? 40 : kl), q);
    }
    q += n;
    if (*q == '#')
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: unexpected '#...' (%s)", usage);
    if (*q == '&')
      q++;
  }
  return SL_OK;
}

int sl_redis_url_parse(const char *url, sl_redis_url *out, sl_error *err) {
  static const char scheme[] = "redis://", sscheme[] = "redis+sentinel://";
  memset(out, 0, sizeof *out);
  out->port = 6379;
  out->wait_timeout_ms = 1000;
  if (!url)
    return sl_error_set(err, SL_ERR_INVALID, "no Redis URL given");
  if (strncmp(url, "rediss://", 9) == 0)
    return sl_error_set(err, SL_ERR_INVALID,
                        "Redis URL: TLS (rediss://) is not supported by this build (hiredis 0.14 "
                        "has no TLS); reach Redis through a TLS tunnel such as stunnel");
  int sentinel = strncmp(url, sscheme, sizeof sscheme - 1) == 0;
  if (!sentinel && strncmp(url, scheme, sizeof scheme - 1) != 0)
    return sl_error_set(err, SL_ERR_INVALID,
                        "Redis URL must start with redis:// or "
                        "redis+sentinel:// (%s)",
                        usage);
  const char *p = url + (sentinel ? sizeof sscheme : sizeof scheme) - 1;
  const char *end = p + strcspn(p, "/?#");
  int rc = parse_userinfo(&p, end, out, err);
  if (rc != SL_OK)
    return rc;
  if (sentinel) {
    if ((rc = parse_list(p, end, out->sentinels, &out->nsentinels, 26379, "sentinel", err)) !=
        SL_OK)
      return rc;
    /* The primary's name is mandatory: sentinels may watch several. */
    size_t n = *end == '/' ? strcspn(end + 1, "/?#") : 0;
    if (!n)
      return sl_error_set(err, SL_ERR_INVALID,
                          "Redis URL: missing the primary's name after the sentinels (%s)", usage);
    if (n >= sizeof out->primary)
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: primary name too long");
    memcpy(out->primary, end + 1, n);
    out->host[0] = '\0';
    out->port = 0;
    end += 1 + n;
  } else if (memchr(p, ',', (size_t)(end - p))) {
    /* Seeds of a Redis Cluster: any one that answers gives the slot map. */
    if ((rc = parse_list(p, end, out->seeds, &out->nseeds, 6379, "cluster node", err)) != SL_OK)
      return rc;
    memcpy(out->host, out->seeds[0].host, sizeof out->host);
    out->port = out->seeds[0].port;
  } else if ((rc = parse_hostport(p, end, out->host, sizeof out->host, &out->port, err)) != SL_OK) {
    return rc;
  }
  if (*end == '/') {
    const char *d = end + 1;
    size_t n = strcspn(d, "?#");
    long db = 0;
    if (n && parse_uint(d, n, 1000000, &db) != 0)
      return sl_error_set(err, SL_ERR_INVALID, "Redis URL: bad database number after '/'");
    out->db = (int)db;
    end = d + n;
    if (out->nseeds && out->db)
      return sl_error_set(err, SL_ERR_INVALID,
                          "Redis URL: a Redis Cluster has database 0 only (drop '/%d')", out->db);
  }
  if (*end == '?')
    return parse_query(end + 1, out, err);
  if (*end)
    return sl_error_set(err, SL_ERR_INVALID, "Redis URL: unexpected '%c...' (%s)", *end, usage);
  return SL_OK;
}
