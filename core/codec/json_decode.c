/* SPDX-License-Identifier: Apache-2.0 */
/* JSON -> sl_record: a strict RFC 8259 parser that writes straight into arena records.
 *
 * Hand-written on purpose: jansson (used for configuration and HTTP bodies) builds a
 * malloc'd tree per document, and decoding runs once per record at millions of records
 * per second, where the budget is zero mallocs per record. Every string, record and array
 * made here comes from the caller's arena; field names come from the interning table
 * through a per-thread cache (codec_names.h). Positions in error messages are 0-based byte
 * offsets into the input. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/record_internal.h"
#include "codec/codec_names.h"
#include "codec/decode_limits.h"
#include "codec/json_codec.h"
#include "codec/json_decode_keys.h"

/* Word-at-a-time scanning reads 8 input bytes with memcpy: byte order decides which is first. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SL_JSON_LE 1
#else
#define SL_JSON_LE 0
#endif

/* Per thread, like the name cache (codec_names.h): json_decode_keys.h. */
static _Thread_local sl_json_keys guesses;

typedef struct jp {
  const unsigned char *start, *p, *end;
  sl_arena *a;
  sl_error *err;
  int depth;
  uint32_t max_fields;
  const char *reason; /* the dead-letter reason when a limit fails the decode */
  sl_json_keys *guesses;
} jp;

static int parse_value(jp *j, sl_value *out);

static int fail(jp *j, const unsigned char *at, const char *what) {
  return sl_error_set(j->err, SL_ERR_PARSE, "%s at byte %zu", what, (size_t)(at - j->start));
}

static int nomem(jp *j) {
  return sl_error_set(j->err, SL_ERR_NOMEM, "out of memory decoding JSON");
}

/* A key the name budget refused (name_internal.h), or no memory. Out of line: cold. */
static __attribute__((noinline)) int key_refused(jp *j, int rc, const char *s, size_t len) {
  if (rc != SL_ERR_LIMIT)
    return nomem(j);
  j->reason = SL_REASON_TOO_MANY_NAMES;
  return sl_error_set(j->err, SL_ERR_LIMIT,
                      "key '%.*s' at byte %zu is new, and %d distinct keys (or %u MiB of "
                      "them) were already seen: more are not remembered",
                      len > 64 ? 64 : (int)len, s, (size_t)(j->p - j->start), SL_NAME_DATA_MAX,
                      SL_NAME_DATA_BYTES >> 20);
}

/* The interned name of an object key (names from data have a budget: name_internal.h). */
static inline int key_name(jp *j, const char *s, size_t len, const char **out) {
  int rc = sl_codec_data_name(s, len, out);
  return rc == SL_OK ? SL_OK : key_refused(j, rc, s, len);
}

static inline void skip_ws(jp *j) {
  if (j->p < j->end && (*j->p > ' ')) /* compact JSON: no whitespace at all, one test */
    return;
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
    j->p++;
}

static int hex4(const unsigned char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p[i], d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v << 4 | d;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Second pass over a string known to be terminated and valid UTF-8: resolve escapes into
 * `o` (room for end - s bytes: an escape never decodes longer than it is written). */
static int unescape(jp *j, const unsigned char *s, const unsigned char *e, char *o, size_t *olen) {
  size_t n = 0;
  while (s < e) {
    if (*s != '\\') {
      o[n++] = (char)*s++;
      continue;
    }
    const unsigned char *at = s;
    s++; /* pass 1 guarantees a byte follows the backslash */
    switch (*s++) {
    case '"': o[n++] = '"'; break;
    case '\\': o[n++] = '\\'; break;
    case '/': o[n++] = '/'; break;
    case 'b': o[n++] = '\b'; break;
    case 'f': o[n++] = '\f'; break;
    case 'n': o[n++] = '\n'; break;
    case 'r': o[n++] = '\r'; break;
    case 't': o[n++] = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      if (e - s < 4 || hex4(s, &cp) != 0)
        return fail(j, at, "invalid \\u escape (need 4 hex digits)");
      s += 4;
      if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(j, at, "lone low surrogate in \\u escape");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (e - s < 6 || s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &lo) != 0 || lo < 0xDC00 ||
            lo > 0xDFFF)
          return fail(j, at, "lone high surrogate in \\u escape (expected a \\uDC00-\\uDFFF pair)");
        s += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      n += put_utf8(o + n, cp);
      break;
    }
    default: return fail(j, at, "invalid escape in string");
    }
  }
  o[n] = '\0';
  *olen = n;
  return SL_OK;
}

/* The high bit of each byte of w that is not a plain string byte (and maybe of bytes above
 * the first such: see skip_plain). */
static inline uint64_t plain_stops(uint64_t w) {
  const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
  uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
  return ((((w - ones * 0x20) | (q - ones) | (b - ones)) & ~w) | w) & high;
}

/* Skip the 8-byte words of [p, end) that hold only plain string bytes (printable ASCII
 * other than '"' and '\\'), with the usual bit tricks: (x - 0x01..) & ~x & 0x80.. flags the
 * zero bytes of x, and subtracting 0x20.. flags bytes below 0x20. A borrow can only flag a
 * byte above a real hit, so on a little-endian machine the lowest flag is the exact stop;
 * elsewhere the caller's byte loop finds it within the word. */
static inline const unsigned char *skip_plain(const unsigned char *p, const unsigned char *end) {
  while (end - p >= 8) {
    uint64_t w;
    memcpy(&w, p, sizeof w);
    uint64_t stop = plain_stops(w);
    if (stop) {
#if defined(__GNUC__) && SL_JSON_LE
      p += __builtin_ctzll(stop) >> 3;
#endif
      return p;
    }
    p += 8;
  }
  return p;
}

/* Parse a string at j->p (on the opening quote). Key strings are interned; values are
 * copied into the arena, NUL-terminated. */
static int parse_string(jp *j, int is_key, const char **out, size_t *out_len) {
  const unsigned char *open = j->p, *s = j->p + 1, *p = s, *end = j->end;
  int escaped = 0;
  for (;;) {
    /* Fast path: plain ASCII runs, a word at a time, then byte by byte. */
    p = skip_plain(p, end);
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
      p++;
    if (p >= end)
      return fail(j, open, "unterminated string starting");
    unsigned c = *p;
    if (c == '"')
      break;
    if (c == '\\') {
      escaped = 1;
      if (p + 1 >= end)
        return fail(j, open, "unterminated string starting");
      p += 2;
    } else if (c < 0x20) {
      return fail(j, p, "unescaped control character in string");
    } else {
      size_t n = sl_utf8_seq(p, end);
      if (!n)
        return fail(j, p, "invalid UTF-8 in string");
      p += n;
    }
  }
  j->p = p + 1;
  size_t span = (size_t)(p - s);
  if (!escaped) {
    *out_len = span;
    if (is_key)
      return key_name(j, (const char *)s, span, out);
    *out = sl_arena_strndup(j->a, (const char *)s, span);
    return *out ? SL_OK : nomem(j);
  }
  char small[256];
  char *o = (is_key && span < sizeof small) ? small : sl_arena_alloc(j->a, span + 1);
  if (!o)
    return nomem(j);
  int rc = unescape(j, s, p, o, out_len);
  if (rc != SL_OK)
    return rc;
  if (is_key) {
    /* Field names are C strings everywhere after decoding (encoders, expressions,
     * Redis keys): "\u0000" in a key would be cut there, so refuse it here. */
    if (memchr(o, 0, *out_len))
      return fail(j, open, "field name contains \\u0000 in the key starting");
    if ((rc = key_name(j, o, *out_len, out)) != SL_OK)
      return rc;
  } else {
    *out = o;
  }
  return SL_OK;
}

#if SL_JSON_LE
/* The 8 bytes at p as a number when they are all digits (the first in memory is the most
 * significant), the word-at-a-time way of simdjson and fast_float: adding 0x46 carries into
 * the high bit of a byte above '9', subtracting 0x30 borrows into it for a byte below '0';
 * then pairs, quads and the octet are combined with three multiplies. */
static inline int eight_digits(const unsigned char *p, uint64_t *out) {
  uint64_t w;
  memcpy(&w, p, sizeof w);
  if (((w + 0x4646464646464646u) | (w - 0x3030303030303030u)) & 0x8080808080808080u)
    return 0;
  w -= 0x3030303030303030u;
  w = w * 10 + (w >> 8); /* each byte pair -> its 2-digit value in the low byte */
  w = (((w & 0x000000FF000000FFu) * (100 + (1000000ull << 32))) +
       (((w >> 16) & 0x000000FF000000FFu) * (1 + (10000ull << 32)))) >>
      32;
  *out = w;
  return 1;
}
#endif

/* 10^0..10^22: the powers of ten a double holds exactly (5^22 < 2^53). */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* mant * 10^e10 correctly rounded, when one IEEE operation gives it (Clinger's fast path):
 * mant <= 2^53 and 10^|e10| are both exact doubles, so the single multiply or divide rounds
 * once, exactly as strtod would. Needs double arithmetic evaluated in double precision
 * (not x87 extended), hence FLT_EVAL_METHOD. Returns 0 when the fast path does not apply. */
static int clinger(uint64_t mant, int e10, double *out) {
#if FLT_EVAL_METHOD == 0
  if (mant > (UINT64_C(1) << 53) || e10 < -22 || e10 > 22)
    return 0;
  double d = (double)mant;
  *out = e10 < 0 ? d / pow10_exact[-e10] : d * pow10_exact[e10];
  return 1;
#else
  (void)mant, (void)e10, (void)out;
  return 0;
#endif
}

#if SL_JSON_LE && FLT_EVAL_METHOD == 0
/* The number of digits (0-8) that start the 8 bytes at p, and their value: the first
 * non-digit is the lowest flagged byte (carries and borrows only run upwards, and the bytes
 * below it are digits), and shifting the digits to the top of the word makes the bytes
 * shifted in leading zeros of eight_digits' conversion. */
static inline int lead_digits(const unsigned char *p, uint64_t *out) {
  uint64_t w;
  memcpy(&w, p, sizeof w);
  uint64_t flags = ((w + 0x4646464646464646u) | (w - 0x3030303030303030u)) & 0x8080808080808080u;
  int n = flags ? __builtin_ctzll(flags) >> 3 : 8;
  if (n == 0)
    return 0;
  w = (w - 0x3030303030303030u) << (8 * (8 - n));
  w = w * 10 + (w >> 8);
  *out = (((w & 0x000000FF000000FFu) * (100 + (1000000ull << 32))) +
          (((w >> 16) & 0x000000FF000000FFu) * (1 + (10000ull << 32)))) >>
         32;
  return n;
}

static const uint64_t pow10_u64[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};

/* The numbers of telemetry, a word at a time: -?digits(.digits)? of at most 15 integer and
 * 7 fraction digits (19 in all), no exponent, with 8 readable bytes at each step. They make the
 * mantissa and exponent parse_number would, so the same value; anything else (and every
 * malformed number) returns 0 with nothing consumed, for parse_number to take. */
static inline int number_fast(jp *j, sl_value *out) {
  const unsigned char *p = j->p, *end = j->end;
  int neg = *p == '-';
  uint64_t mant, more;
  p += neg;
  if (end - p < 8)
    return 0;
  int n = lead_digits(p, &mant);
  if (n == 0 || (*p == '0' && n > 1))
    return 0; /* not a number, or a leading zero: parse_number says which */
  p += n;
  int digits = n;
  if (n == 8) {
    if (end - p < 8 || (n = lead_digits(p, &more)) == 8)
      return 0;
    if (n) {
      mant = mant * pow10_u64[n] + more;
      p += n;
      digits += n;
    }
  }
  if (*p == 'e' || *p == 'E')
    return 0;
  if (*p != '.') {
    j->p = p;
    *out = sl_value_int(neg ? -(int64_t)mant : (int64_t)mant);
    return 1;
  }
  p++;
  if (end - p < 8 || (n = lead_digits(p, &more)) == 0 || n == 8 || digits + n > 19 || p[n] == 'e' ||
      p[n] == 'E')
    return 0;
  mant = mant * pow10_u64[n] + more; /* < 10^19: no overflow */
  if (mant > (UINT64_C(1) << 53))
    return 0; /* not exact in a double: parse_number rounds it */
  double d = (double)mant / pow10_exact[n];
  j->p = p + n;
  *out = sl_value_double(neg ? -d : d);
  return 1;
}
#endif

/* Numbers are scanned once: the grammar is checked and the first 19 significant digits are
 * collected as they go by. Integers that fit int64 and decimals the fast path can round
 * exactly never reach strtod (~1,400 instructions per call, 20 % of a JSON record). */
static int parse_number(jp *j, sl_value *out) {
  const unsigned char *start = j->p, *p = j->p, *end = j->end;
  int neg = 0, integral = 1;
  uint64_t mant = 0; /* the significant digits, while there are at most 19 (10^19 < 2^64) */
  int sig = 0;       /* significant digits in mant (leading zeros are not) */
  int many = 0;      /* more than 19 significant digits: mant is not the value */
  int e10 = 0;       /* value = mant * 10^e10 (when !many) */
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (p >= end || *p < '0' || *p > '9')
    return fail(j, start, "invalid number");
  if (*p == '0') {
    p++;
    if (p < end && *p >= '0' && *p <= '9')
      return fail(j, start, "leading zeros are not allowed in numbers");
  } else {
#if SL_JSON_LE
    uint64_t v8; /* millisecond timestamps have 13 digits: take them 8 at a time */
    while (sig <= 11 && end - p >= 8 && eight_digits(p, &v8)) {
      mant = mant * 100000000 + v8;
      sig += 8;
      p += 8;
    }
#endif
    while (p < end && *p >= '0' && *p <= '9') {
      if (sig < 19)
        mant = mant * 10 + (unsigned)(*p - '0');
      else
        many = 1;
      sig++;
      p++;
    }
  }
  if (p < end && *p == '.') {
    integral = 0;
    p++;
    if (p >= end || *p < '0' || *p > '9')
      return fail(j, p, "expected a digit after the decimal point");
    while (p < end && *p >= '0' && *p <= '9') {
      unsigned d = (unsigned)(*p++ - '0');
      if (sig == 0 && d == 0) {
        if (e10 > -1000000) /* a leading zero of 0.00x only moves the point */
          e10--;            /* (saturated: past -22 the value goes to strtod anyway) */
      } else if (sig < 19) {
        mant = mant * 10 + d;
        sig++;
        e10--;
      } else {
        many = 1;
      }
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    integral = 0;
    p++;
    int eneg = 0, ev = 0;
    if (p < end && (*p == '+' || *p == '-'))
      eneg = *p++ == '-';
    if (p >= end || *p < '0' || *p > '9')
      return fail(j, p, "expected a digit in the exponent");
    while (p < end && *p >= '0' && *p <= '9') {
      if (ev < 100000) /* beyond any double: saturate, strtod decides */
        ev = ev * 10 + (*p - '0');
      p++;
    }
    e10 += eneg ? -ev : ev;
  }
  j->p = p;
  if (integral && !many) {
    if (!neg && mant <= (uint64_t)INT64_MAX) {
      *out = sl_value_int((int64_t)mant);
      return SL_OK;
    }
    if (neg && mant <= (uint64_t)INT64_MAX + 1) {
      *out = sl_value_int(mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mant);
      return SL_OK;
    }
  }
  double d;
  if (!integral && !many && (mant == 0 || clinger(mant, e10, &d))) {
    if (mant == 0)
      d = 0.0; /* 0.0, 0e999999: zero whatever the exponent, as strtod says */
    *out = sl_value_double(neg ? -d : d);
    return SL_OK;
  }
  /* strtod needs a NUL-terminated copy; the input is not terminated. */
  size_t n = (size_t)(p - start);
  char small[64];
  char *copy = n < sizeof small ? small : sl_arena_alloc(j->a, n + 1);
  if (!copy)
    return nomem(j);
  memcpy(copy, start, n);
  copy[n] = '\0';
  errno = 0;
  d = strtod(copy, NULL);
  if (errno == ERANGE && isinf(d))
    return fail(j, start, "number out of range for a double");
  *out = sl_value_double(d);
  return SL_OK;
}

static int parse_literal(jp *j, const char *word, size_t n, sl_value v, sl_value *out) {
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
    return fail(j, j->p, "invalid literal (expected a value)");
  j->p += n;
  *out = v;
  return SL_OK;
}

static int enter(jp *j) {
  if (++j->depth > SL_JSON_MAX_DEPTH)
    return sl_error_set(j->err, SL_ERR_PARSE, "nesting deeper than %d at byte %zu",
                        SL_JSON_MAX_DEPTH, (size_t)(j->p - j->start));
  return SL_OK;
}

/* Adds a field known not to be in `r` yet, without sl_record_set's search. */
static inline int append_new(sl_record *r, sl_name name, sl_value v) {
  if (r->count == r->cap)
    return sl_record_set(r, name, v); /* grows the table */
  r->fields[r->count].name = name;
  r->fields[r->count].value = v;
  r->count++;
  return SL_OK;
}

#if SL_JSON_LE
/* A string value of at most 15 plain bytes (device ids, sites, states: most strings of
 * telemetry) at j->p: the closing quote is the first stop of one word (8 bytes readable
 * after the opening quote) or two (16 readable), and the copy is those words, in place of
 * parse_string's scan and sl_arena_strndup's calls. 0 with nothing consumed for any other
 * string, -1 out of memory. */
static inline int short_string(jp *j, sl_value *v) {
  const unsigned char *s = j->p + 1;
  if (j->end - s < 8)
    return 0;
  uint64_t w[2] = {0, 0};
  memcpy(&w[0], s, sizeof w[0]);
  uint64_t stop = plain_stops(w[0]);
  size_t n;
  if (stop) {
    n = (size_t)__builtin_ctzll(stop) >> 3;
  } else {
    if (j->end - s < 16)
      return 0;
    memcpy(&w[1], s + 8, sizeof w[1]);
    if (!(stop = plain_stops(w[1])))
      return 0;
    n = 8 + ((size_t)__builtin_ctzll(stop) >> 3);
  }
  if (s[n] != '"') /* an escape, a control byte or UTF-8: parse_string */
    return 0;
  /* 16 bytes, as strndup takes for 15 */
  char *o = sl_arena_alloc(j->a, sizeof w);
  if (!o) {
    nomem(j);
    return -1;
  }
  memcpy(o, w, sizeof w);
  o[n] = '\0';
  j->p = s + n + 1;
  *v = sl_value_string(o, n);
  return 1;
}
#endif

/* The value of an object member, after its ':' and any whitespace: strings and numbers,
 * the values of telemetry, without parse_value's call. */
static inline int member_value(jp *j, sl_value *v) {
  skip_ws(j);
  if (j->p >= j->end)
    return parse_value(j, v); /* which says what is missing */
  unsigned c = *j->p;
  if (c == '"') {
#if SL_JSON_LE
    int got = short_string(j, v);
    if (got)
      return got > 0 ? SL_OK : SL_ERR_NOMEM;
#endif
    const char *str;
    size_t n;
    int rc = parse_string(j, 0, &str, &n);
    if (rc == SL_OK)
      *v = sl_value_string(str, n);
    return rc;
  }
#if SL_JSON_LE && FLT_EVAL_METHOD == 0
  if (((c >= '0' && c <= '9') || c == '-') && number_fast(j, v))
    return SL_OK;
#endif
  return parse_value(j, v);
}

/* j->p is on '{'. */
static int parse_object(jp *j, sl_record **out) {
  int rc = enter(j);
  if (rc != SL_OK)
    return rc;
  sl_record *r = sl_record_new(j->a, 8);
  sl_field_index ix = {NULL, 0};
  /* Fields are added with a plain scan up to `small` (the cheapest for the records of
   * real streams), then through the index, which is also where max_fields is checked. */
  uint32_t max_fields = j->max_fields;
  uint32_t small = max_fields < SL_FIELD_INDEX_FROM ? max_fields : SL_FIELD_INDEX_FROM;
  uint32_t keys = 0; /* keys parsed (repeats included), kept in a register */
  /* Key guesses for the top-level object only: nested objects would mix their keys in. */
  sl_json_keys *g = j->depth == 1 ? j->guesses : NULL;
  int missed = 0; /* a key was not the guess: search the record for repeats from then on */
  if (!r)
    return nomem(j);
  j->p++;
  skip_ws(j);
  if (j->p < j->end && *j->p == '}') {
    j->p++;
    goto out;
  }
  /* Compact members whose keys are the guesses, of distinct names: appended without
   * search. Anything else (whitespace, another key, the end) goes on below from there. */
  if (g) {
    uint32_t fast = g->distinct < small ? g->distinct : small;
    while (keys < fast && j->p < j->end && *j->p == '"' &&
           sl_json_key_compact(&g->k[keys], j->p + 1, j->end)) {
      sl_value v;
      j->p += g->k[keys].len + 3;
      if ((rc = member_value(j, &v)) != SL_OK)
        return rc;
      if (append_new(r, g->k[keys].name, v) != SL_OK)
        return nomem(j);
      keys++;
      if (j->p < j->end && *j->p == ',') {
        j->p++;
        continue;
      }
      goto after_value;
    }
    skip_ws(j);
  }
  for (;;) {
    if (j->p >= j->end)
      return fail(j, j->p, "unterminated object: expected a string key");
    if (*j->p != '"')
      return fail(j, j->p, *j->p == '}' ? "trailing comma in object" : "expected a string key");
    const char *key;
    size_t klen;
    sl_value v;
    if (g && keys < g->n && sl_json_key_matches(&g->k[keys], j->p + 1, j->end)) {
      key = g->k[keys].name;
      j->p += g->k[keys].len + 2;
    } else {
      if ((rc = parse_string(j, 1, &key, &klen)) != SL_OK)
        return rc;
      if (g && keys < SL_JSON_KEYS_MAX) {
        missed = 1;
        sl_json_keys_store(g, keys, key, klen);
      }
    }
    skip_ws(j);
    if (j->p >= j->end || *j->p != ':')
      return fail(j, j->p, "expected ':' after object key");
    j->p++;
    if ((rc = member_value(j, &v)) != SL_OK)
      return rc;
    /* A repeated key: the last one wins. Keys that were all guessed, of distinct guesses,
     * are distinct: nothing to search. */
    if (keys < small) {
      if ((!missed && g && keys < g->distinct ? append_new(r, key, v) : sl_record_set(r, key, v)) !=
          SL_OK)
        return nomem(j);
      keys++;
    } else if (sl_record_put_indexed(r, &ix, key, v) != SL_OK) {
      return nomem(j);
    } else if (r->count > max_fields) {
      j->reason = SL_REASON_TOO_MANY_FIELDS;
      return sl_error_set(j->err, SL_ERR_LIMIT,
                          "object has more than %u fields (max_fields) at byte %zu", max_fields,
                          (size_t)(j->p - j->start));
    } else {
      keys++;
    }
  after_value:
    skip_ws(j);
    if (j->p >= j->end)
      return fail(j, j->p, "unterminated object: expected ',' or '}'");
    if (*j->p == '}') {
      j->p++;
      break;
    }
    if (*j->p != ',')
      return fail(j, j->p, "expected ',' or '}' in object");
    j->p++;
    skip_ws(j);
  }
out:
  if (g && (missed || keys < g->n)) /* else the guesses were this object's keys */
    sl_json_keys_settle(g, keys, missed);
  j->depth--;
  *out = r;
  return SL_OK;
}

static int parse_array(jp *j, sl_array **out) {
  int rc = enter(j);
  if (rc != SL_OK)
    return rc;
  sl_array *arr = sl_array_new(j->a, 4);
  if (!arr)
    return nomem(j);
  j->p++;
  skip_ws(j);
  if (j->p < j->end && *j->p == ']') {
    j->p++;
    goto out;
  }
  for (;;) {
    sl_value v;
    if (j->p < j->end && *j->p == ']')
      return fail(j, j->p, "trailing comma in array");
    if ((rc = parse_value(j, &v)) != SL_OK)
      return rc;
    if (sl_array_push(arr, v) != SL_OK)
      return nomem(j);
    skip_ws(j);
    if (j->p >= j->end)
      return fail(j, j->p, "unterminated array: expected ',' or ']'");
    if (*j->p == ']') {
      j->p++;
      break;
    }
    if (*j->p != ',')
      return fail(j, j->p, "expected ',' or ']' in array");
    j->p++;
    skip_ws(j);
  }
out:
  j->depth--;
  *out = arr;
  return SL_OK;
}

static int parse_value(jp *j, sl_value *out) {
  if (j->p >= j->end)
    return fail(j, j->p, "unexpected end of input: expected a value");
  int rc;
  switch (*j->p) {
  case '{': {
    sl_record *r = NULL;
    if ((rc = parse_object(j, &r)) != SL_OK)
      return rc;
    *out = sl_value_record(r);
    return SL_OK;
  }
  case '[': {
    sl_array *arr = NULL;
    if ((rc = parse_array(j, &arr)) != SL_OK)
      return rc;
    *out = sl_value_array(arr);
    return SL_OK;
  }
  case '"': {
    const char *s;
    size_t n;
    if ((rc = parse_string(j, 0, &s, &n)) != SL_OK)
      return rc;
    *out = sl_value_string(s, n);
    return SL_OK;
  }
  case 't': return parse_literal(j, "true", 4, sl_value_bool(1), out);
  case 'f': return parse_literal(j, "false", 5, sl_value_bool(0), out);
  case 'n': return parse_literal(j, "null", 4, sl_value_null(), out);
  default:
    if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
#if SL_JSON_LE && FLT_EVAL_METHOD == 0
      if (number_fast(j, out))
        return SL_OK;
#endif
      return parse_number(j, out);
    }
    return fail(j, j->p, "unexpected character (expected a value)");
  }
}

int sl_json_decode_opts(const char *buf, size_t len, sl_decode_opts *opts, sl_arena *a,
                        sl_record **out, sl_error *err) {
  jp j = {(const unsigned char *)buf,
          (const unsigned char *)buf,
          (const unsigned char *)buf + len,
          a,
          err,
          0,
          opts && opts->max_fields ? opts->max_fields : SL_DECODE_MAX_FIELDS,
          SL_REASON_DECODE,
          &guesses};
  sl_record *r = NULL;
  int rc;
  *out = NULL;
  skip_ws(&j);
  if (j.p >= j.end)
    rc = sl_error_set(err, SL_ERR_PARSE, "empty input: expected a JSON object");
  else if (*j.p != '{')
    rc = fail(&j, j.p, "expected a JSON object");
  else if ((rc = parse_object(&j, &r)) == SL_OK) {
    skip_ws(&j);
    if (j.p != j.end)
      rc = fail(&j, j.p, "unexpected data after the JSON object");
  }
  if (opts)
    opts->reason = rc == SL_OK ? NULL : j.reason;
  if (rc == SL_OK)
    *out = r;
  return rc;
}

int sl_json_decode(const char *buf, size_t len, sl_arena *a, sl_record **out, sl_error *err) {
  return sl_json_decode_opts(buf, len, NULL, a, out, err);
}
