/* SPDX-License-Identifier: Apache-2.0 */
/* JSON decoder fast paths (core/codec/json_decode.c) against its general path.
 *
 * The decoder guesses each top-level key from the previous object's key order on the same
 * thread, and builds the record without searching for repeats while every key was guessed.
 * Decoding `{}` first leaves no guesses, so every key then takes the general path: each
 * document decoded warm (after other documents) must give what it gives cold, to the byte,
 * the same record or the same error, reason included. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/name_internal.h"
#include "base/record_internal.h"
#include "codec/json_codec.h"

static uint64_t rnd_state = 0x2545F4914F6CDD1Du;
static uint64_t rnd(void) { /* xorshift64*: deterministic */
  rnd_state ^= rnd_state >> 12;
  rnd_state ^= rnd_state << 25;
  rnd_state ^= rnd_state >> 27;
  return rnd_state * 0x2545F4914F6CDD1Du;
}

/* One decode: rc, reason, then the record's encoding or the error message. */
typedef struct outcome {
  int rc;
  const char *reason;
  sl_buf text;
} outcome;

static void decode(const char *doc, size_t len, uint32_t max_fields, sl_arena *a, outcome *o) {
  sl_decode_opts opts = {max_fields, NULL};
  sl_record *r = NULL;
  sl_error err;
  sl_error_clear(&err);
  /* An exact-size heap copy: ASan sees any read past the end of the input. */
  char *copy = malloc(len ? len : 1);
  memcpy(copy, doc, len);
  o->rc = sl_json_decode_opts(copy, len, &opts, a, &r, &err);
  free(copy);
  o->reason = opts.reason;
  sl_buf_reset(&o->text);
  if (o->rc == SL_OK) {
    char n[32];
    int k = snprintf(n, sizeof n, "%u fields: ", (unsigned)sl_record_count(r));
    sl_buf_append(&o->text, n, (size_t)k);
    CU_ASSERT_EQUAL(sl_json_encode(r, &o->text, &err), SL_OK);
  } else {
    sl_buf_append(&o->text, err.message, strlen(err.message));
  }
}

static int same(const outcome *x, const outcome *y) {
  int reasons = x->reason && y->reason ? strcmp(x->reason, y->reason) == 0 : x->reason == y->reason;
  return x->rc == y->rc && reasons && x->text.len == y->text.len &&
         memcmp(x->text.data, y->text.data, x->text.len) == 0;
}

static void forget_guesses(sl_arena *a) {
  sl_record *r;
  CU_ASSERT_EQUAL(sl_json_decode("{}", 2, a, &r, NULL), SL_OK);
}

/* Keys as written in JSON: plain ones, one spelled with an escape ("a\u0062" is "ab"),
 * names that hold a quote, a backslash or a control character (only written escaped),
 * non-ASCII, empty, and names around the 16 bytes of the two-word compare. */
static const char *const keys[] = {"machine_id",
                                   "ts",
                                   "temperature",
                                   "vibration",
                                   "site",
                                   "ab",
                                   "a\\u0062",
                                   "a\\\"b",
                                   "a\\\\",
                                   "a\\u0001",
                                   "h\xc3\xa9",
                                   "",
                                   "abcdefghijklmno",
                                   "abcdefghijklmnop",
                                   "abcdefghijklmnopq",
                                   "k",
                                   "abcdefghijklmnopqrstuvwxyz0123456789"};
#define NKEYS (sizeof keys / sizeof keys[0])

static void put_value(sl_buf *b, int depth) {
  char t[64];
  int n;
  switch (rnd() % (depth < 2 ? 9 : 7)) {
  case 0: n = snprintf(t, sizeof t, "%lld", (long long)(rnd() % 2000000000000) - 1000); break;
  case 1: n = snprintf(t, sizeof t, "%.3f", (double)(rnd() % 100000) / 7.0 - 50); break;
  case 2: n = snprintf(t, sizeof t, "\"m%04d\"", (int)(rnd() % 10000)); break;
  case 3: n = snprintf(t, sizeof t, "\"pl\\u00e9nt-\\\"%d\"", (int)(rnd() % 9)); break;
  case 4: n = snprintf(t, sizeof t, "%s", rnd() % 2 ? "true" : "null"); break;
  case 5: n = snprintf(t, sizeof t, "1e%d", (int)(rnd() % 40)); break;
  case 6: n = snprintf(t, sizeof t, "\"\xf0\x9f\x98\x80\""); break;
  case 7: /* a nested object: its keys must not disturb the top-level guesses */
    sl_buf_append(b, "{", 1);
    for (int i = 0, m = (int)(rnd() % 4); i < m; i++) {
      n = snprintf(t, sizeof t, "%s\"%s\":", i ? "," : "", keys[rnd() % NKEYS]);
      sl_buf_append(b, t, (size_t)n);
      put_value(b, depth + 1);
    }
    sl_buf_append(b, "}", 1);
    return;
  default:
    sl_buf_append(b, "[", 1);
    for (int i = 0, m = (int)(rnd() % 3); i < m; i++) {
      if (i)
        sl_buf_append(b, ",", 1);
      put_value(b, depth + 1);
    }
    sl_buf_append(b, "]", 1);
    return;
  }
  sl_buf_append(b, t, (size_t)n);
}

/* A document of the given key order, with fresh values and random whitespace. */
static void put_doc(sl_buf *b, const int *order, int n) {
  sl_buf_reset(b);
  const char *open = rnd() % 8 ? "{" : " {\n";
  sl_buf_append(b, open, strlen(open));
  for (int i = 0; i < n; i++) {
    char t[64];
    int k = snprintf(t, sizeof t, "%s\"%s\"%s", i ? (rnd() % 8 ? "," : " , ") : "", keys[order[i]],
                     rnd() % 8 ? ":" : " : ");
    sl_buf_append(b, t, (size_t)k);
    put_value(b, 1);
  }
  sl_buf_append(b, "}", 1);
}

/* A stream of documents whose key orders drift as real and hostile streams do: mostly the
 * same order, sometimes two keys swapped, one dropped, added or repeated, the document cut
 * short or one byte changed. Each is decoded warm twice (after the previous document, then
 * after itself: every key guessed) and compared with its cold decode. */
static void test_warm_decodes_match_cold(void) {
  sl_arena *a = sl_arena_new(0);
  sl_buf doc = SL_BUF_INIT;
  outcome warm = {0, NULL, SL_BUF_INIT}, again = {0, NULL, SL_BUF_INIT},
          cold = {0, NULL, SL_BUF_INIT};
  static const uint32_t max_fields[] = {0, 0, 0, 1, 3, 5, 16, 17};
  int order[24] = {0, 1, 2, 3, 4}, n = 5, bad = 0, ok = 0, guessed = 0;
  for (int round = 0; round < 40000; round++) {
    int m = (int)(rnd() % 16);
    if (m == 0 && n >= 2) { /* swap two keys */
      int i = (int)(rnd() % (uint64_t)n), k = (int)(rnd() % (uint64_t)n), t = order[i];
      order[i] = order[k];
      order[k] = t;
    } else if (m == 1 && n > 0) { /* drop one */
      int i = (int)(rnd() % (uint64_t)n);
      memmove(order + i, order + i + 1, (size_t)(n - i - 1) * sizeof *order);
      n--;
    } else if (m == 2 && n < 24) { /* add one, maybe a repeat */
      order[n++] = (int)(rnd() % NKEYS);
    } else if (m == 3 && n > 0 && n < 24) { /* repeat one at once */
      order[n] = order[rnd() % (uint64_t)n];
      n++;
    } else if (m == 4) { /* a fresh order */
      n = (int)(rnd() % 20);
      for (int i = 0; i < n; i++)
        order[i] = (int)(rnd() % NKEYS);
    }
    put_doc(&doc, order, n);
    size_t len = doc.len;
    if (rnd() % 10 == 0) /* cut short */
      len = (size_t)(rnd() % (len + 1));
    if (rnd() % 10 == 0 && len) /* one byte changed */
      doc.data[rnd() % len] = "\"\\:,}{ a\x01\xff"[rnd() % 10];
    uint32_t mf = max_fields[rnd() % (sizeof max_fields / sizeof max_fields[0])];
    decode(doc.data, len, mf, a, &warm);
    decode(doc.data, len, mf, a, &again);
    forget_guesses(a);
    decode(doc.data, len, mf, a, &cold);
    ok += cold.rc == SL_OK;
    guessed += cold.rc == SL_OK && n >= 3;
    if (!same(&warm, &cold) || !same(&again, &cold)) {
      if (bad++ < 3)
        fprintf(stderr, "\n  %.*s\n  warm:  %.*s\n  again: %.*s\n  cold:  %.*s\n", (int)len,
                doc.data, (int)warm.text.len, warm.text.data, (int)again.text.len, again.text.data,
                (int)cold.text.len, cold.text.data);
    }
    sl_arena_reset(a);
    /* Leave this document's keys as the next one's guesses, as a stream would. */
    decode(doc.data, len, mf, a, &warm);
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(ok > 10000 && ok < 39000); /* valid and invalid documents both exercised */
  CU_ASSERT(guessed > 5000);
  sl_buf_free(&doc);
  sl_buf_free(&warm.text);
  sl_buf_free(&again.text);
  sl_buf_free(&cold.text);
  sl_arena_destroy(a);
}

/* Decode `prime`, then `doc`; `doc` must give `want` (a record's encoding, or a substring of
 * the error). */
static void check_after(const char *prime, const char *doc, int want_rc, const char *want) {
  sl_arena *a = sl_arena_new(0);
  outcome o = {0, NULL, SL_BUF_INIT};
  sl_record *r;
  forget_guesses(a);
  CU_ASSERT_EQUAL(sl_json_decode(prime, strlen(prime), a, &r, NULL), SL_OK);
  decode(doc, strlen(doc), 0, a, &o);
  sl_buf_append(&o.text, "", 1);
  CU_ASSERT_EQUAL(o.rc, want_rc);
  int match = want_rc == SL_OK ? strcmp(o.text.data, want) == 0 : strstr(o.text.data, want) != NULL;
  CU_ASSERT(match);
  if (o.rc != want_rc || !match)
    fprintf(stderr, "\n  %s then %s: %s\n", prime, doc, o.text.data);
  sl_buf_free(&o.text);
  sl_arena_destroy(a);
}

/* A guess is taken only when the input's bytes are the name: names written with escapes
 * are never guessed, or `{"a\":1}` (an unterminated string) would read as the key `a\`. */
static void test_escaped_names_never_guessed(void) {
  check_after("{\"a\\\\\":1}", "{\"a\\\":1}", SL_ERR_PARSE, "unterminated string");
  check_after("{\"a\\\\\":1}", "{\"a\\\\\":2}", SL_OK, "1 fields: {\"a\\\\\":2}");
  check_after("{\"a\\\"b\":1}", "{\"a\\\"b\":2}", SL_OK, "1 fields: {\"a\\\"b\":2}");
  check_after("{\"a\\u0001\":1}", "{\"a\x01\":1}", SL_ERR_PARSE, "unescaped control character");
  /* The same name spelled with an escape is the same field. */
  check_after("{\"ab\":1,\"c\":2}", "{\"a\\u0062\":3,\"c\":4}", SL_OK,
              "2 fields: {\"ab\":3,\"c\":4}");
  check_after("{\"ab\":1}", "{\"ab\\u0000\":3}", SL_ERR_PARSE, "field name contains \\u0000");
  /* A guessed name that is a prefix of the key is not the key. */
  check_after("{\"ts\":1}", "{\"tsx\":2}", SL_OK, "1 fields: {\"tsx\":2}");
  check_after("{\"abcdefghijklmnopq\":1}", "{\"abcdefghijklmnop\":2}", SL_OK,
              "1 fields: {\"abcdefghijklmnop\":2}");
  check_after("{\"machine_id\":1}", "{\"machine_id", SL_ERR_PARSE, "unterminated string");
  check_after("{\"machine_id\":1}", "{\"machine_id\"", SL_ERR_PARSE, "expected ':'");
}

/* A repeated key keeps the first one's place and the last one's value, whether the keys
 * were guessed or not. */
static void test_repeated_keys_last_wins(void) {
  check_after("{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2}", SL_OK, "1 fields: {\"a\":2}");
  check_after("{\"a\":1,\"b\":2}", "{\"a\":1,\"a\":3}", SL_OK, "1 fields: {\"a\":3}");
  check_after("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":1,\"b\":2,\"a\":4}", SL_OK,
              "2 fields: {\"a\":4,\"b\":2}");
  check_after("{\"a\":1,\"b\":2,\"c\":3}", "{\"a\":1,\"b\":2,\"c\":3,\"b\":5}", SL_OK,
              "3 fields: {\"a\":1,\"b\":5,\"c\":3}");
  check_after("{\"a\":1,\"b\":2,\"c\":3,\"b\":5}", "{\"a\":1,\"b\":2,\"c\":3}", SL_OK,
              "3 fields: {\"a\":1,\"b\":2,\"c\":3}");
}

/* Guessed keys obey max_fields, and a new key past the names budget is refused after
 * guessed ones, with its reason. */
static void test_limits_with_guesses(void) {
  sl_arena *a = sl_arena_new(0);
  outcome o = {0, NULL, SL_BUF_INIT};
  const char *doc = "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}";
  decode(doc, strlen(doc), 0, a, &o);
  CU_ASSERT_EQUAL(o.rc, SL_OK);
  decode(doc, strlen(doc), 3, a, &o); /* every key guessed */
  CU_ASSERT_EQUAL(o.rc, SL_ERR_LIMIT);
  CU_ASSERT_STRING_EQUAL(o.reason ? o.reason : "", SL_REASON_TOO_MANY_FIELDS);
  decode(doc, strlen(doc), 4, a, &o);
  CU_ASSERT_EQUAL(o.rc, SL_OK);

  sl_name_set_data_max(sl_name_data_count());
  const char *fresh = "{\"a\":1,\"b\":2,\"c\":3,\"never_seen_before_key\":4}";
  decode(fresh, strlen(fresh), 0, a, &o);
  CU_ASSERT_EQUAL(o.rc, SL_ERR_LIMIT);
  CU_ASSERT_STRING_EQUAL(o.reason ? o.reason : "", SL_REASON_TOO_MANY_NAMES);
  decode(doc, strlen(doc), 0, a, &o); /* known keys decode past the budget */
  CU_ASSERT_EQUAL(o.rc, SL_OK);
  sl_name_set_data_max(SL_NAME_DATA_MAX);
  sl_buf_free(&o.text);
  sl_arena_destroy(a);
}

/* A random number text: digits around the 8-digit words and 19-digit mantissas of the fast
 * path, with or without sign, fraction and exponent, leading zeros sometimes. */
static size_t put_number(char *o) {
  size_t n = 0;
  if (rnd() % 3 == 0)
    o[n++] = '-';
  int lead = (int)(rnd() % 20), frac = rnd() % 3 ? (int)(rnd() % 11) : -1;
  if (rnd() % 8 == 0)
    o[n++] = '0'; /* a leading zero, valid alone */
  for (int i = 0; i < lead; i++)
    o[n++] = (char)('0' + (i == 0 && rnd() % 4 ? 1 + rnd() % 9 : rnd() % 10));
  if (frac >= 0) {
    o[n++] = '.';
    for (int i = 0; i < frac; i++)
      o[n++] = (char)('0' + rnd() % 10);
  }
  if (rnd() % 10 == 0) {
    o[n++] = rnd() % 2 ? 'e' : 'E';
    if (rnd() % 2)
      o[n++] = rnd() % 2 ? '-' : '+';
    for (int i = 0, m = (int)(rnd() % 3); i < m; i++)
      o[n++] = (char)('0' + rnd() % 10);
  }
  return n;
}

/* Numbers followed by at least 8 bytes take the word-at-a-time path, at the end of the
 * input the byte-wise one: the same text must give the same value, bit for bit, or the same
 * error, wherever it stands. */
/* Decode {"v":num} as it is and with room after the number: 0 when they differ. */
static int number_paths_agree(sl_arena *a, const char *num, outcome *shortdoc, outcome *padded) {
  char doc[128];
  int n = snprintf(doc, sizeof doc, "{\"v\":%s}", num);
  decode(doc, (size_t)n, 0, a, shortdoc);
  n = snprintf(doc, sizeof doc, "{\"v\":%s           }", num);
  decode(doc, (size_t)n, 0, a, padded);
  sl_arena_reset(a);
  if (same(shortdoc, padded))
    return 1;
  fprintf(stderr, "\n  %s: short %.*s, padded %.*s\n", num, (int)shortdoc->text.len,
          shortdoc->text.data, (int)padded->text.len, padded->text.data);
  return 0;
}

static void test_number_paths_agree(void) {
  static const char after[] = ".eE0/:x\xff";
  sl_arena *a = sl_arena_new(0);
  outcome shortdoc = {0, NULL, SL_BUF_INIT}, padded = {0, NULL, SL_BUF_INIT};
  /* 15 + 7 digits whose mantissa is 100 * 2^64 + 12345: wrapped to 64 bits it would be
   * 12345, a small exact double. */
  CU_ASSERT(number_paths_agree(a, "184467440737095.5173945", &shortdoc, &padded));
  sl_buf_append(&padded.text, "", 1);
  CU_ASSERT_STRING_EQUAL(padded.text.data, "1 fields: {\"v\":184467440737095.53}");
  int bad = 0, ints = 0, doubles = 0;
  for (int i = 0; i < 200000; i++) {
    char num[48];
    size_t n = put_number(num);
    if (n == 0 || (n == 1 && num[0] == '-'))
      continue; /* "{\"v\":}": the error is where the value is missing */
    if (rnd() % 4 == 0)
      num[n++] = after[rnd() % (sizeof after - 1)];
    num[n] = '\0';
    if (!number_paths_agree(a, num, &shortdoc, &padded) && bad++ > 5)
      break;
    if (shortdoc.rc == SL_OK) {
      int dot = memchr(shortdoc.text.data, '.', shortdoc.text.len) != NULL;
      doubles += dot;
      ints += !dot;
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(ints > 10000 && doubles > 10000);
  sl_buf_free(&shortdoc.text);
  sl_buf_free(&padded.text);
  sl_arena_destroy(a);
}

/* Short strings followed by 16 bytes are copied a word at a time, others by parse_string:
 * random bodies of plain, special and UTF-8 bytes must decode alike in both places. */
static void test_string_paths_agree(void) {
  static const char *const pieces[] = {"a",
                                       "Z",
                                       "0",
                                       " ",
                                       "~",
                                       "\x7f",
                                       "\"",
                                       "\\\\",
                                       "\\\"",
                                       "\\u00e9",
                                       "\\n",
                                       "\\",
                                       "\x01",
                                       "\x1f",
                                       "\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80",
                                       "\xff",
                                       "\xc3"};
  sl_arena *a = sl_arena_new(0);
  outcome shortdoc = {0, NULL, SL_BUF_INIT}, padded = {0, NULL, SL_BUF_INIT};
  int bad = 0, ok = 0;
  for (int i = 0; i < 100000; i++) {
    char body[96], doc[160];
    size_t n = 0, len = rnd() % 20;
    for (size_t k = 0; k < len; k++) {
      /* mostly plain bytes, so that strings of 0-19 plain bytes are common */
      const char *p = pieces[rnd() % 4 ? rnd() % 5 : rnd() % (sizeof pieces / sizeof *pieces)];
      memcpy(body + n, p, strlen(p));
      n += strlen(p);
    }
    body[n] = '\0';
    int l = snprintf(doc, sizeof doc, "{\"v\":\"%s\"}", body);
    decode(doc, (size_t)l, 0, a, &shortdoc);
    l = snprintf(doc, sizeof doc, "{\"v\":\"%s\"                }", body);
    decode(doc, (size_t)l, 0, a, &padded);
    ok += shortdoc.rc == SL_OK;
    if (!same(&shortdoc, &padded) && bad++ < 5)
      fprintf(stderr, "\n  %s: short %.*s, padded %.*s\n", body, (int)shortdoc.text.len,
              shortdoc.text.data, (int)padded.text.len, padded.text.data);
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(ok > 20000 && ok < 90000);
  sl_buf_free(&shortdoc.text);
  sl_buf_free(&padded.text);
  sl_arena_destroy(a);
}

int suite_core_json_decode(void) {
  CU_pSuite s = CU_add_suite("core_json_decode", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "warm decodes (key guesses) equal cold ones", test_warm_decodes_match_cold);
  CU_add_test(s, "names written with escapes are never guessed", test_escaped_names_never_guessed);
  CU_add_test(s, "repeated keys: the last value wins, guessed or not",
              test_repeated_keys_last_wins);
  CU_add_test(s, "max_fields and the names budget with guessed keys", test_limits_with_guesses);
  CU_add_test(s, "numbers decode alike on the word and byte paths", test_number_paths_agree);
  CU_add_test(s, "strings decode alike on the word and byte paths", test_string_paths_agree);
  return 0;
}
