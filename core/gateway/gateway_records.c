/* SPDX-License-Identifier: Apache-2.0 */
/* Request bodies into records ready for Kafka: split a JSON object or array
 * into records, give each the authenticated device id as its key field (or
 * refuse a record that claims another device), validate it against the
 * topic's schema and encode it. Decoding and encoding are the pipeline
 * codecs' (json_decode.c, format.c): a gateway accepts exactly what a
 * pipeline's decode{} would read back. An array is only split here (a scan
 * of its structure); each element is parsed strictly, straight into the
 * request's arena, so nothing is allocated per record on the heap. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec/json_codec.h"
#include "gateway/gateway.h"

int sl_gw_batch_init(sl_gw_batch *b) {
  memset(b, 0, sizeof *b);
  b->arena = sl_arena_new(SL_GW_BATCH_ARENA);
  return b->arena ? SL_OK : SL_ERR_NOMEM;
}

void sl_gw_batch_release(sl_gw_batch *b) {
  sl_arena_destroy(b->arena);
  sl_buf_free(&b->bytes);
  memset(b, 0, sizeof *b);
}

const char *sl_gw_topic_level(const char *topic, int level, size_t *len) {
  if (level < 1)
    return NULL;
  const char *p = topic;
  for (int i = 1; i < level; i++) {
    p = strchr(p, '/');
    if (!p)
      return NULL;
    p++;
  }
  *len = strcspn(p, "/");
  return p;
}

const char *sl_gw_filter_topics(const char *filter) {
  if (strncmp(filter, "$share/", 7) != 0)
    return filter;
  const char *group = filter + 7, *slash = strchr(group, '/');
  return slash && slash > group && slash[1] ? slash + 1 : NULL;
}

/* The key field must be the device, or missing (then it is set). */
static int check_key(const sl_gw_topic *t, sl_record *r, const char *device, sl_error *err) {
  size_t dl = strlen(device);
  const sl_value *k = sl_record_get(r, t->key_name);
  if (!k || k->type == SL_TYPE_NULL) {
    char *copy = sl_arena_strndup(sl_record_arena(r), device, dl);
    if (!copy)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return sl_record_set(r, t->key_name, sl_value_string(copy, dl));
  }
  char num[32];
  const char *have = NULL;
  size_t hl = 0;
  if (k->type == SL_TYPE_STRING) {
    have = k->as.str.ptr;
    hl = k->as.str.len;
  } else if (k->type == SL_TYPE_INT) { /* device "17" may send machine_id = 17 */
    hl = (size_t)snprintf(num, sizeof num, "%" PRId64, k->as.i);
    have = num;
  }
  if (have && hl == dl && memcmp(have, device, dl) == 0)
    return SL_OK;
  if (have)
    return sl_error_set(err, SL_ERR_INVALID,
                        "field '%s' is '%.*s' but the authenticated device is '%s'", t->key,
                        (int)(hl > 128 ? 128 : hl), have, device);
  return sl_error_set(err, SL_ERR_TYPE, "field '%s' must be the device id '%s', not a %s", t->key,
                      device, sl_type_name(k->type));
}

int sl_gw_record_encode(const sl_gw_topic *t, sl_record *r, const char *device, sl_buf *out,
                        sl_error *err) {
  size_t start = out->len;
  int rc = check_key(t, r, device, err);
  if (rc == SL_OK && t->check) { /* json with a schema: the Avro encoder is the validator */
    rc = sl_avro_encode(t->check, r, out, err);
    out->len = start;
  }
  if (rc == SL_OK)
    rc = sl_format_encode(t->fmt, r, out, err);
  if (rc != SL_OK)
    out->len = start;
  return rc;
}

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* The next element of a top-level array at *p (just after '[' or ','):
 * its bytes in [*s, *s + *n), *p moved past the ',' or onto the ']'.
 * Only the structure is scanned here (strings, nesting); the element itself
 * is parsed strictly by sl_json_decode. -1 on a malformed array. */
static int next_element(const char **p, const char *end, const char **s, size_t *n, int *more) {
  const char *q = skip_ws(*p, end);
  int depth = 0;
  *s = q;
  for (; q < end; q++) {
    char c = *q;
    if (c == '"') {
      for (q++; q < end && *q != '"'; q++)
        if (*q == '\\')
          q++;
      if (q >= end)
        return -1;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if ((c == '}' || c == ']') && depth > 0) {
      depth--;
    } else if (depth == 0 && (c == ',' || c == ']')) {
      break;
    }
  }
  if (q >= end)
    return -1;
  const char *e = q;
  while (e > *s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
    e--;
  *n = (size_t)(e - *s);
  *more = *q == ',';
  *p = *more ? q + 1 : q;
  return *n ? 0 : -1;
}

static void item_error(sl_gw_batch *b, size_t i, const char *msg) {
  const char *copy = sl_arena_strndup(b->arena, msg, strlen(msg));
  b->items[i].error = copy ? copy : "out of memory";
  b->invalid++;
}

/* Decode, key, validate and encode element i. */
static int parse_item(sl_gw_batch *b, size_t i, const sl_gw_topic *t, const char *device,
                      const char *s, size_t n) {
  sl_error e;
  sl_error_clear(&e);
  sl_record *r = NULL;
  size_t start = b->bytes.len;
  int rc = sl_json_decode(s, n, b->arena, &r, &e);
  if (rc == SL_OK)
    rc = sl_gw_record_encode(t, r, device, &b->bytes, &e);
  size_t len = b->bytes.len - start;
  if (rc == SL_OK && b->max_message &&
      len + strlen(device) + SL_GW_MESSAGE_OVERHEAD > b->max_message) {
    /* Refused here with the reason rather than by librdkafka after
     * part of the batch was produced. */
    b->bytes.len = start;
    rc = sl_error_set(&e, SL_ERR_LIMIT,
                      "the record is %zu bytes encoded; Kafka accepts at most %zu per message "
                      "(message.max.bytes, key and framing included)",
                      len, b->max_message);
  }
  if (rc == SL_OK) {
    b->items[i].off = start;
    b->items[i].len = b->bytes.len - start;
  } else {
    item_error(b, i, e.message);
  }
  return rc == SL_ERR_NOMEM ? rc : SL_OK;
}

/* Count the elements of the array body at p (after '['); -1 when malformed. */
static long count_elements(const char *p, const char *end) {
  long n = 0;
  const char *q = skip_ws(p, end);
  int more = 1;
  if (q < end && *q == ']') {
    p = q;
    more = 0;
  }
  while (more) {
    const char *s;
    size_t len;
    if (next_element(&p, end, &s, &len, &more) != 0)
      return -1;
    n++;
  }
  return p < end && skip_ws(p + 1, end) == end ? n : -1;
}

static int parse_array(sl_gw_batch *b, const sl_gw_topic *t, const char *device, const char *p,
                       const char *end) {
  for (size_t i = 0; i < b->n; i++) {
    const char *s;
    size_t len;
    int more;
    next_element(&p, end, &s, &len, &more); /* cannot fail: count_elements checked */
    if (parse_item(b, i, t, device, s, len) != SL_OK)
      return SL_ERR_NOMEM;
  }
  return SL_OK;
}

int sl_gw_batch_parse(sl_gw_batch *b, const sl_gw_topic *t, const char *device, const char *body,
                      size_t len, size_t max_records, sl_error *err) {
  const char *end = body + len, *p = skip_ws(body, end);
  int array = p < end && *p == '[';
  long n = array ? count_elements(p + 1, end) : 1;
  if (p == end || (*p != '[' && *p != '{'))
    return sl_error_set(err, SL_ERR_PARSE, "the body must be a JSON object or an array of objects");
  if (n < 0)
    return sl_error_set(err, SL_ERR_PARSE, "the body is not a well-formed JSON array");
  if (n == 0)
    return sl_error_set(err, SL_ERR_PARSE, "the array holds no records");
  if ((size_t)n > max_records)
    return sl_error_set(err, SL_ERR_LIMIT, "%ld records in one request; the limit is %zu: split it",
                        n, max_records);
  b->n = (size_t)n;
  if (!(b->items = sl_arena_calloc(b->arena, b->n, sizeof *b->items)))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  int rc = array ? parse_array(b, t, device, p + 1, end)
                 : parse_item(b, 0, t, device, p, (size_t)(end - p));
  return rc == SL_OK ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
}
