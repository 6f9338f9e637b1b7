/* SPDX-License-Identifier: Apache-2.0 */
/* The schema-registry client and the Avro wire format (decode and encode
 * with registry = URL) against a fake registry in-process: one request per
 * schema id whatever the number of records, unknown ids and undecodable
 * payloads dead-lettered with their bytes, schema evolution both ways, a
 * registry that is down or silent, failures remembered (with a fake clock),
 * basic auth from the URL and from the environment, registration. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec/avro_codec.h"
#include "codec/format.h"
#include "harness.h"
#include "registry_fixture.h"
#include "schema_registry.h"
#include "tls_fixture.h"

extern const sl_operator_desc sl_op_decode;
extern const sl_operator_desc sl_op_encode;

#define FIELDS_V1 "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"temp\",\"type\":\"double\"}"
static const char V1[] = "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":[" FIELDS_V1 "]}";
/* v2 adds a field with a default: readable from v1 data. */
static const char V2[] = "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":[" FIELDS_V1
                         ",{\"name\":\"site\",\"type\":\"string\",\"default\":\"none\"}]}";
/* v3 adds a field without a default: v1 data cannot be read with it. */
static const char V3[] = "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":[" FIELDS_V1
                         ",{\"name\":\"line\",\"type\":\"int\"}]}";
static const char OTHER[] = "{\"type\":\"record\",\"name\":\"Other\",\"fields\":["
                            "{\"name\":\"name\",\"type\":\"string\"}]}";

/* ---- helpers ------------------------------------------------------------ */

static void write_file(char *path, const char *text) {
  strcpy(path, "/tmp/sluice-test-reg-XXXXXX");
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

static sl_config *decode_cfg(const char *url, const char *reader_path) {
  sl_config *c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "format", "avro");
  sl_config_put_string(c, "registry", url);
  if (reader_path)
    sl_config_put_string(c, "schema", reader_path);
  return c;
}

/* A record with raw bytes `len` bytes of `bytes`, copied into t's arena. */
static sl_record *raw_rec(th_op *t, const void *bytes, size_t len, int64_t offset) {
  sl_record *r = sl_record_new(t->arena, 0);
  char *copy = sl_arena_alloc(t->arena, len ? len : 1);
  memcpy(copy, bytes, len);
  sl_record_set_raw(r, copy, len);
  sl_record_set_position(r, 0, "in", 0, offset);
  return r;
}

/* Wire-format bytes of `fields` (id, temp[, site]) written with `schema`
 * under schema id `id`. */
static sl_record *wire_rec(th_op *t, int id, const char *schema, int64_t rid, double temp,
                           const char *site) {
  sl_error err;
  sl_avro_schema *s = sl_avro_schema_parse(schema, strlen(schema), &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_record *r = sl_record_new(t->arena, 3);
  sl_record_set(r, sl_name_cstr("id"), sl_value_int(rid));
  sl_record_set(r, sl_name_cstr("temp"), sl_value_double(temp));
  if (site)
    sl_record_set(r, sl_name_cstr("site"), sl_value_string(site, strlen(site)));
  sl_buf b = SL_BUF_INIT;
  unsigned char hdr[5] = {0, (unsigned)id >> 24, ((unsigned)id >> 16) & 0xff,
                          ((unsigned)id >> 8) & 0xff, (unsigned)id & 0xff};
  sl_buf_append(&b, hdr, 5);
  CU_ASSERT_EQUAL_FATAL(sl_avro_encode(s, r, &b, &err), SL_OK);
  sl_record *out = raw_rec(t, b.data, b.len, rid);
  sl_buf_free(&b);
  sl_avro_schema_free(s);
  return out;
}

static int64_t fake_now;
static int64_t fake_clock(void *ud) {
  (void)ud;
  return fake_now;
}

/* ---- the client --------------------------------------------------------- */

static void test_client_cache_and_not_found(void) {
  fr_server srv;
  sl_error err;
  const char *json = NULL;
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  fr_add(&srv, 1, V1);
  sl_registry_client *c = sl_registry_client_new(srv.url, 5000, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  sl_registry_client_set_clock(c, fake_clock, NULL);
  fake_now = 1000;
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_EQUAL(sl_registry_client_schema(c, 1, &json, &err), SL_OK);
    CU_ASSERT_STRING_EQUAL(json, V1);
  }
  CU_ASSERT_EQUAL(fr_gets(&srv, 1), 1);
  char want[128];
  snprintf(want, sizeof want, "schema id 42 not found in the registry at %s", srv.url);
  CU_ASSERT_EQUAL(sl_registry_client_schema(c, 42, &json, &err), SL_ERR_NOT_FOUND);
  CU_ASSERT_STRING_EQUAL(err.message, want);
  CU_ASSERT_EQUAL(fr_requests(&srv), 2);
  /* Remembered: no request until the retry delay has passed. */
  fake_now += SL_REGISTRY_RETRY_MS - 1;
  CU_ASSERT_EQUAL(sl_registry_client_schema(c, 42, &json, &err), SL_ERR_NOT_FOUND);
  CU_ASSERT_STRING_EQUAL(err.message, want);
  CU_ASSERT_EQUAL(fr_requests(&srv), 2);
  /* Registered meanwhile: found on the next try. */
  fr_add(&srv, 42, OTHER);
  fake_now += 1;
  CU_ASSERT_EQUAL(sl_registry_client_schema(c, 42, &json, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(json, OTHER);
  CU_ASSERT_EQUAL(fr_requests(&srv), 3);
  CU_ASSERT_EQUAL(sl_registry_client_requests(c), 3);
  sl_registry_client_free(c);
  fr_stop(&srv);
}

/* A registry over https with a private CA's certificate: trusted through
 * SLUICE_REGISTRY_CA; against the system CAs the error says TLS refused it. */
static void test_client_https_private_ca(void) {
  fr_server srv;
  sl_error err;
  const char *json = NULL;
  char dir[64], ca[96];
  SSL_CTX *tls = tls_fixture_server(dir, sizeof dir);
  if (!tls) {
    CU_FAIL("cannot make a certificate (openssl(1) missing?)");
    return;
  }
  CU_ASSERT_EQUAL_FATAL(fr_start_tls(&srv, tls), 0);
  fr_add(&srv, 1, V1);
  snprintf(ca, sizeof ca, "%s/cert.pem", dir);
  setenv("SLUICE_REGISTRY_CA", ca, 1);
  sl_registry_client *c = sl_registry_client_new(srv.url, 5000, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(sl_registry_client_schema(c, 1, &json, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(json, V1);
  sl_registry_client_free(c);
  unsetenv("SLUICE_REGISTRY_CA");
  c = sl_registry_client_new(srv.url, 5000, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(sl_registry_client_schema(c, 1, &json, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "TLS: the server's certificate: self-signed"));
  sl_registry_client_free(c);
  CU_ASSERT_EQUAL(fr_gets(&srv, 1), 1); /* the refused handshake never reached it */
  setenv("SLUICE_REGISTRY_CA", "/nonexistent/ca.pem", 1);
  CU_ASSERT_PTR_NULL(sl_registry_client_new(srv.url, 5000, &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "cannot read CA certificates"));
  unsetenv("SLUICE_REGISTRY_CA");
  fr_stop(&srv);
  tls_fixture_cleanup(dir);
}

static void test_client_register(void) {
  fr_server srv;
  sl_error err;
  int32_t id = -1, id2 = -1;
  int sid;
  char got[512];
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  sl_registry_client *c = sl_registry_client_new(srv.url, 5000, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(sl_registry_client_register(c, "tele metry-value", V1, &id, &err), SL_OK);
  CU_ASSERT_EQUAL(id, 100);
  CU_ASSERT_EQUAL(sl_registry_client_register(c, "tele metry-value", V1, &id2, &err), SL_OK);
  CU_ASSERT_EQUAL(id2, 100);
  CU_ASSERT_STRING_EQUAL(srv.last_path, "/subjects/tele%20metry-value/versions");
  CU_ASSERT(fr_registered(&srv, "tele%20metry-value", &sid, got, sizeof got));
  CU_ASSERT_STRING_EQUAL(got, V1);
  srv.answer_status = 409; /* Confluent: incompatible with the subject's history */
  CU_ASSERT_EQUAL(sl_registry_client_register(c, "x", V2, &id, &err), SL_ERR_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HTTP 409"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "configured failure"));
  sl_registry_client_free(c);
  fr_stop(&srv);
}

static void test_client_bad_urls(void) {
  sl_error err;
  CU_ASSERT_PTR_NULL(sl_registry_client_new("ftp://host", 1000, &err));
  CU_ASSERT_EQUAL(err.code, SL_ERR_INVALID);
  CU_ASSERT_PTR_NULL(sl_registry_client_new("", 1000, &err));
  CU_ASSERT_PTR_NULL(sl_registry_client_new("http://u:secret@", 1000, &err));
  CU_ASSERT_PTR_NULL(strstr(err.message, "secret"));
  sl_registry_client *c =
      sl_registry_client_new("https://u:secret@reg.example:8443/sr/", 1000, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_STRING_EQUAL(sl_registry_client_url(c), "https://reg.example:8443/sr");
  sl_registry_client_free(c);
  sl_registry_client_free(NULL);
}

/* ---- decode ------------------------------------------------------------- */

static void test_decode_one_request_per_id(void) {
  enum { N = 40 };
  fr_server srv;
  th_op t;
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  fr_add(&srv, 1, V1);
  fr_add(&srv, 2, V2);
  sl_config *c = decode_cfg(srv.url, NULL);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  CU_ASSERT_EQUAL(fr_requests(&srv), 0); /* nothing fetched before it is needed */
  sl_record *in[N];
  for (int i = 0; i < N; i++)
    in[i] = i % 2 ? wire_rec(&t, 2, V2, i, i * 0.5, "s7") : wire_rec(&t, 1, V1, i, i * 0.5, NULL);
  CU_ASSERT_EQUAL(th_process(&t, in, N / 2), SL_OK);
  CU_ASSERT_EQUAL(th_process(&t, in + N / 2, N / 2), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, N);
  CU_ASSERT_EQUAL(t.dead_count, 0);
  for (int i = 0; i < N; i++) {
    CU_ASSERT_EQUAL(th_out_field(&t, i, "id")->as.i, i);
    CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, i, "temp")->as.d, i * 0.5, 0);
    const sl_value *site = th_out_field(&t, i, "site");
    if (i % 2) {
      CU_ASSERT(site && site->as.str.len == 2 && memcmp(site->as.str.ptr, "s7", 2) == 0);
    } else {
      CU_ASSERT_PTR_NULL(site); /* writer schema v1 has no site */
    }
    size_t rl, in_len;
    const void *in_raw = sl_record_raw(in[i], &in_len);
    CU_ASSERT_PTR_NOT_NULL(sl_record_raw(t.out[i], &rl)); /* original bytes kept */
    CU_ASSERT_EQUAL(rl, in_len); /* all of them: the wire header too */
    CU_ASSERT(in_raw && rl == in_len && memcmp(sl_record_raw(t.out[i], &rl), in_raw, rl) == 0);
    CU_ASSERT_EQUAL(sl_record_offset(t.out[i]), i);
  }
  CU_ASSERT_EQUAL(fr_gets(&srv, 1), 1);
  CU_ASSERT_EQUAL(fr_gets(&srv, 2), 1);
  CU_ASSERT_EQUAL(fr_requests(&srv), 2);
  th_op_free(&t);
  sl_config_destroy(c);
  fr_stop(&srv);
}

static void test_decode_unknown_id_dead_lettered(void) {
  fr_server srv;
  th_op t;
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  fr_add(&srv, 1, V1);
  sl_config *c = decode_cfg(srv.url, NULL);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  sl_record *in[] = {wire_rec(&t, 42, V1, 1, 1.0, NULL), wire_rec(&t, 1, V1, 2, 2.0, NULL),
                     wire_rec(&t, 42, V1, 3, 3.0, NULL)};
  size_t len0;
  const void *bytes0 = sl_record_raw(in[0], &len0);
  CU_ASSERT_EQUAL(th_process(&t, in, 3), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 1);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 2);
  char want[128];
  snprintf(want, sizeof want, "schema id 42 not found in the registry at %s", srv.url);
  for (int i = 0; i < 2; i++) {
    CU_ASSERT_STRING_EQUAL(t.dead[i].reason, "decode");
    CU_ASSERT_STRING_EQUAL(t.dead[i].message, want);
  }
  size_t rl;
  const void *raw = sl_record_raw(t.dead[0].record, &rl);
  CU_ASSERT(rl == len0 && memcmp(raw, bytes0, rl) == 0);
  CU_ASSERT_EQUAL(sl_record_offset(t.dead[1].record), 3);
  CU_ASSERT_EQUAL(fr_requests(&srv), 2); /* id 42 asked once, id 1 once */
  th_op_free(&t);
  sl_config_destroy(c);
  fr_stop(&srv);
}

static void test_decode_not_wire_format(void) {
  fr_server srv;
  th_op t;
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  fr_add(&srv, 1, V1);
  sl_config *c = decode_cfg(srv.url, NULL);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  sl_record *good = wire_rec(&t, 1, V1, 5, 1.0, NULL);
  size_t glen;
  const char *gbytes = sl_record_raw(good, &glen);
  const unsigned char short_hdr[] = {0, 0, 0};
  sl_record *in[] = {raw_rec(&t, "{\"id\":1}", 8, 1), raw_rec(&t, short_hdr, 3, 2),
                     raw_rec(&t, gbytes, glen - 3, 3), raw_rec(&t, "", 0, 4)};
  CU_ASSERT_EQUAL(th_process(&t, in, 4), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 0);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 4);
  CU_ASSERT_STRING_EQUAL(t.dead[0].message,
                         "not Confluent wire format: first byte 0x7b, expected 0");
  CU_ASSERT_STRING_EQUAL(t.dead[1].message,
                         "not Confluent wire format: 3 bytes, but the header (magic byte 0 and a "
                         "4-byte schema id) needs 5");
  CU_ASSERT_NSTRING_EQUAL(t.dead[2].message, "schema id 1: truncated", 22);
  CU_ASSERT_STRING_EQUAL(t.dead[3].message, "not Confluent wire format: the payload is empty");
  size_t rl;
  const char *raw = sl_record_raw(t.dead[0].record, &rl);
  CU_ASSERT(rl == 8 && memcmp(raw, "{\"id\":1}", 8) == 0);
  for (int i = 0; i < 4; i++)
    CU_ASSERT_STRING_EQUAL(t.dead[i].reason, "decode");
  CU_ASSERT_EQUAL(fr_requests(&srv), 1); /* only the truncated datum needed its schema */
  th_op_free(&t);
  sl_config_destroy(c);
  fr_stop(&srv);
}

/* Writer v1 read with reader v2 (new field takes its default) and writer v2
 * read with reader v1 (the extra field is skipped); an incompatible writer
 * is dead-lettered, its schema fetched once. */
static void test_decode_evolution(void) {
  fr_server srv;
  th_op t;
  char v2_path[64], v1_path[64];
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  fr_add(&srv, 1, V1);
  fr_add(&srv, 2, V2);
  fr_add(&srv, 3, V3);
  write_file(v2_path, V2);
  write_file(v1_path, V1);

  sl_config *c = decode_cfg(srv.url, v2_path);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  sl_record *in[] = {wire_rec(&t, 1, V1, 1, 20.5, NULL), wire_rec(&t, 2, V2, 2, 21.5, "s2"),
                     wire_rec(&t, 1, V1, 3, 22.5, NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 3), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 3);
  const char *sites[] = {"none", "s2", "none"};
  for (int i = 0; i < 3; i++) {
    const sl_value *site = th_out_field(&t, i, "site");
    CU_ASSERT_FATAL(site && site->type == SL_TYPE_STRING);
    CU_ASSERT(site->as.str.len == strlen(sites[i]) &&
              memcmp(site->as.str.ptr, sites[i], site->as.str.len) == 0);
    CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, i, "temp")->as.d, 20.5 + i, 0);
  }
  th_op_free(&t);
  sl_config_destroy(c);

  c = decode_cfg(srv.url, v1_path);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  sl_record *in2[] = {wire_rec(&t, 2, V2, 7, 1.5, "s9")};
  CU_ASSERT_EQUAL(th_process(&t, in2, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  CU_ASSERT_EQUAL(th_out_field(&t, 0, "id")->as.i, 7);
  CU_ASSERT_PTR_NULL(th_out_field(&t, 0, "site"));
  th_op_free(&t);
  sl_config_destroy(c);

  /* Reader v3 needs 'line', which writer v1 lacks and v3 gives no default. */
  char v3_path[64];
  write_file(v3_path, V3);
  int before = fr_requests(&srv);
  c = decode_cfg(srv.url, v3_path);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  sl_record *in3[] = {wire_rec(&t, 1, V1, 1, 1.0, NULL), wire_rec(&t, 1, V1, 2, 2.0, NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in3, 2), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 0);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.dead[0].message, "schema id 1 from the registry at"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.dead[0].message, "cannot be read with the reader schema"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.dead[0].message, "line"));
  CU_ASSERT_STRING_EQUAL(t.dead[0].message, t.dead[1].message);
  CU_ASSERT_EQUAL(fr_requests(&srv) - before, 1);
  th_op_free(&t);
  sl_config_destroy(c);
  unlink(v1_path);
  unlink(v2_path);
  unlink(v3_path);
  fr_stop(&srv);
}

static void test_decode_registry_down(void) {
  th_op t;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", fr_closed_port());
  sl_config *c = decode_cfg(url, NULL);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK); /* the registry is not asked */
  sl_record *in[] = {wire_rec(&t, 1, V1, 1, 1.0, NULL), wire_rec(&t, 1, V1, 2, 2.0, NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 2), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 2);
  char want[160];
  snprintf(want, sizeof want, "registry at %s unreachable for schema id 1: connection failed", url);
  CU_ASSERT_STRING_EQUAL(t.dead[0].message, want);
  CU_ASSERT_STRING_EQUAL(t.dead[1].message, want);
  size_t rl;
  CU_ASSERT(sl_record_raw(t.dead[1].record, &rl) != NULL && rl > 5);
  th_op_free(&t);
  sl_config_destroy(c);
}

/* A registry that accepts connections and never answers: the request times
 * out after registry_timeout; the failure is remembered, so the second record
 * with the same id costs no second connection. */
static void test_decode_registry_timeout(void) {
  th_op t;
  char url[64];
  int port;
  int fd = fr_silent_listener(&port);
  CU_ASSERT_FATAL(fd >= 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  sl_config *c = decode_cfg(url, NULL);
  sl_config_put_string(c, "registry_timeout", "200ms");
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  sl_record *in[] = {wire_rec(&t, 1, V1, 1, 1.0, NULL), wire_rec(&t, 1, V1, 2, 2.0, NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 2), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 0);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 2);
  char want[160];
  snprintf(want, sizeof want, "registry at %s unreachable for schema id 1: timed out", url);
  CU_ASSERT_STRING_EQUAL(t.dead[0].message, want);
  CU_ASSERT_STRING_EQUAL(t.dead[1].message, want);
  CU_ASSERT_STRING_EQUAL(t.dead[1].reason, "decode");
  th_op_free(&t);
  /* Connections waiting in the backlog: exactly one was made. */
  int conns = 0, cfd;
  struct timeval tv = {0, 0};
  fd_set rs;
  for (;;) {
    FD_ZERO(&rs);
    FD_SET(fd, &rs);
    if (select(fd + 1, &rs, NULL, NULL, &tv) != 1 || (cfd = accept(fd, NULL, NULL)) < 0)
      break;
    conns++;
    close(cfd);
  }
  CU_ASSERT_EQUAL(conns, 1);
  close(fd);
  sl_config_destroy(c);
}

/* ---- credentials -------------------------------------------------------- */

static void test_basic_auth(void) {
  fr_server srv;
  sl_error err;
  const char *json;
  char url[128], auth[256];
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  fr_add(&srv, 1, V1);
  snprintf(url, sizeof url, "http://alice:s3cr%%40t@127.0.0.1:%d", srv.port);
  sl_registry_client *c = sl_registry_client_new(url, 5000, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(sl_registry_client_schema(c, 1, &json, &err), SL_OK);
  fr_auth(&srv, auth, sizeof auth);
  CU_ASSERT_STRING_EQUAL(auth, "Basic YWxpY2U6czNjckB0"); /* alice:s3cr@t */
  CU_ASSERT_EQUAL(sl_registry_client_schema(c, 9, &json, &err), SL_ERR_NOT_FOUND);
  CU_ASSERT_PTR_NULL(strstr(err.message, "s3cr"));
  CU_ASSERT_PTR_NULL(strstr(err.message, "alice"));
  CU_ASSERT_STRING_EQUAL(sl_registry_client_url(c), srv.url);
  sl_registry_client_free(c);

  setenv("SLUICE_REGISTRY_USER", "bob", 1);
  setenv("SLUICE_REGISTRY_PASSWORD", "pw", 1);
  c = sl_registry_client_new(srv.url, 5000, &err);
  unsetenv("SLUICE_REGISTRY_USER");
  unsetenv("SLUICE_REGISTRY_PASSWORD");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(sl_registry_client_schema(c, 1, &json, &err), SL_OK);
  fr_auth(&srv, auth, sizeof auth);
  CU_ASSERT_STRING_EQUAL(auth, "Basic Ym9iOnB3");
  sl_registry_client_free(c);

  c = sl_registry_client_new(srv.url, 5000, &err); /* no credentials: no header */
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(sl_registry_client_schema(c, 1, &json, &err), SL_OK);
  fr_auth(&srv, auth, sizeof auth);
  CU_ASSERT_STRING_EQUAL(auth, "");
  srv.answer_status = 401;
  CU_ASSERT_EQUAL(sl_registry_client_schema(c, 5, &json, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HTTP 401"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "SLUICE_REGISTRY_USER"));
  sl_registry_client_free(c);
  fr_stop(&srv);
}

/* ---- encode ------------------------------------------------------------- */

static void test_encode_registers_and_round_trips(void) {
  fr_server srv;
  th_op enc, dec;
  char path[64];
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  write_file(path, V2);
  sl_config *c = sl_config_new("p.lua", 4);
  sl_config_put_string(c, "format", "avro");
  sl_config_put_string(c, "schema", path);
  sl_config_put_string(c, "registry", srv.url);
  sl_config_put_string(c, "subject", "telemetry-value");
  CU_ASSERT_EQUAL_FATAL(th_op_init(&enc, &sl_op_encode, c), SL_OK);
  CU_ASSERT_EQUAL(fr_requests(&srv), 0); /* `sluice check` inits operators: no side effect */
  int id = -1;
  char got[512];
  sl_record *r = th_rec(&enc, "id", sl_value_int(5), "temp", sl_value_double(9.25), "site",
                        th_str(&enc, "s5"), NULL);
  sl_record *bad = th_rec(&enc, "id", th_str(&enc, "not a long"), NULL);
  sl_record *in[] = {r, bad, r};
  CU_ASSERT_EQUAL(th_process(&enc, in, 3), SL_OK);
  CU_ASSERT_EQUAL_FATAL(enc.out_count, 2);
  CU_ASSERT_EQUAL(enc.dead_count, 1);
  CU_ASSERT_EQUAL(fr_requests(&srv), 1); /* registered once, at the first record */
  CU_ASSERT_FATAL(fr_registered(&srv, "telemetry-value", &id, got, sizeof got));
  CU_ASSERT_EQUAL(id, 100);
  const sl_value *v = th_out_field(&enc, 0, "value");
  CU_ASSERT_FATAL(v && v->type == SL_TYPE_BYTES && v->as.str.len > 5);
  const unsigned char *b = (const unsigned char *)v->as.str.ptr;
  CU_ASSERT(b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 100);

  sl_config *dc = decode_cfg(srv.url, NULL);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&dec, &sl_op_decode, dc), SL_OK);
  sl_record *w = raw_rec(&dec, v->as.str.ptr, v->as.str.len, 1);
  CU_ASSERT_EQUAL(th_process(&dec, &w, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(dec.out_count, 1);
  CU_ASSERT_EQUAL(th_out_field(&dec, 0, "id")->as.i, 5);
  CU_ASSERT_DOUBLE_EQUAL(th_out_field(&dec, 0, "temp")->as.d, 9.25, 0);
  CU_ASSERT_EQUAL(th_out_field(&dec, 0, "site")->as.str.len, 2);
  th_op_free(&dec);
  sl_config_destroy(dc);
  th_op_free(&enc);

  /* A refused registration dead-letters the records (reason "encode"), and
   * is remembered: one request for the whole batch. */
  sl_config_put_string(c, "subject", "other-value");
  srv.answer_status = 409;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&enc, &sl_op_encode, c), SL_OK);
  in[0] = in[1] = in[2] = th_rec(&enc, "id", sl_value_int(6), "temp", sl_value_double(1), NULL);
  CU_ASSERT_EQUAL(th_process(&enc, in, 3), SL_OK);
  CU_ASSERT_EQUAL(enc.out_count, 0);
  CU_ASSERT_EQUAL_FATAL(enc.dead_count, 3);
  CU_ASSERT_STRING_EQUAL(enc.dead[0].reason, "encode");
  CU_ASSERT_PTR_NOT_NULL(strstr(enc.dead[0].message, "subject 'other-value'"));
  CU_ASSERT_PTR_NOT_NULL(strstr(enc.dead[0].message, "HTTP 409"));
  CU_ASSERT_STRING_EQUAL(enc.dead[2].message, enc.dead[0].message);
  CU_ASSERT_EQUAL(fr_requests(&srv), 3);
  th_op_free(&enc);
  srv.answer_status = 0;

  /* registry without subject: refused at init, with the fix in the message. */
  sl_config *nc = sl_config_new("p.lua", 5);
  sl_config_put_string(nc, "format", "avro");
  sl_config_put_string(nc, "schema", path);
  sl_config_put_string(nc, "registry", srv.url);
  CU_ASSERT_EQUAL(th_op_init(&enc, &sl_op_encode, nc), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(enc.err.message, "subject"));
  th_op_free(&enc);
  sl_config_destroy(nc);
  sl_config_destroy(c);
  unlink(path);
  fr_stop(&srv);
}

static void test_bad_config(void) {
  th_op t;
  sl_config *c = decode_cfg("redis://127.0.0.1", NULL);
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_decode, c), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "http://"));
  th_op_free(&t);
  sl_config_put_string(c, "registry", "http://127.0.0.1:1");
  sl_config_put_string(c, "registry_timeout", "0ms");
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_decode, c), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "registry_timeout"));
  th_op_free(&t);
  sl_config_destroy(c);
  /* No schema and no registry: still the old message. */
  c = sl_config_new("p.lua", 1);
  sl_config_put_string(c, "format", "avro");
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_decode, c), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "registry = URL"));
  th_op_free(&t);
  sl_config_destroy(c);
}

/* Issue 14 item 6: every record with an unknown 4-byte schema id cost a blocking registry
 * GET (up to registry_timeout) and an entry never freed. Lookups of unknown ids are now a
 * token bucket (registry_lookups_per_minute) and the entries are bounded (registry_max_ids);
 * past them the record fails at once, with no request, reason schema_lookup_limit. */
static void test_bug_schema_id_flood(void) {
  enum { FLOOD = 500 };
  fr_server srv;
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  fr_add(&srv, 1, V1);
  sl_config *c = decode_cfg(srv.url, NULL);
  sl_config_put_number(c, "registry_max_ids", 20);
  sl_error err;
  sl_format *f = sl_format_open(c, "json", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  sl_registry_client_set_clock(sl_format_registry(f), fake_clock, NULL);
  fake_now = 5000;
  sl_registry_client_set_limits(sl_format_registry(f), 60, 20, NULL); /* refill from fake_now */
  th_op t;
  sl_config *tc = decode_cfg(srv.url, NULL);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, tc), SL_OK);
  int limited = 0, not_found = 0;
  for (int i = 0; i < FLOOD; i++) {
    sl_record *in = wire_rec(&t, 1000 + i, V1, i, 1.0, NULL), *out = NULL;
    size_t len;
    const void *raw = sl_record_raw(in, &len);
    const char *reason = NULL;
    int rc = sl_format_decode(f, raw, len, t.arena, &out, &reason, &err);
    if (rc == SL_ERR_LIMIT) {
      limited++;
      CU_ASSERT_STRING_EQUAL(reason, "schema_lookup_limit");
    } else {
      CU_ASSERT_EQUAL(rc, SL_ERR_NOT_FOUND);
      CU_ASSERT_STRING_EQUAL(reason, "decode");
      not_found++;
    }
  }
  CU_ASSERT_EQUAL(not_found, 60); /* the bucket holds a minute's lookups */
  CU_ASSERT_EQUAL(limited, FLOOD - 60);
  CU_ASSERT_EQUAL(fr_requests(&srv), 60);
  char want[400];
  snprintf(want, sizeof want,
           "schema id %d was not looked up in the registry at %s: more than 60 lookups of "
           "unknown schema ids per minute (registry_lookups_per_minute)",
           1000 + FLOOD - 1, srv.url);
  CU_ASSERT_STRING_EQUAL(err.message, want);
  /* A second later one more lookup is allowed: the known id 1 decodes. */
  fake_now += 1000;
  sl_record *in = wire_rec(&t, 1, V1, 7, 2.5, NULL), *out = NULL;
  size_t len;
  const void *raw = sl_record_raw(in, &len);
  CU_ASSERT_EQUAL(sl_format_decode(f, raw, len, t.arena, &out, NULL, &err), SL_OK);
  CU_ASSERT_EQUAL(fr_requests(&srv), 61);
  /* The cache never grew past registry_max_ids: id 1 is one of 20 entries, the rest are
   * the newest failures; and known schemas cost no lookup. */
  fake_now += 60000;
  for (int i = 0; i < 100; i++)
    CU_ASSERT_EQUAL(sl_format_decode(f, raw, len, t.arena, &out, NULL, &err), SL_OK);
  CU_ASSERT_EQUAL(fr_requests(&srv), 61);
  CU_ASSERT_EQUAL(sl_registry_client_entries(sl_format_registry(f)), 20);

  /* Through the decode operator: the same reason in the dead letters, at most one lookup
   * per minute here. */
  sl_config_put_number(tc, "registry_lookups_per_minute", 1);
  th_op_free(&t);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, tc), SL_OK);
  int before = fr_requests(&srv);
  sl_record *recs[] = {wire_rec(&t, 77, V1, 1, 1.0, NULL), wire_rec(&t, 78, V1, 2, 1.0, NULL),
                       wire_rec(&t, 79, V1, 3, 1.0, NULL)};
  CU_ASSERT_EQUAL(th_process(&t, recs, 3), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 3);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "decode");
  CU_ASSERT_STRING_EQUAL(t.dead[1].reason, "schema_lookup_limit");
  CU_ASSERT_STRING_EQUAL(t.dead[2].reason, "schema_lookup_limit");
  CU_ASSERT_EQUAL(fr_requests(&srv), before + 1);
  th_op_free(&t);
  sl_format_free(f);
  sl_config_destroy(tc);
  sl_config_destroy(c);
  fr_stop(&srv);
}

static void test_limits_config(void) {
  sl_config *c = decode_cfg("http://127.0.0.1:1", NULL);
  sl_config_put_number(c, "registry_lookups_per_minute", 0);
  sl_error err;
  CU_ASSERT_PTR_NULL(sl_format_open(c, "json", &err));
  CU_ASSERT_STRING_EQUAL(err.message,
                         "registry_lookups_per_minute must be between 1 and 60000, not 0");
  sl_config_put_number(c, "registry_lookups_per_minute", 10);
  sl_config_put_number(c, "registry_max_ids", 2000000);
  CU_ASSERT_PTR_NULL(sl_format_open(c, "json", &err));
  CU_ASSERT_STRING_EQUAL(err.message, "registry_max_ids must be between 1 and 1000000, not 2000000");
  sl_config_destroy(c);
}

int suite_connectors_schema_registry(void) {
  CU_pSuite s = CU_add_suite("connectors_schema_registry", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "client cache and not found", test_client_cache_and_not_found);
  CU_add_test(s, "client register", test_client_register);
  CU_add_test(s, "client bad urls", test_client_bad_urls);
  CU_add_test(s, "decode one request per id", test_decode_one_request_per_id);
  CU_add_test(s, "decode unknown id dead-lettered", test_decode_unknown_id_dead_lettered);
  CU_add_test(s, "decode not wire format", test_decode_not_wire_format);
  CU_add_test(s, "decode evolution", test_decode_evolution);
  CU_add_test(s, "decode registry down", test_decode_registry_down);
  CU_add_test(s, "decode registry timeout", test_decode_registry_timeout);
  CU_add_test(s, "basic auth", test_basic_auth);
  CU_add_test(s, "https with a private CA", test_client_https_private_ca);
  CU_add_test(s, "encode registers and round trips", test_encode_registers_and_round_trips);
  CU_add_test(s, "bad config", test_bad_config);
  CU_add_test(s, "bug: schema-id flood", test_bug_schema_id_flood);
  CU_add_test(s, "flood limits: bad config", test_limits_config);
  return 0;
}
