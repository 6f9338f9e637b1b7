/* SPDX-License-Identifier: Apache-2.0 */
/* Table-driven tests of the expression engine (core/expr/expr*.c): every case is an
 * expression, evaluated against one fixed record, with the expected value or
 * the expected error code and column. Plus positions on multi-line text,
 * nesting limits, long expressions, a 100k-evaluation loop on a reset arena,
 * and random input that must only ever produce errors, never crashes. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/record_internal.h"
#include "expr/expr.h"
#include "expr/expr_internal.h"

typedef enum { R_INT, R_DBL, R_STR, R_BOOL, R_NULL, R_CERR, R_EERR, R_TYPE } rkind;

typedef struct tcase {
  const char *expr;
  rkind kind;
  int64_t i;     /* R_INT, R_BOOL, R_TYPE (an sl_type) */
  double d;      /* R_DBL */
  const char *s; /* R_STR */
  int code, col; /* R_CERR (compile) and R_EERR (evaluation) */
} tcase;

#define I(e, v) {e, R_INT, v, 0, NULL, 0, 0}
#define D(e, v) {e, R_DBL, 0, v, NULL, 0, 0}
#define S(e, v) {e, R_STR, 0, 0, v, 0, 0}
#define B(e, v) {e, R_BOOL, v, 0, NULL, 0, 0}
#define N(e) {e, R_NULL, 0, 0, NULL, 0, 0}
#define TY(e, t) {e, R_TYPE, t, 0, NULL, 0, 0}
#define CE(e, code, col) {e, R_CERR, 0, 0, NULL, SL_ERR_##code, col}
#define EE(e, code, col) {e, R_EERR, 0, 0, NULL, SL_ERR_##code, col}

static const tcase cases[] = {
    /* literals */
    I("42", 42), I("0", 0), I("-42", -42), I("9223372036854775807", INT64_MAX),
    I("-9223372036854775808", INT64_MIN), D("9223372036854775808", 9223372036854775808.0),
    D("1.5", 1.5), D(".5", 0.5), D("1e3", 1000.0), D("1E-2", 0.01), D("2.5e+1", 25.0),
    D("99999999999999999999", 1e20), S("'abc'", "abc"), S("\"abc\"", "abc"),
    S("'it''s'", "it's"), S("'it\\'s'", "it's"), S("\"say \"\"hi\"\"\"", "say \"hi\""),
    S("\"a'b\"", "a'b"), S("'a\"b'", "a\"b"), S("'a\\nb'", "a\nb"), S("'t\\tx'", "t\tx"),
    S("'\\x41\\x62'", "Ab"), S("'back\\\\slash'", "back\\slash"), S("'keep\\%'", "keep\\%"),
    S("'\\q'", "\\q"), S("''", ""), S("'multi\nline'", "multi\nline"), B("true", 1),
    B("false", 0), B("TRUE", 1), B("False", 0), N("null"), N("NULL"), D("- -1.5", 1.5),
    I("- -3", 3), I("+5", 5), I("-(-(-1))", -1),
    /* fields */
    I("i", 42), I("j", -7), D("d", 2.5), S("s", "hello"), B("t", 1), B("f", 0), N("n"),
    N("missing"), S("dev.id", "m1"), I("dev.loc.x", 1), D("dev.loc.y", 2.5), N("dev.nothing"),
    N("dev.loc.z"), N("s.x"), N("missing.a.b"), I("`sp ace`", 7), I("`in`", 5), I("`i`", 42),
    I("dev.`loc`.x", 1), I("dev . loc . x", 1), N("I"), TY("dev", SL_TYPE_RECORD),
    TY("arr", SL_TYPE_ARRAY), TY("dev.loc", SL_TYPE_RECORD), I("dev.loc.in", 9),
    /* arithmetic and precedence */
    I("1 + 2", 3), I("i + j", 35), I("i - j", 49), I("i * j", -294), D("i / 5", 8.4),
    D("-7 / 2", -3.5), D("7 / -2", -3.5), I("j % 3", -1), I("7 % -3", 1), I("i % 5", 2),
    D("i + 0.5", 42.5), D("d * 2", 5.0), D("d / 2", 1.25), D("1 / 4.0", 0.25), D("1 / 4", 0.25),
    D("7.5 % 2", 1.5), D("-7.5 % 2", -1.5), I("2 + 3 * 4", 14), I("(2 + 3) * 4", 20),
    I("2 * 3 + 4", 10), I("10 - 4 - 3", 3), D("100 / 10 / 5", 2.0), I("2 - -3", 5),
    I("-2 * -3", 6), I("-(2 + 3)", -5), I("- i", -42), I("10 % 4 * 3", 6),
    D("1 + 2 * 3 - 4 / 2", 5.0), I("2*3%4", 2), I("-i % 5", -2), D("d - 0.5 * 2", 1.5),
    I("((((i))))", 42), D("i / 8.0", 5.25), D("21 * 9 / 5", 37.8), D("21.0 * 9 / 5", 37.8),
    D("floor(7 / 2)", 3.0), I("7 % 2", 1), D("zero * -1.0", -0.0),
    /* overflow and division by zero */
    EE("big + 1", INVALID, 5), EE("small - 1", INVALID, 7), EE("big * 2", INVALID, 5),
    D("small / -1", 9223372036854775808.0), I("small % -1", 0), EE("-small", INVALID, 1),
    I("big + small", -1), D("big + 1.0", 9223372036854775808.0),
    EE("1 + 9223372036854775807", INVALID, 3), EE("i / 0", INVALID, 3),
    EE("i % zero", INVALID, 3), EE("d / 0.0", INVALID, 3), EE("d / dz", INVALID, 3),
    EE("1 / 0", INVALID, 3), EE("5 % 0.0", INVALID, 3), I("big - big", 0),
    I("small + big", -1), EE("small * -1", INVALID, 7),
    /* arithmetic with null and type errors */
    N("n + 1"), N("1 - n"), N("n * n"), N("n / 0"), N("-n"), N("missing * 2"), N("d + missing"),
    N("+n"), EE("s + 1", TYPE, 3), EE("1 - s", TYPE, 3), EE("t * 2", TYPE, 3),
    EE("s + n", TYPE, 3), EE("dev + 1", TYPE, 5), EE("-s", TYPE, 1), EE("'a' + 'b'", TYPE, 5),
    EE("+s", TYPE, 1), EE("arr * 2", TYPE, 5), EE("i % t", TYPE, 3), EE("-t", TYPE, 1),
    /* comparisons */
    B("1 = 1", 1), B("1 == 1", 1), B("1 != 2", 1), B("1 <> 1", 0), B("i > 40", 1),
    B("i >= 42", 1), B("i < 42", 0), B("i <= 42", 1), B("j < 0", 1), B("d = 2.5", 1),
    B("2 = 2.0", 1), B("i = 42.0", 1), B("i < 42.5", 1), B("i > 41.9", 1),
    B("i53 = 9007199254740992.0", 0), B("i53 > 9007199254740992.0", 1), B("i53 > dbig", 1),
    B("i53 - 1 = dbig", 1), B("big > 9.2e18", 1), B("big < 9223372036854775808.0", 1),
    B("big = 9223372036854775808.0", 0), B("small = -9223372036854775808.0", 1),
    B("small < -9223372036854775807.5", 0), B("-0.5 < 0", 1), B("nd < zero", 1),
    B("1e300 > big", 1), B("-1e300 < small", 1), B("zero = -0.0", 1), B("i != 42.0001", 1),
    B("s = 'hello'", 1), B("s != 'Hello'", 1), B("'a' < 'b'", 1), B("'ab' < 'abc'", 1),
    B("'abc' > 'ab'", 1), B("'' < 'a'", 1), B("e = ''", 1), B("'B' < 'a'", 1), B("u > s", 1),
    B("'Z' < 'a'", 1), B("s >= 'hello'", 1), B("s <= 'hell'", 0), B("t = true", 1),
    B("t != f", 1), B("f < t", 1), B("t = false", 0), B("bin = bin", 1), N("n = 1"),
    N("1 = n"), N("n = n"), N("n != 1"), N("missing > 0"), N("n < 'a'"), N("s = null"),
    N("null = null"), EE("s = 1", TYPE, 3), EE("i = 'x'", TYPE, 3), EE("t = 1", TYPE, 3),
    EE("dev = dev", TYPE, 5), EE("arr = arr", TYPE, 5), EE("s < t", TYPE, 3),
    EE("bin = s", TYPE, 5), EE("dev.loc > 1", TYPE, 9), B("nan = nan", 0), B("nan != nan", 1),
    B("nan < 1", 0), B("nan > 1", 0), B("i = nan", 0), B("i <> nan", 1), B("1 + 2 = 3", 1),
    B("(i > 1) = true", 1),
    /* three-valued logic truth tables */
    B("true and true", 1), B("true and false", 0), N("true and null"), B("false and null", 0),
    N("null and true"), B("null and false", 0), N("null and null"), B("false and false", 0),
    B("false and true", 0), B("true or true", 1), B("true or null", 1), B("null or true", 1),
    N("false or null"), N("null or false"), N("null or null"), B("false or false", 0),
    B("false or true", 1), B("not true", 0), B("not false", 1), N("not null"), N("t and n"),
    B("f and n", 0), B("t or n", 1), N("f or n"), N("not n"), B("n or t or n", 1),
    N("t and t and n"), B("n and t and f", 0), B("t AND NOT f", 1), B("not not t", 1),
    /* short-circuit: operands after the deciding one are not evaluated */
    B("false and 1/0 = 1", 0), B("f and s + 1 > 0", 0), B("t or s + 1 > 0", 1),
    EE("t and s + 1 > 0", TYPE, 9), EE("f or 1/0 = 1", INVALID, 7),
    EE("1 and true", TYPE, 3), EE("f or 1", TYPE, 3), EE("not 1", TYPE, 1),
    EE("not s", TYPE, 1), EE("n and 's'", TYPE, 3),
    /* precedence of logic */
    B("true or false and false", 1), B("(true or false) and false", 0),
    B("not false and false", 0), B("not (false and false)", 1), B("not true or true", 1),
    B("not i = 1", 1), B("not i > 40 and t", 0), B("2 * 3 > 5 and 1 < 2", 1),
    B("i > 1 and j < 0 or f", 1), B("f or t and f", 0), B("t and not f", 1),
    B("not i between 1 and 10", 1), B("not s like 'h%'", 0), B("not n is null", 0),
    CE("1 < 2 < 3", PARSE, 7), CE("i = 1 = 2", PARSE, 7), CE("i is null is null", PARSE, 11),
    CE("i between 1 and 2 between 3 and 4", PARSE, 19), CE("i = 1 like 'a'", PARSE, 7),
    /* between */
    B("i between 40 and 50", 1), B("i between 42 and 42", 1), B("i between 43 and 50", 0),
    B("i between 50 and 40", 0), B("i not between 40 and 50", 0),
    B("i not between 43 and 50", 1), B("d between 2 and 3", 1), B("i between 41.5 and 42.5", 1),
    B("s between 'a' and 'z'", 1), B("'m' between 'a' and 'z'", 1), N("n between 1 and 2"),
    N("i between n and 50"), N("i between 40 and n"), B("i between n and 41", 0),
    B("i between 43 and n", 0), N("n not between 1 and 2"), B("i not between n and 41", 1),
    B("temperature between -40 and 150 and machine_id is not null", 1),
    B("i between 1 and 100 and t", 1), B("i between 1 + 1 and 50 - 1", 1),
    B("i between j and i", 1), B("-5 between -10 and -1", 1), B("nan between 0 and 1", 0),
    B("big between small and big", 1), B("i BETWEEN 40 AND 50", 1),
    EE("s between 1 and 2", TYPE, 3), EE("i between 'a' and 'z'", TYPE, 3),
    CE("i between 1", PARSE, 12), CE("i between 1 or 2", PARSE, 13),
    CE("i between and 2", PARSE, 11),
    /* in */
    B("i in (1, 42, 3)", 1), B("i in (1, 2, 3)", 0), B("i not in (1, 2, 3)", 1),
    B("i not in (42)", 0), B("s in ('a', 'hello')", 1), B("s in ('a', 'b')", 0),
    B("i in (42.0)", 1), B("d in (1, 2.5)", 1), B("i in (j, i)", 1), N("i in (1, null)"),
    B("i in (42, null)", 1), N("i not in (1, null)"), B("i not in (42, null)", 0),
    N("n in (1, 2)"), N("n not in (1, 2)"), N("null in (null)"),
    B("s in ('hello', null, 'x')", 1), N("s in ('x', null, 'y')"),
    B("i in (1,2,3,4,5,6,7,8,9,10,42)", 1), B("i in (10,9,8,7,6,5,4,3,2,1)", 0),
    B("d in (1,2,3)", 0), B("2.5 in (3, 2.5, 1)", 1), B("i + 1 in (43)", 1),
    B("s in ('z', 'y', 'hello', 'a')", 1), B("s in ('z', 'y', 'hellp', 'a')", 0),
    B("dev.id in ('m1', 'm2')", 1), B("t in (true)", 1), B("i in (1, j, 42)", 1),
    N("i in (1, n)"), B("d in (1, null, 2.5)", 1), N("d in (1, null, 2)"),
    B("dz in (0, null)", 1), N("nd in (3, 1, null, 2)"), B("nd not in (3, 1, 2)", 1),
    B("d in (3, 2.5, null)", 1), EE("d in ('a', null)", TYPE, 3), B("42.0 in (i)", 1), B("i in (41 + 1)", 1), B("i IN (42)", 1),
    EE("i in ('a', 'b')", TYPE, 3), EE("s in (1, 2)", TYPE, 3), EE("dev in (1)", TYPE, 5),
    CE("i in ()", PARSE, 7), CE("i in 1, 2", PARSE, 6), CE("i in (1, 2", PARSE, 11),
    CE("i not 5", PARSE, 7), CE("i in (1,)", PARSE, 9),
    /* like */
    B("s like 'hello'", 1), B("s like 'hel%'", 1), B("s like '%llo'", 1), B("s like '%ell%'", 1),
    B("s like '%'", 1), B("s like '%%'", 1), B("s like 'h_llo'", 1), B("s like 'h__lo'", 1),
    B("s like '_____'", 1), B("s like '____'", 0), B("s like 'hello_'", 0), B("s like 'h%o'", 1),
    B("s like 'h%x'", 0), B("s like '%l%l%'", 1), B("s like 'HELLO'", 0),
    B("s not like 'x%'", 1), B("s not like 'h%'", 0), B("e like ''", 1), B("e like '%'", 1),
    B("e like '_'", 0), B("s like ''", 0), B("u like 'h_llo'", 1), B("u like 'h%llo'", 1),
    B("u like '_____'", 1), B("u like '______'", 0), B("pct like '50\\%%'", 1),
    B("pct like '50\\_%'", 0), B("pct like '%\\_off'", 1), B("pct like '%\\%\\_%'", 1),
    B("s like '%\\%'", 0), B("bs like 'a\\\\\\\\b'", 1), B("bs like 'a_b'", 1),
    B("'abc' like 'a%c'", 1), B("s like s", 1), B("s like lower('HEL%')", 1),
    B("s like upper(s)", 0), B("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaab' like '%a%a%a%a%a%a%c'", 0),
    B("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaab' like '%a%a%a%a%a%a%b'", 1), B("'abcabc' like '%abc'", 1),
    B("'xabcd' like '%abc_'", 1), B("s like 'h%l%o'", 1), B("'a%b' like 'a\\%b'", 1),
    B("'axb' like 'a\\%b'", 0), B("'end\\\\' like 'end\\\\'", 1), B("'end\\\\' like 'end\\\\\\\\'", 1), B("s LIKE 'h%'", 1),
    B("s like 'hel%' and i > 40", 1), N("n like 'a%'"), N("s like n"), N("n not like 'a'"),
    N("s like null"), EE("i like '4%'", TYPE, 3), EE("s like 1", TYPE, 3),
    EE("s like i", TYPE, 3), CE("s like", PARSE, 7),
    /* is [not] null */
    B("n is null", 1), B("n is not null", 0), B("missing is null", 1), B("i is null", 0),
    B("i is not null", 1), B("dev is not null", 1), B("arr is not null", 1),
    B("dev.loc is not null", 1), B("dev.loc.z is null", 1), B("NULL IS NULL", 1),
    B("i + n is null", 1), B("(i is null) = false", 1), B("e is not null", 1),
    B("f is not null", 1), CE("i is 5", PARSE, 6), CE("i is not 5", PARSE, 10),
    CE("i is", PARSE, 5),
    /* abs round floor ceil sqrt */
    I("abs(j)", 7), I("abs(i)", 42), D("abs(nd)", 0.5), N("abs(n)"), EE("abs(s)", TYPE, 1),
    EE("abs(small)", INVALID, 1), I("abs(-0)", 0), D("abs(-2.5)", 2.5), I("ABS(j)", 7),
    D("round(2.5)", 3.0), D("round(-2.5)", -3.0), D("round(2.4)", 2.0), I("round(i)", 42),
    D("round(1.23456, 2)", 1.23), D("round(1234.5, -2)", 1200.0), I("round(1250, -2)", 1300),
    I("round(-1250, -2)", -1300), I("round(1249, -2)", 1200), I("round(i, 2)", 42),
    I("round(big, -40)", 0), EE("round(big, -1)", INVALID, 1), N("round(n)"),
    N("round(d, n)"), N("round(n, 2)"), EE("round(d, 1.5)", TYPE, 1), EE("round(s)", TYPE, 1),
    EE("round(d, s)", TYPE, 1), CE("round()", INVALID, 1), CE("round(1, 2, 3)", INVALID, 1),
    D("round(d)", 3.0), D("round(0.5)", 1.0), D("round(1e300, 2)", 1e300),
    D("round(123.456, -400)", 0.0), D("round(2.5, 0)", 3.0), D("round(-1.55, 1)", -1.6),
    D("floor(d)", 2.0), D("ceil(d)", 3.0), D("floor(nd)", -1.0), D("ceil(nd)", 0.0),
    I("floor(i)", 42), I("ceil(j)", -7), N("floor(n)"), N("ceil(missing)"),
    EE("floor(s)", TYPE, 1), EE("ceil(t)", TYPE, 1), CE("floor(1, 2)", INVALID, 1),
    CE("ceil()", INVALID, 1), D("floor(-0.5) + ceil(0.5)", 0.0), D("sqrt(16)", 4.0),
    D("sqrt(d)", 1.5811388300841898), D("sqrt(0)", 0.0), N("sqrt(n)"),
    EE("sqrt(j)", INVALID, 1), EE("sqrt(-1.0)", INVALID, 1), EE("sqrt(s)", TYPE, 1),
    CE("sqrt()", INVALID, 1), CE("sqr(4)", INVALID, 1), D("sqrt(abs(j) + 9)", 4.0),
    /* min max coalesce */
    I("min(3, 1, 2)", 1), I("max(3, 1, 2)", 3), I("min(i)", 42), I("min(i, j)", -7),
    D("max(i, 42.5)", 42.5), I("min(1, 2.5)", 1), D("min(2.5, 3)", 2.5),
    I("max(n, 1, missing)", 1), N("min(n, missing)"), N("max(null)"),
    S("min('b', 'a', 'c')", "a"), S("max(s, 'abc')", "hello"), EE("min(1, 'a')", TYPE, 1),
    EE("max(dev, 1)", TYPE, 1), CE("min()", INVALID, 1), CE("max()", INVALID, 1),
    B("max(t, f)", 1), I("max(1, 2) + min(3, 4)", 5), I("min(big, small)", INT64_MIN),
    I("coalesce(n, 1)", 1), I("coalesce(n, missing, i)", 42), N("coalesce(n)"),
    N("coalesce(n, null)"), S("coalesce(s, 'x')", "hello"), I("coalesce(i, 1/0)", 42),
    EE("coalesce(n, 1/0)", INVALID, 14), CE("coalesce()", INVALID, 1),
    TY("coalesce(dev, 1)", SL_TYPE_RECORD), D("coalesce(missing, d) * 2", 5.0),
    /* lower upper len */
    S("lower(up)", "mixed"), S("upper(up)", "MIXED"),
    S("lower(s)", "hello"), S("upper(u)", "H\xc3\xa9LLO"), S("lower('ABC')", "abc"),
    S("upper('')", ""), N("lower(n)"), EE("lower(i)", TYPE, 1), EE("upper(t)", TYPE, 1),
    CE("lower()", INVALID, 1), CE("upper(s, s)", INVALID, 1), S("UPPER(s)", "HELLO"),
    S("lower(dev.name)", "dev one"), I("len(s)", 5), I("len(u)", 5), I("len(e)", 0),
    I("len(arr)", 3), I("len(earr)", 0), I("len(dev)", 3), I("len(bin)", 2), N("len(n)"),
    EE("len(i)", TYPE, 1), EE("len(d)", TYPE, 1), CE("len()", INVALID, 1),
    CE("len(s, s)", INVALID, 1), I("len('h\xc3\xa9llo w\xc3\xb6rld')", 11),
    I("len(lower(up)) + 1", 6), B("upper(s) = 'HELLO'", 1), B("len(s) between 1 and 5", 1),
    /* unknown functions and call syntax */
    CE("foo(1)", INVALID, 1), CE("i + sqr(4)", INVALID, 5), CE("avg(i)", INVALID, 1),
    CE("lenght(s)", INVALID, 1), CE("`abs`(1)", PARSE, 6), CE("abs(1", PARSE, 6),
    CE("abs(1,", PARSE, 7), CE("abs(1 2)", PARSE, 7), CE("abs(,)", PARSE, 5),
    /* syntax errors and their columns */
    CE("", PARSE, 1), CE("   ", PARSE, 4), CE("1 +", PARSE, 4), CE("(1 + 2", PARSE, 7),
    CE("1 + 2)", PARSE, 6), CE("'abc", PARSE, 1), CE("\"abc", PARSE, 1),
    CE("i = 'abc", PARSE, 5), CE("`abc", PARSE, 1), CE("``", PARSE, 1), CE("i # 2", PARSE, 3),
    CE("i ! 2", PARSE, 3), CE("1e", PARSE, 1), CE("1e+", PARSE, 1), CE("12abc", PARSE, 1),
    CE("1.2.3", PARSE, 1), CE("a.", PARSE, 3), CE("a..b", PARSE, 3), CE("a.1", PARSE, 2),
    CE("* 2", PARSE, 1), CE("i = = 2", PARSE, 5), CE("not", PARSE, 4), CE("i and", PARSE, 6),
    CE("and i", PARSE, 1), CE("(", PARSE, 2), CE(")", PARSE, 1), CE("i,j", PARSE, 2),
    CE("i j", PARSE, 3), CE("true false", PARSE, 6), CE("i between 1 and", PARSE, 16),
    CE("abs)", PARSE, 4), CE("i = 'a' 'b'", PARSE, 9), CE("i @ 1", PARSE, 3),
    CE("i = \x01", PARSE, 5), CE("i == == 1", PARSE, 6), CE("-", PARSE, 2),
    CE("i is not", PARSE, 9),
};

static sl_arena *rec_arena;
static sl_record *rec;

static sl_value str(const char *s) {
  return sl_value_string(sl_arena_strndup(rec_arena, s, strlen(s)), strlen(s));
}

static void set(sl_record *r, const char *name, sl_value v) {
  sl_record_set(r, sl_name_cstr(name), v);
}

static int setup(void) {
  rec_arena = sl_arena_new(0);
  rec = sl_record_new(rec_arena, 8);
  set(rec, "i", sl_value_int(42));
  set(rec, "j", sl_value_int(-7));
  set(rec, "zero", sl_value_int(0));
  set(rec, "big", sl_value_int(INT64_MAX));
  set(rec, "small", sl_value_int(INT64_MIN));
  set(rec, "i53", sl_value_int(9007199254740993LL));
  set(rec, "dbig", sl_value_double(9007199254740992.0));
  set(rec, "d", sl_value_double(2.5));
  set(rec, "nd", sl_value_double(-0.5));
  set(rec, "dz", sl_value_double(0.0));
  set(rec, "nan", sl_value_double(NAN));
  set(rec, "s", str("hello"));
  set(rec, "e", str(""));
  set(rec, "u", str("h\xc3\xa9llo"));
  set(rec, "up", str("MiXeD"));
  set(rec, "pct", str("50%_off"));
  set(rec, "bs", str("a\\b"));
  set(rec, "bin", sl_value_bytes("ab", 2));
  set(rec, "t", sl_value_bool(1));
  set(rec, "f", sl_value_bool(0));
  set(rec, "n", sl_value_null());
  set(rec, "sp ace", sl_value_int(7));
  set(rec, "in", sl_value_int(5));
  set(rec, "temperature", sl_value_double(21.5));
  set(rec, "machine_id", str("m0042"));
  sl_record *loc = sl_record_new(rec_arena, 2);
  set(loc, "x", sl_value_int(1));
  set(loc, "y", sl_value_double(2.5));
  set(loc, "in", sl_value_int(9));
  sl_record *dev = sl_record_new(rec_arena, 2);
  set(dev, "id", str("m1"));
  set(dev, "loc", sl_value_record(loc));
  set(dev, "name", str("Dev One"));
  set(rec, "dev", sl_value_record(dev));
  sl_array *arr = sl_array_new(rec_arena, 3);
  for (int k = 1; k <= 3; k++)
    sl_array_push(arr, sl_value_int(k));
  set(rec, "arr", sl_value_array(arr));
  set(rec, "earr", sl_value_array(sl_array_new(rec_arena, 0)));
  return rec_arena ? 0 : -1;
}

static int teardown(void) {
  sl_arena_destroy(rec_arena);
  return 0;
}

static int doubles_match(double got, double want) {
  if (isinf(want) || isinf(got))
    return got == want;
  return fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want));
}

/* Run one case; on mismatch say what happened so the failure is actionable. */
static int run_case(const tcase *c, sl_arena *a) {
  sl_error err;
  sl_error_clear(&err);
  sl_value v;
  sl_expr *e = sl_expr_compile(c->expr, 1, &err);
  int ok = 0;
  if (!e) {
    ok = c->kind == R_CERR && err.code == c->code && err.column == c->col && err.line == 1 &&
         err.message[0] != '\0';
    if (!ok)
      fprintf(stderr, "\n[%s] compile failed: code %d col %d: %s\n", c->expr, err.code,
              err.column, err.message);
    return ok;
  }
  int rc = sl_expr_eval(e, rec, a, &v, &err);
  if (c->kind == R_CERR) {
    fprintf(stderr, "\n[%s] compiled, expected compile error %d\n", c->expr, c->code);
  } else if (rc != SL_OK) {
    ok = c->kind == R_EERR && rc == c->code && err.code == c->code && err.column == c->col &&
         err.line == 1 && err.message[0] != '\0' && v.type == SL_TYPE_NULL;
    if (!ok)
      fprintf(stderr, "\n[%s] eval failed: code %d col %d: %s\n", c->expr, rc, err.column,
              err.message);
  } else {
    switch (c->kind) {
    case R_INT: ok = v.type == SL_TYPE_INT && v.as.i == c->i; break;
    case R_DBL: ok = v.type == SL_TYPE_DOUBLE && doubles_match(v.as.d, c->d); break;
    case R_STR:
      ok = v.type == SL_TYPE_STRING && v.as.str.len == strlen(c->s) &&
           memcmp(v.as.str.ptr, c->s, v.as.str.len) == 0;
      break;
    case R_BOOL: ok = v.type == SL_TYPE_BOOL && v.as.b == (int)c->i; break;
    case R_NULL: ok = v.type == SL_TYPE_NULL; break;
    case R_TYPE: ok = v.type == (sl_type)c->i; break;
    default: ok = 0; break;
    }
    if (!ok)
      fprintf(stderr, "\n[%s] got type %s (i=%lld d=%.17g)\n", c->expr, sl_type_name(v.type),
              (long long)(v.type == SL_TYPE_BOOL ? v.as.b : v.as.i), v.as.d);
  }
  sl_expr_free(e);
  return ok;
}

static void test_table(void) {
  sl_arena *a = sl_arena_new(0);
  size_t n = sizeof cases / sizeof cases[0], failed = 0;
  CU_ASSERT(n >= 300);
  for (size_t k = 0; k < n; k++) {
    if (!run_case(&cases[k], a))
      failed++;
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(failed, 0);
  sl_arena_destroy(a);
}


/* Compile `text` at pipeline line `line` and expect a failure at line/col. */
static void expect_compile_error(const char *text, int line, int code, int eline, int ecol,
                                 const char *msg) {
  sl_error err;
  sl_error_clear(&err);
  sl_expr *e = sl_expr_compile(text, line, &err);
  CU_ASSERT_PTR_NULL(e);
  sl_expr_free(e);
  CU_ASSERT_EQUAL(err.code, code);
  CU_ASSERT_EQUAL(err.line, eline);
  CU_ASSERT_EQUAL(err.column, ecol);
  if (msg) {
    CU_ASSERT_STRING_EQUAL(err.message, msg);
  }
}

static void expect_eval_error(const char *text, int code, const char *msg) {
  sl_error err;
  sl_value v;
  sl_arena *a = sl_arena_new(0);
  sl_expr *e = sl_expr_compile(text, 3, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(sl_expr_eval(e, rec, a, &v, &err), code);
  CU_ASSERT_STRING_EQUAL(err.message, msg);
  CU_ASSERT_EQUAL(err.line, 3);
  sl_expr_free(e);
  sl_arena_destroy(a);
}

static void test_messages(void) {
  expect_compile_error("sqr(4)", 1, SL_ERR_INVALID, 1, 1,
                       "unknown function 'sqr' (did you mean 'sqrt'?)");
  expect_compile_error("abs(1", 1, SL_ERR_PARSE, 1, 6,
                       "expected ')' after arguments, found end of expression");
  expect_compile_error("frobnicate(1)", 1, SL_ERR_INVALID, 1, 1, "unknown function 'frobnicate'");
  expect_compile_error("round(1, 2, 3)", 1, SL_ERR_INVALID, 1, 1,
                       "function 'round' takes 1 or 2 arguments, got 3");
  expect_compile_error("len()", 1, SL_ERR_INVALID, 1, 1, "function 'len' takes 1 argument, got 0");
  expect_compile_error("min()", 1, SL_ERR_INVALID, 1, 1,
                       "function 'min' takes at least 1 argument, got 0");
  expect_compile_error("1 < 2 < 3", 1, SL_ERR_PARSE, 1, 7,
                       "comparisons cannot be chained; combine them with 'and' or use parentheses");
  expect_compile_error("'abc", 1, SL_ERR_PARSE, 1, 1, "unterminated string literal");
  expect_compile_error("i = = 2", 1, SL_ERR_PARSE, 1, 5, "expected an expression, found '='");
  expect_compile_error("i is 5", 1, SL_ERR_PARSE, 1, 6,
                       "expected 'null' or 'not null' after 'is', found number '5'");
  expect_compile_error("(1", 1, SL_ERR_PARSE, 1, 3,
                       "expected ')' to close '(' of line 1 column 1, found end of expression");
  expect_eval_error("s + 1", SL_ERR_TYPE, "cannot add string and int");
  expect_eval_error("i / zero", SL_ERR_INVALID, "division by zero");
  expect_eval_error("s = 1", SL_ERR_TYPE, "cannot compare string and int");
  expect_eval_error("big + 1", SL_ERR_INVALID,
                    "integer overflow in '+' (write a decimal such as 1.0 to compute in "
                    "floating point)");
  expect_eval_error("sqrt(j)", SL_ERR_INVALID, "sqrt() of a negative number (-7)");
  expect_eval_error("lower(i)", SL_ERR_TYPE, "lower() needs a string, got int");
  expect_eval_error("i and t", SL_ERR_TYPE, "'and' needs bool operands, got int");
  expect_eval_error("i like 'x'", SL_ERR_TYPE, "'like' needs strings, got int like string");
}

static void test_multiline_positions(void) {
  /* Line offsets count the newlines before the error; columns restart on each line. */
  expect_compile_error("i > 1 and\n  sqr(j) < 2", 12, SL_ERR_INVALID, 13, 3, NULL);
  expect_compile_error("i > 1\nand\n\n    (j < ", 40, SL_ERR_PARSE, 43, 10, NULL);
  expect_compile_error("'a\nb' = s and\n @", 5, SL_ERR_PARSE, 7, 2, NULL);
  expect_compile_error("abs(\n1,\n", 1, SL_ERR_PARSE, 3, 1, NULL);
  expect_compile_error("\n\n\n'open", 100, SL_ERR_PARSE, 103, 1, NULL);
  /* evaluation errors point at the operator too */
  sl_error err;
  sl_value v;
  sl_arena *a = sl_arena_new(0);
  sl_expr *e = sl_expr_compile("i > 1 and\n   s + 1 > 0", 20, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(sl_expr_eval(e, rec, a, &v, &err), SL_ERR_TYPE);
  CU_ASSERT_EQUAL(err.line, 21);
  CU_ASSERT_EQUAL(err.column, 6);
  sl_expr_free(e);
  /* a multi-line expression that is fine */
  e = sl_expr_compile("i between 40\n and 50\n and s like 'h%'", 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(sl_expr_eval(e, rec, a, &v, &err), SL_OK);
  CU_ASSERT(sl_expr_truthy(&v));
  sl_expr_free(e);
  sl_arena_destroy(a);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail) {
  size_t len = strlen(head) + strlen(unit) * n + strlen(tail) + 1;
  char *s = malloc(len);
  strcpy(s, head);
  for (size_t k = 0; k < n; k++)
    strcat(s + strlen(s) - (k ? strlen(unit) : 0), unit);
  strcat(s, tail);
  return s;
}

/* Evaluate `text` expecting an int (or a compile error when want_err). */
static void expect_int_or_depth_error(const char *text, int want_err, int64_t want) {
  sl_error err;
  sl_value v;
  sl_arena *a = sl_arena_new(0);
  sl_expr *e = sl_expr_compile(text, 1, &err);
  if (want_err) {
    CU_ASSERT_PTR_NULL(e);
    CU_ASSERT_EQUAL(err.code, SL_ERR_PARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "nested too deeply"));
  } else {
    CU_ASSERT_PTR_NOT_NULL(e);
    if (e) {
      CU_ASSERT_EQUAL(sl_expr_eval(e, rec, a, &v, &err), SL_OK);
      CU_ASSERT_EQUAL(v.type, SL_TYPE_INT);
      CU_ASSERT_EQUAL(v.as.i, want);
    }
  }
  sl_expr_free(e);
  sl_arena_destroy(a);
}

static void test_nesting_limits(void) {
  char *ok_open = repeat("", "(", 200, ""), *ok_close = repeat("", ")", 200, "");
  char *text = malloc(strlen(ok_open) * 2 + 8);
  sprintf(text, "%s42%s", ok_open, ok_close);
  expect_int_or_depth_error(text, 0, 42);
  free(text);
  free(ok_open);
  free(ok_close);
  char *deep = repeat("", "(", 300, "1"); /* the limit must trip before the missing ')' */
  expect_int_or_depth_error(deep, 1, 0);
  free(deep);
  char *deep_open = repeat("", "(", 100000, "1");
  expect_int_or_depth_error(deep_open, 1, 0);
  free(deep_open);
  char *negs = repeat("", "- ", 300, "1");
  expect_int_or_depth_error(negs, 1, 0);
  free(negs);
  char *negs_ok = repeat("", "- ", 100, "1");
  expect_int_or_depth_error(negs_ok, 0, 1);
  free(negs_ok);
  char *nots = repeat("", "not ", 300, "true");
  expect_int_or_depth_error(nots, 1, 0);
  free(nots);
  char *calls = repeat("", "abs(", 300, "1");
  expect_int_or_depth_error(calls, 1, 0);
  free(calls);
  /* a left-deep chain deeper than the limit is refused too ... */
  char *sum = repeat("i", " + 1", 300, "");
  expect_int_or_depth_error(sum, 1, 0);
  free(sum);
  /* ... and one within it evaluates */
  char *sum_ok = repeat("i", " + 1", 200, "");
  expect_int_or_depth_error(sum_ok, 0, 242);
  free(sum_ok);
}

static void test_long_expressions(void) {
  sl_error err;
  sl_value v;
  sl_arena *a = sl_arena_new(0);
  /* 2000 'or' terms stay one flat node */
  char *ors = repeat("i = -1", " or i = -1", 2000, " or i = 42");
  sl_expr *e = sl_expr_compile(ors, 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(sl_expr_eval(e, rec, a, &v, &err), SL_OK);
  CU_ASSERT(sl_expr_truthy(&v));
  CU_ASSERT_EQUAL(sl_expr_field_count(e), 1);
  sl_expr_free(e);
  free(ors);
  /* an 'in' list of 5000 ints (sorted at compile time) and of strings */
  char *in = repeat("i in (1000", ", 1000", 5000, ", 42)");
  e = sl_expr_compile(in, 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(sl_expr_eval(e, rec, a, &v, &err), SL_OK);
  CU_ASSERT(sl_expr_truthy(&v));
  sl_expr_free(e);
  free(in);
  char *ins = repeat("s in ('x'", ", 'y'", 3000, ", 'hello')");
  e = sl_expr_compile(ins, 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(sl_expr_eval(e, rec, a, &v, &err), SL_OK);
  CU_ASSERT(sl_expr_truthy(&v));
  sl_expr_free(e);
  free(ins);
  /* a 100 KB string literal */
  char *lit = repeat("len('", "abcdefghij", 10000, "')");
  e = sl_expr_compile(lit, 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(sl_expr_eval(e, rec, a, &v, &err), SL_OK);
  CU_ASSERT_EQUAL(v.as.i, 100000);
  sl_expr_free(e);
  free(lit);
  /* 1000 function arguments */
  char *args = repeat("max(0", ", 1", 1000, ", i)");
  e = sl_expr_compile(args, 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(sl_expr_eval(e, rec, a, &v, &err), SL_OK);
  CU_ASSERT_EQUAL(v.as.i, 42);
  sl_expr_free(e);
  free(args);
  sl_arena_destroy(a);
}

static void test_fields_and_names(void) {
  sl_error err;
  sl_expr *e = sl_expr_compile("a + b.c > a and coalesce(`x y`, b.c, dev.loc.x) is null", 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(sl_expr_field_count(e), 4);
  CU_ASSERT_STRING_EQUAL(sl_expr_field_at(e, 0), "a");
  CU_ASSERT_STRING_EQUAL(sl_expr_field_at(e, 1), "b.c");
  CU_ASSERT_STRING_EQUAL(sl_expr_field_at(e, 2), "x y");
  CU_ASSERT_STRING_EQUAL(sl_expr_field_at(e, 3), "dev.loc.x");
  CU_ASSERT_PTR_NULL(sl_expr_field_at(e, 4));
  sl_expr_free(e);
  e = sl_expr_compile("1 + 2", 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(sl_expr_field_count(e), 0);
  sl_expr_free(e);
  sl_expr_free(NULL);
  size_t n = 0;
  const char *const *names = sl_expr_function_names(&n);
  CU_ASSERT_EQUAL(n, 11);
  const char *want[] = {"abs", "round", "floor", "ceil", "sqrt", "min",
                        "max", "coalesce", "lower", "upper", "len"};
  for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
    int found = 0;
    for (size_t m = 0; m < n; m++)
      found |= strcmp(names[m], want[k]) == 0;
    CU_ASSERT(found);
  }
  sl_value t = sl_value_bool(1), f = sl_value_bool(0), nul = sl_value_null(), one = sl_value_int(1);
  CU_ASSERT_EQUAL(sl_expr_truthy(&t), 1);
  CU_ASSERT_EQUAL(sl_expr_truthy(&f), 0);
  CU_ASSERT_EQUAL(sl_expr_truthy(&nul), 0);
  CU_ASSERT_EQUAL(sl_expr_truthy(&one), 0);
  CU_ASSERT_PTR_NULL(sl_expr_compile(NULL, 1, &err));
  CU_ASSERT_PTR_NULL(sl_expr_compile("(", 1, NULL)); /* err is optional */
}

/* Compile once, evaluate 100k times on an arena reset every 1000 rounds:
 * under ASan this proves evaluation neither leaks nor reads freed memory. */
static void test_many_evaluations(void) {
  sl_error err;
  sl_value v;
  sl_arena *a = sl_arena_new(4096);
  sl_expr *filter = sl_expr_compile(
      "temperature between -40 and 150 and machine_id is not null", 1, &err);
  sl_expr *str = sl_expr_compile("upper(machine_id) like 'M00%' and lower(up) = 'mixed'", 1, &err);
  sl_expr *arith = sl_expr_compile("round(temperature * 2 + floor(i / 5), 1) + len(s)", 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(filter);
  CU_ASSERT_PTR_NOT_NULL_FATAL(str);
  CU_ASSERT_PTR_NOT_NULL_FATAL(arith);
  size_t bad = 0, peak = 0;
  for (int k = 0; k < 100000; k++) {
    bad += sl_expr_eval(filter, rec, a, &v, &err) != SL_OK || !sl_expr_truthy(&v);
    bad += sl_expr_eval(str, rec, a, &v, &err) != SL_OK || !sl_expr_truthy(&v);
    bad += sl_expr_eval(arith, rec, a, &v, &err) != SL_OK || v.type != SL_TYPE_DOUBLE ||
           v.as.d != 56.0;
    if (sl_arena_used(a) > peak)
      peak = sl_arena_used(a);
    if (k % 1000 == 999)
      sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(bad, 0);
  /* only the two strings per round are allocated: 1000 rounds fit well under 64 KB */
  CU_ASSERT(peak <= 1000 * 2 * 32);
  sl_arena_reset(a);
  sl_expr_eval(filter, rec, a, &v, &err);
  CU_ASSERT_EQUAL(sl_arena_used(a), 0); /* the filter allocates nothing */
  sl_expr_free(filter);
  sl_expr_free(str);
  sl_expr_free(arith);
  sl_arena_destroy(a);
}

/* `x between LIT and LIT` compiles to a fast path for numeric literals: it
 * must give the same value, or the same error, as the general evaluation
 * for every kind of x, edge values and NaN included. */
static void test_between_fast_path(void) {
  static const char *const bounds[][2] = {
      {"-40", "150"}, {"-40.5", "150.25"}, {"0", "0"}, {"10", "-10"},
      {"9007199254740993", "9007199254740995"}, {"-1", "1.5"},
      {"-9223372036854775808", "9223372036854775807"}, {"1e300", "1e301"}, {"-0.0", "0"},
      {"-1 - 39", "100 + 50"}};
  const sl_value xs[] = {
      sl_value_int(0), sl_value_int(-40), sl_value_int(-41), sl_value_int(150),
      sl_value_int(151), sl_value_int(9007199254740993LL), sl_value_int(9007199254740994LL),
      sl_value_int(9007199254740996LL), sl_value_int(INT64_MAX), sl_value_int(INT64_MIN),
      sl_value_double(-40.0), sl_value_double(-40.5), sl_value_double(-40.50000000001),
      sl_value_double(150.0), sl_value_double(150.25), sl_value_double(150.2500001),
      sl_value_double(0.0), sl_value_double(-0.0), sl_value_double(NAN),
      sl_value_double(INFINITY), sl_value_double(-INFINITY),
      sl_value_double(9007199254740992.0), sl_value_double(9007199254740994.0),
      sl_value_double(1e300), sl_value_double(21.5), sl_value_null(), sl_value_string("x", 1),
      sl_value_bool(1)};
  sl_arena *a = sl_arena_new(4096);
  sl_record *r = sl_record_new(a, 1);
  sl_name x = sl_name_cstr("x");
  int mismatches = 0, fast_kept = 0;
  for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
    for (int neg = 0; neg < 2; neg++) {
      char text[160];
      snprintf(text, sizeof text, "x %sbetween %s and %s", neg ? "not " : "", bounds[b][0],
               bounds[b][1]);
      sl_error err;
      sl_expr *e = sl_expr_compile(text, 1, &err);
      CU_ASSERT_PTR_NOT_NULL_FATAL(e);
      CU_ASSERT(e->root->eval == ex_eval_between_num);
      for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) {
        sl_record_set(r, x, xs[k]);
        sl_value fast, slow;
        sl_error e1, e2;
        ex_ctx c = {r, a, &e2};
        int rc1 = sl_expr_eval(e, r, a, &fast, &e1);
        int rc2 = ex_eval_between(e->root, &c, &slow);
        if (rc2 != SL_OK)
          slow = sl_value_null();
        if (rc1 != rc2 || fast.type != slow.type ||
            (fast.type == SL_TYPE_BOOL && fast.as.b != slow.as.b)) {
          fprintf(stderr, "\n'%s' with x #%zu: fast rc %d type %d, general rc %d type %d\n",
                  text, k, rc1, fast.type, rc2, slow.type);
          mismatches++;
        }
        fast_kept += rc1 == SL_OK && fast.type == SL_TYPE_BOOL && fast.as.b;
      }
      sl_expr_free(e);
    }
  }
  CU_ASSERT_EQUAL(mismatches, 0);
  CU_ASSERT(fast_kept > 50); /* both outcomes occur */
  sl_arena_destroy(a);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}

/* Either a compile error (parse/invalid) or an evaluation that returns a
 * value or a type/invalid error: anything else (or a crash) is a bug. */
static int try_text(const char *text, sl_arena *a) {
  sl_error err;
  sl_value v;
  sl_error_clear(&err);
  sl_expr *e = sl_expr_compile(text, 1, &err);
  if (!e)
    return (err.code == SL_ERR_PARSE || err.code == SL_ERR_INVALID) && err.message[0] &&
           err.line >= 1 && err.column >= 1;
  int rc = sl_expr_eval(e, rec, a, &v, &err);
  sl_expr_free(e);
  sl_arena_reset(a);
  return rc == SL_OK || ((rc == SL_ERR_TYPE || rc == SL_ERR_INVALID) && err.message[0]);
}

static void test_fuzz(void) {
  static const char *const toks[] = {
      "i", "j", "s", "n", "d", "t", "f", "dev", ".", "loc", "x", "arr", "missing", "1", "0",
      "-1", "2.5", "9223372036854775807", "'a'", "'h%'", "''", "\"q\"", "(", ")", ",", "+", "-",
      "*", "/", "%", "=", "!=", "<>", "<", "<=", ">", ">=", "and", "or", "not", "between",
      "in", "is", "null", "like", "true", "false", "abs", "round", "min", "max", "coalesce",
      "lower", "upper", "len", "sqrt", "floor", "ceil", "`sp ace`", "'\\x41'", "\n"};
  size_t ntoks = sizeof toks / sizeof toks[0];
  sl_arena *a = sl_arena_new(0);
  char buf[512];
  int bad = 0, compiled = 0;
  for (int k = 0; k < 20000; k++) {
    size_t len = 0, count = 1 + rnd() % 24;
    for (size_t m = 0; m < count; m++) {
      const char *t = toks[rnd() % ntoks];
      if (len + strlen(t) + 2 >= sizeof buf)
        break;
      len += (size_t)sprintf(buf + len, "%s ", t);
    }
    buf[len] = '\0';
    bad += !try_text(buf, a);
    sl_error err;
    sl_expr *e = sl_expr_compile(buf, 1, &err);
    compiled += e != NULL;
    sl_expr_free(e);
  }
  for (int k = 0; k < 20000; k++) {
    size_t len = rnd() % 64;
    for (size_t m = 0; m < len; m++) {
      char c = (char)(rnd() % 255 + 1);
      buf[m] = (k & 1) ? c : "ij()+-*/%=<>!'\"`.,_ 0123456789aeinorst\\"[rnd() % 39];
    }
    buf[len] = '\0';
    bad += !try_text(buf, a);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(compiled > 100); /* the token sequences did reach evaluation */
  sl_arena_destroy(a);
}

int suite_core_expr(void);
int suite_core_expr(void) {
  CU_pSuite s = CU_add_suite("core/expr", setup, teardown);
  if (!s || !CU_add_test(s, "table of expressions", test_table) ||
      !CU_add_test(s, "error messages", test_messages) ||
      !CU_add_test(s, "positions in multi-line expressions", test_multiline_positions) ||
      !CU_add_test(s, "nesting limits", test_nesting_limits) ||
      !CU_add_test(s, "long expressions", test_long_expressions) ||
      !CU_add_test(s, "field list, function names, truthiness", test_fields_and_names) ||
      !CU_add_test(s, "100k evaluations on a reset arena", test_many_evaluations) ||
      !CU_add_test(s, "between: fast path equals general evaluation", test_between_fast_path) ||
      !CU_add_test(s, "random input never crashes", test_fuzz))
    return -1;
  return 0;
}
