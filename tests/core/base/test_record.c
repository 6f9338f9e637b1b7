/* SPDX-License-Identifier: Apache-2.0 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "base/record_internal.h"

static void test_set_get_replace(void) {
  sl_arena *a = sl_arena_new(128);
  sl_record *r = sl_record_new(a, 0);
  sl_name x = sl_name_cstr("x"), y = sl_name_cstr("y");
  CU_ASSERT_PTR_EQUAL(x, sl_name_intern("x", 1));
  for (int i = 0; i < 100; i++) {
    char name[16];
    snprintf(name, sizeof name, "f%d", i);
    CU_ASSERT_EQUAL(sl_record_set(r, sl_name_cstr(name), sl_value_int(i)), SL_OK);
  }
  sl_record_set(r, x, sl_value_double(1.5));
  sl_record_set(r, x, sl_value_double(2.5));
  CU_ASSERT_EQUAL(sl_record_count(r), 101);
  CU_ASSERT_DOUBLE_EQUAL(sl_record_get(r, x)->as.d, 2.5, 0);
  CU_ASSERT_PTR_NULL(sl_record_get(r, y));
  CU_ASSERT_EQUAL(sl_record_get_cstr(r, "f42")->as.i, 42);
  CU_ASSERT_EQUAL(sl_record_remove(r, x), 1);
  CU_ASSERT_EQUAL(sl_record_remove(r, x), 0);
  CU_ASSERT_EQUAL(sl_record_count(r), 100);
  sl_arena_destroy(a);
}

/* A new record has no fields and no metadata, whatever was in its arena
 * before (sl_record_new does not zero the memory it reuses). */
static void test_new_record_is_empty(void) {
  sl_arena *a = sl_arena_new(4096);
  for (int round = 0; round < 2; round++) {
    sl_record *r = sl_record_new(a, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    size_t len = 1;
    CU_ASSERT_EQUAL(sl_record_count(r), 0);
    CU_ASSERT_EQUAL(sl_record_partition(r), -1);
    CU_ASSERT_EQUAL(sl_record_offset(r), -1);
    CU_ASSERT_EQUAL(sl_record_source_id(r), -1);
    CU_ASSERT_EQUAL(sl_record_timestamp(r), 0);
    CU_ASSERT_PTR_NULL(sl_record_source_name(r));
    CU_ASSERT_PTR_NULL(sl_record_key(r, &len));
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_PTR_NULL(sl_record_raw(r, &len));
    CU_ASSERT_EQUAL(sl_record_header_count(r), 0);
    CU_ASSERT_PTR_EQUAL(sl_record_arena(r), a);
    for (int i = 0; i < 5; i++) /* within the first capacity, then past it */
      CU_ASSERT_EQUAL(sl_record_set(r, sl_name_cstr(i % 2 ? "odd" : "even"), sl_value_int(i)),
                      SL_OK);
    CU_ASSERT_EQUAL(sl_record_set(r, sl_name_cstr("a"), sl_value_int(7)), SL_OK);
    CU_ASSERT_EQUAL(sl_record_set(r, sl_name_cstr("b"), sl_value_int(8)), SL_OK);
    CU_ASSERT_EQUAL(sl_record_count(r), 4);
    CU_ASSERT_EQUAL(sl_record_get_cstr(r, "odd")->as.i, 3);
    CU_ASSERT_EQUAL(sl_record_get_cstr(r, "b")->as.i, 8);
    /* Dirty the memory the next round's record will reuse. */
    sl_record_set_position(r, 3, "src", 2, 99);
    sl_record_set_timestamp(r, 123);
    sl_record_set_key(r, "k", 1);
    sl_record_set_raw(r, "raw", 3);
    sl_record_header_add(r, "h", "v", 1);
    sl_arena_reset(a);
  }
  sl_arena_destroy(a);
}

/* The hints only speed the lookup up: records in another order, with a
 * field missing, or a path through a non-record give what get_path gives. */
static void test_path_hinted(void) {
  sl_arena *a = sl_arena_new(0);
  sl_name x = sl_name_cstr("x"), y = sl_name_cstr("y"), z = sl_name_cstr("z");
  sl_name in = sl_name_cstr("in");
  sl_name path1[] = {y}, path2[] = {in, z};
  uint32_t h1[1] = {0}, h2[2] = {0, 0};
  uint64_t rng = 7;
  for (int i = 0; i < 400; i++) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    unsigned bits = (unsigned)(rng >> 33);
    sl_record *inner = sl_record_new(a, 2);
    if (bits & 1)
      sl_record_set(inner, x, sl_value_int(1));
    if (bits & 2)
      sl_record_set(inner, z, sl_value_int(i));
    sl_record *r = sl_record_new(a, 4);
    sl_name order[3] = {x, y, in};
    for (int k = 0; k < 3; k++) { /* a rotation of the three names, one sometimes left out */
      sl_name n = order[(k + (bits >> 2) % 3) % 3];
      if ((bits >> 4) % 4 == (unsigned)k)
        continue;
      sl_record_set(
          r, n, n == in ? (bits & 64 ? sl_value_record(inner) : sl_value_int(3)) : sl_value_int(i));
    }
    CU_ASSERT_PTR_EQUAL(sl_record_get_path_hinted(r, path1, 1, h1),
                        sl_record_get_path(r, path1, 1));
    CU_ASSERT_PTR_EQUAL(sl_record_get_path_hinted(r, path2, 2, h2),
                        sl_record_get_path(r, path2, 2));
    CU_ASSERT_PTR_EQUAL(sl_record_get_path_hinted(r, path2, 2, h2),
                        sl_record_get_path(r, path2, 2));
  }
  sl_arena_destroy(a);
}

static void test_nested_path_and_clone(void) {
  sl_arena *a = sl_arena_new(0), *b = sl_arena_new(0);
  sl_record *inner = sl_record_new(a, 2);
  char *s = sl_arena_strndup(a, "hello", 5);
  sl_record_set(inner, sl_name_cstr("c"), sl_value_string(s, 5));
  sl_record *outer = sl_record_new(a, 2);
  sl_record_set(outer, sl_name_cstr("b"), sl_value_record(inner));
  sl_array *arr = sl_array_new(a, 0);
  for (int i = 0; i < 20; i++)
    sl_array_push(arr, sl_value_int(i));
  sl_record_set(outer, sl_name_cstr("list"), sl_value_array(arr));
  sl_record_set_key(outer, "k1", 2);
  sl_record_header_add(outer, "h", "v", 1);
  sl_name path[] = {sl_name_cstr("b"), sl_name_cstr("c")};
  const sl_value *v = sl_record_get_path(outer, path, 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  CU_ASSERT_EQUAL(v->as.str.len, 5);
  sl_name bad[] = {sl_name_cstr("list"), sl_name_cstr("c")};
  CU_ASSERT_PTR_NULL(sl_record_get_path(outer, bad, 2));

  sl_record *c = sl_record_clone(b, outer);
  sl_arena_destroy(a); /* the clone must not borrow from the first arena */
  v = sl_record_get_path(c, path, 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  CU_ASSERT_NSTRING_EQUAL(v->as.str.ptr, "hello", 5);
  CU_ASSERT_EQUAL(sl_array_len(sl_record_get_cstr(c, "list")->as.arr), 20);
  CU_ASSERT_EQUAL(sl_array_at(sl_record_get_cstr(c, "list")->as.arr, 19)->as.i, 19);
  size_t klen;
  CU_ASSERT_NSTRING_EQUAL(sl_record_key(c, &klen), "k1", 2);
  const void *hv;
  size_t hl;
  CU_ASSERT_STRING_EQUAL(sl_record_header_at(c, 0, &hv, &hl), "h");
  sl_arena_destroy(b);
}

static void test_arena_large_and_reset(void) {
  sl_arena *a = sl_arena_new(64);
  char *big = sl_arena_alloc(a, 10000);
  CU_ASSERT_PTR_NOT_NULL(big);
  memset(big, 1, 10000);
  CU_ASSERT(sl_arena_used(a) >= 10000);
  sl_arena_reset(a);
  CU_ASSERT_EQUAL(sl_arena_used(a), 0);
  CU_ASSERT_EQUAL((uintptr_t)sl_arena_alloc(a, 3) % 16, 0);
  sl_arena_destroy(a);
  sl_arena_destroy(NULL);
}

/* The inline bump (sl_arena_bump) trusts `limit` to be aligned: a chunk size that is not a
 * multiple of 16 must still give aligned, non-overlapping blocks that fit their chunk, the
 * used count must add up across chunks, and a size near SIZE_MAX must fail, not wrap. */
static void test_arena_odd_chunks(void) {
  sl_arena *a = sl_arena_new(100);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  unsigned char *prev = NULL;
  size_t want = 0;
  for (size_t i = 0; i < 200; i++) {
    size_t n = i % 37;
    unsigned char *p = sl_arena_alloc(a, n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL((uintptr_t)p % 16, 0);
    memset(p, (int)i, n); /* ASan: the block is inside its chunk */
    if (prev && n)
      CU_ASSERT(p != prev);
    prev = n ? p : prev;
    want += (n + 15) & ~(size_t)15;
  }
  CU_ASSERT_EQUAL(sl_arena_used(a), want);
  CU_ASSERT_PTR_NULL(sl_arena_alloc(a, SIZE_MAX - 5));
  CU_ASSERT_PTR_NULL(sl_arena_calloc(a, SIZE_MAX / 2, 4));
  CU_ASSERT_EQUAL(sl_arena_used(a), want);
  /* A block of exactly what is left in the chunk, then one more byte. */
  sl_arena_reset(a);
  CU_ASSERT_PTR_NOT_NULL(sl_arena_alloc(a, 96));
  CU_ASSERT_PTR_NOT_NULL(sl_arena_alloc(a, 1));
  CU_ASSERT_EQUAL(sl_arena_used(a), 112);
  sl_arena_destroy(a);
}

static void test_batch(void) {
  sl_arena *a = sl_arena_new(0);
  sl_batch b;
  sl_batch_init(&b, a);
  for (int i = 0; i < 1000; i++)
    sl_batch_push(&b, sl_record_new(a, 1));
  CU_ASSERT_EQUAL(sl_batch_count(&b), 1000);
  CU_ASSERT_PTR_EQUAL(sl_batch_arena(&b), a);
  sl_batch_clear(&b);
  CU_ASSERT_EQUAL(sl_batch_count(&b), 0);
  sl_batch_release(&b);
  sl_arena_destroy(a);
}

/* Decoders fill records through sl_record_put_unique: the same fields and values as
 * sl_record_set (the last value of a repeated name wins, order of first appearance kept),
 * across the switch from scanning to the index and its rehashes. */
static void test_put_unique_matches_set(void) {
  sl_arena *a = sl_arena_new(0);
  sl_record *want = sl_record_new(a, 0), *got = sl_record_new(a, 0);
  sl_field_index ix = {NULL, 0};
  unsigned x = 12345;
  for (int i = 0; i < 5000; i++) {
    x = x * 1103515245u + 12345u;
    char name[16];
    snprintf(name, sizeof name, "f%u", (x >> 8) % 700);
    sl_name n = sl_name_cstr(name);
    CU_ASSERT_EQUAL(sl_record_set(want, n, sl_value_int(i)), SL_OK);
    CU_ASSERT_EQUAL(sl_record_put_unique(got, &ix, n, sl_value_int(i)), SL_OK);
  }
  CU_ASSERT_PTR_NOT_NULL(ix.slots);
  CU_ASSERT_EQUAL_FATAL(sl_record_count(got), sl_record_count(want));
  for (size_t i = 0; i < sl_record_count(want); i++) {
    CU_ASSERT_PTR_EQUAL(sl_record_name_at(got, i), sl_record_name_at(want, i));
    CU_ASSERT_EQUAL(sl_record_value_at(got, i)->as.i, sl_record_value_at(want, i)->as.i);
  }
  sl_arena_destroy(a);
}

/* sl_record_extend (enrich): new names appended, an existing one replaced in
 * place, metadata and headers copied, the source record untouched. */
static void test_extend(void) {
  sl_arena *a = sl_arena_new(0);
  sl_record *r = sl_record_new(a, 2);
  sl_name id = sl_name_cstr("id"), site = sl_name_cstr("site"), lim = sl_name_cstr("max_temp");
  sl_record_set(r, id, sl_value_int(7));
  sl_record_set(r, site, sl_value_string("old", 3));
  sl_record_set_position(r, 1, "topic", 2, 42);
  sl_record_set_timestamp(r, 1000);
  sl_record_header_add(r, "h", "v", 1);
  const sl_name add[] = {lim, sl_name_cstr("line")};
  const sl_value vals[] = {sl_value_double(80), sl_value_string("L1", 2)};
  sl_record *c = sl_record_extend(a, r, add, vals, 2, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(sl_record_count(c), 4);
  CU_ASSERT_PTR_EQUAL(sl_record_name_at(c, 2), lim); /* appended in order */
  CU_ASSERT_DOUBLE_EQUAL(sl_record_get(c, lim)->as.d, 80, 1e-9);
  CU_ASSERT_EQUAL(sl_record_offset(c), 42);
  CU_ASSERT_EQUAL(sl_record_timestamp(c), 1000);
  CU_ASSERT_EQUAL(sl_record_header_count(c), 1);
  const sl_name repl[] = {lim, site};
  const sl_value nv[] = {sl_value_int(1), sl_value_string("new", 3)};
  sl_record *d = sl_record_extend(a, r, repl, nv, 2, 0);
  CU_ASSERT_EQUAL_FATAL(sl_record_count(d), 3);
  CU_ASSERT_PTR_EQUAL(sl_record_name_at(d, 1), site); /* replaced where it was */
  CU_ASSERT_NSTRING_EQUAL(sl_record_get(d, site)->as.str.ptr, "new", 3);
  CU_ASSERT_EQUAL(sl_record_count(r), 2); /* the source is not changed */
  CU_ASSERT_NSTRING_EQUAL(sl_record_get(r, site)->as.str.ptr, "old", 3);
  CU_ASSERT_EQUAL(sl_record_set(d, sl_name_cstr("more"), sl_value_int(1)), SL_OK); /* grows */
  CU_ASSERT_EQUAL(sl_record_count(d), 4);
  sl_arena_destroy(a);
}

/* sl_record_extend_in_place (enrich owning its input): the record itself
 * gains the fields, growing its table when full; an existing name is
 * replaced where it is; a record with room left is extended without moving. */
static void test_extend_in_place(void) {
  sl_arena *a = sl_arena_new(0);
  sl_record *r = sl_record_new(a, 2);
  sl_name id = sl_name_cstr("id"), site = sl_name_cstr("site"), lim = sl_name_cstr("max_temp");
  sl_record_set(r, id, sl_value_int(7));
  sl_record_set(r, site, sl_value_string("old", 3));
  const sl_name add[] = {lim, sl_name_cstr("line")};
  const sl_value vals[] = {sl_value_double(80), sl_value_string("L1", 2)};
  CU_ASSERT_EQUAL_FATAL(sl_record_extend_in_place(r, add, vals, 2, 0), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_record_count(r), 4);
  CU_ASSERT_EQUAL(sl_record_get(r, id)->as.i, 7); /* kept across the growth */
  CU_ASSERT_PTR_EQUAL(sl_record_name_at(r, 2), lim);
  CU_ASSERT_NSTRING_EQUAL(sl_record_get(r, sl_name_cstr("line"))->as.str.ptr, "L1", 2);
  const sl_name repl[] = {site, sl_name_cstr("zone")};
  const sl_value nv[] = {sl_value_string("new", 3), sl_value_int(3)};
  CU_ASSERT_EQUAL_FATAL(sl_record_extend_in_place(r, repl, nv, 2, 0), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_record_count(r), 5);
  CU_ASSERT_PTR_EQUAL(sl_record_name_at(r, 1), site); /* replaced where it was */
  CU_ASSERT_NSTRING_EQUAL(sl_record_get(r, site)->as.str.ptr, "new", 3);
  CU_ASSERT_EQUAL(sl_record_get(r, sl_name_cstr("zone"))->as.i, 3);
  sl_record *roomy = sl_record_new(a, 8);
  sl_record_set(roomy, id, sl_value_int(1));
  const sl_value *before = sl_record_get(roomy, id);
  CU_ASSERT_EQUAL(sl_record_extend_in_place(roomy, add, vals, 2, 1), SL_OK);
  CU_ASSERT_PTR_EQUAL(sl_record_get(roomy, id), before); /* room left: not moved */
  CU_ASSERT_EQUAL(sl_record_count(roomy), 3);
  sl_arena_destroy(a);
}

/* Shapes (enrich's proof that names are new, and its positions in table
 * entries): one interned shape per list of names in order, kept by copies,
 * and dropped by every change of the names, so a stale shape can never
 * claim names a record no longer lists. Also sl_batch_push_all. */
static void test_shapes(void) {
  sl_arena *a = sl_arena_new(0);
  sl_name x = sl_name_cstr("shape_x"), y = sl_name_cstr("shape_y");
  sl_record *r = sl_record_new(a, 4), *same = sl_record_new(a, 2), *swapped = sl_record_new(a, 2);
  sl_record_set(r, x, sl_value_int(1));
  sl_record_set(r, y, sl_value_int(2));
  sl_record_set(same, x, sl_value_int(3));
  sl_record_set(same, y, sl_value_int(4));
  sl_record_set(swapped, y, sl_value_int(5));
  sl_record_set(swapped, x, sl_value_int(6));
  CU_ASSERT_PTR_NULL(r->shape); /* unknown until someone interns it */
  const struct sl_shape *s = sl_shape_of(r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_PTR_EQUAL(sl_shape_of(same), s);
  CU_ASSERT_PTR_NOT_EQUAL(sl_shape_of(swapped), s); /* order matters: positions do */
  r->shape = s;
  sl_record *c = sl_record_copy(a, r);
  CU_ASSERT_PTR_EQUAL(c->shape, s);
  CU_ASSERT_EQUAL(sl_record_set(c, y, sl_value_int(9)), SL_OK); /* a value only */
  CU_ASSERT_PTR_EQUAL(c->shape, s);
  CU_ASSERT_EQUAL(sl_record_set(c, sl_name_cstr("shape_z"), sl_value_int(9)), SL_OK);
  CU_ASSERT_PTR_NULL(c->shape);
  c = sl_record_copy(a, r);
  sl_record_remove(c, x);
  CU_ASSERT_PTR_NULL(c->shape);
  const sl_name add[] = {sl_name_cstr("shape_z")};
  const sl_value v[] = {sl_value_int(0)};
  CU_ASSERT_PTR_NULL(sl_record_extend(a, r, add, v, 1, 0)->shape);
  c = sl_record_copy(a, r);
  CU_ASSERT_EQUAL(sl_record_extend_in_place(c, add, v, 1, 1), SL_OK);
  CU_ASSERT_PTR_NULL(c->shape);
  sl_record *big = sl_record_new(a, SL_SHAPE_MAX + 1);
  char name[32];
  for (int i = 0; i <= SL_SHAPE_MAX; i++) {
    snprintf(name, sizeof name, "shape_f%d", i);
    sl_record_set(big, sl_name_cstr(name), sl_value_int(i));
  }
  CU_ASSERT_PTR_NULL(sl_shape_of(big)); /* too wide: no shape, no shortcut */
  sl_batch b;
  sl_batch_init(&b, a);
  sl_record *many[100];
  for (int i = 0; i < 100; i++)
    many[i] = i % 2 ? r : same;
  CU_ASSERT_EQUAL(sl_batch_push(&b, r), SL_OK);
  CU_ASSERT_EQUAL(sl_batch_push_all(&b, many, 100), SL_OK); /* grows past 64 at once */
  CU_ASSERT_EQUAL_FATAL(sl_batch_count(&b), 101);
  CU_ASSERT_PTR_EQUAL(sl_batch_at(&b, 0), r);
  CU_ASSERT_PTR_EQUAL(sl_batch_at(&b, 1), same);
  CU_ASSERT_PTR_EQUAL(sl_batch_at(&b, 100), r);
  sl_batch_release(&b);
  sl_arena_destroy(a);
}

int suite_core_record(void) {
  CU_pSuite s = CU_add_suite("core/record", NULL, NULL);
  if (!s || !CU_add_test(s, "set/get/replace", test_set_get_replace) ||
      !CU_add_test(s, "nested path and deep clone", test_nested_path_and_clone) ||
      !CU_add_test(s, "a new record is empty, in reused memory too", test_new_record_is_empty) ||
      !CU_add_test(s, "arena large allocations and reset", test_arena_large_and_reset) ||
      !CU_add_test(s, "arena chunks of odd sizes", test_arena_odd_chunks) ||
      !CU_add_test(s, "batch", test_batch) ||
      !CU_add_test(s, "put_unique equals set, with its index", test_put_unique_matches_set) ||
      !CU_add_test(s, "path lookup with hints", test_path_hinted) ||
      !CU_add_test(s, "extend (enrich)", test_extend) ||
      !CU_add_test(s, "extend in place (enrich)", test_extend_in_place) ||
      !CU_add_test(s, "shapes, and pushing many records at once", test_shapes))
    return -1;
  return 0;
}
