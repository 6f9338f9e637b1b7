/* SPDX-License-Identifier: Apache-2.0 */
/* POST coap://.../ingest/{topic} (core/gateway/gateway_coap.c) against a real Kafka
 * protocol (the embedded broker, or SLUICE_TEST_KAFKA_BROKERS), with CoAP
 * datagrams built byte by byte so that a test can send the very same
 * datagram again: an empty ACK first and 2.04 only once Kafka acknowledged;
 * a retransmitted message id produces nothing more, whether it comes while
 * Kafka is still busy or after the answer; 4.00/4.01/4.04/4.13 store
 * nothing; 5.03 with Max-Age when Kafka refuses. Reads time out (10 s), they
 * never sleep. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gateway_fixture.h"
#include "kafka.h"

#define RD_KAFKAP_PRODUCE 0
#define READING(ts, temp) "{\"ts\":" #ts ",\"temperature\":" #temp ",\"vibration\":0.5}"
#define CON 0
#define NON 1
#define ACK 2
#define CODE(c, d) ((c) << 5 | (d))

typedef struct msg {
  int type, code, mid, max_age;
  uint8_t token[8];
  size_t tkl;
  char payload[1024];
} msg;

/* One CoAP option (delta/length with the 13/269 extensions). */
static size_t put_option(uint8_t *p, int *last, int number, const void *v, size_t len) {
  size_t n = 0;
  int delta = number - *last;
  *last = number;
  uint8_t *head = &p[n++];
  int dn = delta < 13 ? delta : delta < 269 ? 13 : 14;
  int ln = len < 13 ? (int)len : len < 269 ? 13 : 14;
  *head = (uint8_t)(dn << 4 | ln);
  if (dn == 13)
    p[n++] = (uint8_t)(delta - 13);
  if (dn == 14) {
    p[n++] = (uint8_t)((delta - 269) >> 8);
    p[n++] = (uint8_t)(delta - 269);
  }
  if (ln == 13)
    p[n++] = (uint8_t)(len - 13);
  if (ln == 14) {
    p[n++] = (uint8_t)((len - 269) >> 8);
    p[n++] = (uint8_t)(len - 269);
  }
  memcpy(p + n, v, len);
  return n + len;
}

/* A POST to /ingest/TOPIC[?key=KEY] with a 4-byte token derived from `mid`;
 * `block1` adds a Block1 option (a block-wise request). */
static size_t post(uint8_t *buf, int type, int mid, const char *topic, const char *key,
                   const char *body, int block1) {
  size_t n = 0;
  int last = 0;
  buf[n++] = (uint8_t)(1 << 6 | type << 4 | 4);
  buf[n++] = CODE(0, 2);
  buf[n++] = (uint8_t)(mid >> 8);
  buf[n++] = (uint8_t)mid;
  uint8_t token[4] = {0xbe, 0xef, (uint8_t)(mid >> 8), (uint8_t)mid};
  memcpy(buf + n, token, 4);
  n += 4;
  n += put_option(buf + n, &last, 11, "ingest", 6);
  n += put_option(buf + n, &last, 11, topic, strlen(topic));
  if (key) {
    char q[128];
    snprintf(q, sizeof q, "key=%s", key);
    n += put_option(buf + n, &last, 15, q, strlen(q));
  }
  if (block1) {
    uint8_t b = 0x0a; /* block 0, more follow, 64 bytes */
    n += put_option(buf + n, &last, 27, &b, 1);
  }
  buf[n++] = 0xff;
  memcpy(buf + n, body, strlen(body));
  return n + strlen(body);
}

static int parse(const uint8_t *p, size_t len, msg *m) {
  memset(m, 0, sizeof *m);
  if (len < 4 || p[0] >> 6 != 1)
    return -1;
  m->type = p[0] >> 4 & 3;
  m->tkl = p[0] & 15;
  m->code = p[1];
  m->mid = p[2] << 8 | p[3];
  size_t i = 4;
  memcpy(m->token, p + i, m->tkl);
  i += m->tkl;
  int number = 0;
  while (i < len && p[i] != 0xff) {
    int delta = p[i] >> 4, l = p[i] & 15;
    i++;
    if (delta == 13)
      delta = p[i++] + 13;
    else if (delta == 14)
      delta = (p[i] << 8 | p[i + 1]) + 269, i += 2;
    if (l == 13)
      l = p[i++] + 13;
    else if (l == 14)
      l = (p[i] << 8 | p[i + 1]) + 269, i += 2;
    number += delta;
    if (number == 14) /* Max-Age */
      for (int k = 0; k < l; k++)
        m->max_age = m->max_age << 8 | p[i + k];
    i += (size_t)l;
  }
  if (i < len && p[i] == 0xff)
    snprintf(m->payload, sizeof m->payload, "%.*s", (int)(len - i - 1), (const char *)p + i + 1);
  return 0;
}

static int client(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct timeval tv = {10, 0}; /* a lost answer fails the test, not the suite */
  if (fd >= 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void send_to(gf_gateway *g, int fd, const uint8_t *buf, size_t len) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(sl_gw_coap_port(g->coap))};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CU_ASSERT_EQUAL(sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof sa), (ssize_t)len);
}

static int receive(int fd, msg *m) {
  uint8_t buf[2048];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  return n > 0 ? parse(buf, (size_t)n, m) : -1;
}

/* The answer to a confirmable request: the separate CON response, ACKed;
 * `acks` counts the empty ACKs seen before it. A piggybacked answer (an
 * ACK with a code) is returned as it is. */
static int answer_of(gf_gateway *g, int fd, msg *m, int *acks) {
  for (int i = 0; i < 10; i++) {
    if (receive(fd, m) != 0)
      return -1;
    if (m->type == ACK && m->code == 0) {
      (*acks)++;
      continue;
    }
    if (m->type == CON) {
      uint8_t ack[4] = {1 << 6 | ACK << 4, 0, (uint8_t)(m->mid >> 8), (uint8_t)m->mid};
      send_to(g, fd, ack, 4);
    }
    return 0;
  }
  return -1;
}

/* One request, its answer; the answer's code. */
static int roundtrip(gf_gateway *g, int type, int mid, const char *topic, const char *key,
                     const char *body, msg *m) {
  uint8_t buf[4096];
  int fd = client(), acks = 0;
  CU_ASSERT_FATAL(fd >= 0);
  send_to(g, fd, buf, post(buf, type, mid, topic, key, body, 0));
  int rc = type == NON ? receive(fd, m) : answer_of(g, fd, m, &acks);
  close(fd);
  return rc == 0 ? m->code : -1;
}

static int start(gf_gateway *g, const char *more) {
  char opts[256];
  snprintf(opts, sizeof opts, "coap = { listen = '127.0.0.1:0' }%s", more ? more : "");
  return gf_start(g, opts, 1);
}

/* Seen once, keyed by the device, with its field set. */
static void test_accepted_after_kafka(void) {
  gf_gateway g;
  msg m;
  CU_ASSERT_EQUAL_FATAL(start(&g, NULL), 0);
  uint8_t buf[512];
  int fd = client(), acks = 0;
  send_to(&g, fd, buf,
          post(buf, CON, 0x1001, g.topic, GF_KEY1, "[" READING(1, 1) "," READING(2, 2) "]", 0));
  CU_ASSERT_EQUAL(answer_of(&g, fd, &m, &acks), 0);
  close(fd);
  CU_ASSERT_EQUAL(acks, 1);     /* the empty ACK came first */
  CU_ASSERT_EQUAL(m.type, CON); /* then the separate response */
  CU_ASSERT_EQUAL(m.code, CODE(2, 4));
  CU_ASSERT_EQUAL(memcmp(m.token, "\xbe\xef\x10\x01", 4), 0);
  CU_ASSERT_STRING_EQUAL(m.payload, "{\"accepted\":2}");
  /* A non-confirmable request gets a non-confirmable answer, also after Kafka. */
  CU_ASSERT_EQUAL(roundtrip(&g, NON, 0x1002, g.topic, GF_KEY2, READING(3, 3), &m), CODE(2, 4));
  CU_ASSERT_EQUAL(m.type, NON);
  gf_message out[8];
  size_t n = gf_consume(g.topic, 3, out, 8);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  for (size_t i = 0; i < n; i++) {
    int dev2 = strstr(out[i].value, "\"ts\":3") != NULL;
    CU_ASSERT_STRING_EQUAL(out[i].key, dev2 ? "m0002" : "m0001");
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out[i].value, dev2 ? "\"machine_id\":\"m0002\"" : "\"machine_id\":\"m0001\""));
  }
  gf_stop(&g);
}

/* The same datagram three times: twice at once (libcoap's async state or
 * the dedup table answers the second), once after the answer (the dedup
 * table answers with the same 2.04, piggybacked). One record in Kafka. */
static void test_retransmission_produces_once(void) {
  gf_gateway g;
  msg m;
  gf_reply r;
  CU_ASSERT_EQUAL_FATAL(start(&g, NULL), 0);
  uint8_t buf[512];
  size_t len = post(buf, CON, 0x2001, g.topic, GF_KEY1, READING(7, 7), 0);
  int fd = client();
  send_to(&g, fd, buf, len);
  send_to(&g, fd, buf, len);
  /* Three datagrams come back: one ACK per copy (empty while Kafka is busy,
   * 2.04 from the dedup table if the copy came after the answer), and the
   * separate 2.04. */
  int separate = 0, acked = 0;
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_EQUAL_FATAL(receive(fd, &m), 0);
    if (m.type == CON) {
      uint8_t ack[4] = {1 << 6 | ACK << 4, 0, (uint8_t)(m.mid >> 8), (uint8_t)m.mid};
      send_to(&g, fd, ack, 4);
      separate++;
      CU_ASSERT_EQUAL(m.code, CODE(2, 4));
      CU_ASSERT_STRING_EQUAL(m.payload, "{\"accepted\":1}");
    } else {
      acked += m.type == ACK && m.mid == 0x2001 && (m.code == 0 || m.code == CODE(2, 4));
    }
  }
  CU_ASSERT_EQUAL(separate, 1);
  CU_ASSERT_EQUAL(acked, 2);
  send_to(&g, fd, buf, len); /* long after the answer */
  CU_ASSERT_EQUAL_FATAL(receive(fd, &m), 0);
  CU_ASSERT_EQUAL(m.type, ACK);
  CU_ASSERT_EQUAL(m.mid, 0x2001);
  CU_ASSERT_EQUAL(m.code, CODE(2, 4));
  CU_ASSERT_STRING_EQUAL(m.payload, "{\"accepted\":1}");
  close(fd);
  /* Another request after it, so that consuming two proves nothing else came. */
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x2002, g.topic, GF_KEY1, READING(8, 8), &m), CODE(2, 4));
  gf_message out[8];
  size_t n = gf_consume(g.topic, 2, out, 8);
  CU_ASSERT_EQUAL(n, 2);
  int seven = 0;
  for (size_t i = 0; i < n; i++)
    seven += strstr(out[i].value, "\"ts\":7") != NULL;
  CU_ASSERT_EQUAL(seven, 1);
  CU_ASSERT_EQUAL(gf_get(&g, "/metrics", &r), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(
      r.body, "sluice_gateway_coap_duplicates_total{gateway=\"test-gw\",result=\"answered\"}"));
  char want[300];
  snprintf(
      want, sizeof want,
      "sluice_gateway_coap_records_total{gateway=\"test-gw\",result=\"accepted\",topic=\"%s\"} 2",
      g.topic);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, want));
  gf_stop(&g);
}

static void test_refusals(void) {
  gf_gateway g;
  msg m;
  gf_reply r;
  CU_ASSERT_EQUAL_FATAL(start(&g, NULL), 0);
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x3001, g.topic, NULL, READING(1, 1), &m), CODE(4, 1));
  CU_ASSERT_EQUAL(m.type, ACK); /* piggybacked: nothing to wait for */
  CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "missing key"));
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x3002, g.topic, "not-a-key", READING(1, 1), &m), CODE(4, 1));
  CU_ASSERT_STRING_EQUAL(m.payload, "unknown API key");
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x3003, "no-such-topic", GF_KEY1, READING(1, 1), &m),
                  CODE(4, 4));
  CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "no such topic"));
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x3009, "../x", GF_KEY1, READING(1, 1), &m), CODE(4, 4));
  CU_ASSERT_EQUAL(
      roundtrip(&g, CON, 0x3004, g.topic, GF_KEY1, "[" READING(1, 1) ",{\"ts\":4}]", &m),
      CODE(4, 0));
  CU_ASSERT_PTR_NOT_NULL(
      strstr(m.payload, "\"records\":[{\"index\":1,\"error\":\"field 'temperature' is required"));
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x3005, g.topic, GF_KEY1, "not json", &m), CODE(4, 0));
  CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "JSON object or an array of objects"));
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x3006, g.topic, GF_KEY1,
                            "{\"machine_id\":\"m0002\",\"ts\":1,\"temperature\":1,\"vibration\":1}",
                            &m),
                  CODE(4, 0));
  CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "but the authenticated device is 'm0001'"));
  uint8_t buf[512];
  int fd = client();
  send_to(&g, fd, buf, post(buf, CON, 0x3007, g.topic, GF_KEY1, READING(1, 1), 1));
  CU_ASSERT_EQUAL(receive(fd, &m), 0);
  close(fd);
  CU_ASSERT_EQUAL(m.code, CODE(4, 13));
  CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "block-wise"));
  /* Nothing above was stored: the only record is this one. */
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x3008, g.topic, GF_KEY1, READING(9, 9), &m), CODE(2, 4));
  gf_message out[4];
  size_t n = gf_consume(g.topic, 1, out, 4);
  CU_ASSERT_EQUAL(n, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(out[0].value, "\"ts\":9"));
  CU_ASSERT_EQUAL(gf_get(&g, "/metrics", &r), 0);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(r.body, "sluice_gateway_coap_requests_total{code=\"4.01\",gateway=\"test-gw\"} 2"));
  CU_ASSERT_PTR_NOT_NULL(
      strstr(r.body, "sluice_gateway_coap_requests_total{code=\"4.00\",gateway=\"test-gw\"} 3"));
  CU_ASSERT_PTR_NOT_NULL(
      strstr(r.body, "sluice_gateway_coap_requests_total{code=\"4.04\",gateway=\"test-gw\"} 2"));
  gf_stop(&g);
}

/* A datagram of libcoap's full receive buffer (1472 bytes) is taken; a
 * longer one arrives cut short, so its JSON is incomplete: 4.00, never a
 * truncated batch stored. */
static void test_datagram_size(void) {
  gf_gateway g;
  msg m;
  CU_ASSERT_EQUAL_FATAL(start(&g, NULL), 0);
  char body[2048];
  uint8_t buf[4096];
  const char *head = "[" READING(1, 1);
  size_t fixed = post(buf, CON, 1, g.topic, GF_KEY1, "", 0); /* the datagram without a payload */
  for (int extra = 0; extra < 2; extra++) {
    size_t want = 1472 + (size_t)extra * 200 - fixed; /* the payload that makes it that long */
    size_t n = (size_t)snprintf(body, sizeof body, "%s", head);
    while (n + strlen("," READING(1, 1) "]") <= want)
      n += (size_t)snprintf(body + n, sizeof body - n, "," READING(1, 1));
    while (n + 1 < want) /* pad with JSON whitespace to the exact size */
      body[n++] = ' ';
    body[n++] = ']';
    body[n] = '\0';
    CU_ASSERT_EQUAL(post(buf, CON, 0x6001 + extra, g.topic, GF_KEY1, body, 0),
                    1472 + (size_t)extra * 200);
    CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x6001 + extra, g.topic, GF_KEY1, body, &m),
                    extra ? CODE(4, 0) : CODE(2, 4));
  }
  CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "not a well-formed JSON"));
  gf_stop(&g);
}

/* Kafka refuses the record: never 2.04; 5.03 tells the device when to retry. */
static void test_kafka_failure_503(void) {
  gf_gateway g;
  msg m;
  CU_ASSERT_EQUAL_FATAL(start(&g, NULL), 0);
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_push_request_errors(mc, RD_KAFKAP_PRODUCE, 1,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x4001, g.topic, GF_KEY1, READING(1, 1), &m), CODE(5, 3));
  CU_ASSERT_EQUAL(m.type, CON); /* after the empty ACK, like a success */
  CU_ASSERT_EQUAL(m.max_age, 5);
  CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "Kafka did not acknowledge 1 of 1 records"));
  gf_stop(&g);
}

/* A slow Kafka holds one request's records: the next one past
 * max_inflight gets 5.03 with Max-Age 1 at once, the first still 2.04. */
static void test_overload_503(void) {
  gf_gateway g;
  msg m;
  CU_ASSERT_EQUAL_FATAL(start(&g, ", max_inflight = 1"), 0);
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x5001, g.topic, GF_KEY1, READING(0, 1), &m), CODE(2, 4));
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_broker_set_rtt(mc, -1, 1000);
  uint8_t buf[512];
  int slow = client(), acks = 0;
  send_to(&g, slow, buf, post(buf, CON, 0x5002, g.topic, GF_KEY1, READING(1, 1), 0));
  CU_ASSERT_EQUAL_FATAL(receive(slow, &m), 0); /* the empty ACK: its record is in flight */
  CU_ASSERT_EQUAL(m.type == ACK && m.code == 0, 1);
  CU_ASSERT_EQUAL(roundtrip(&g, CON, 0x5003, g.topic, GF_KEY2, READING(2, 1), &m), CODE(5, 3));
  CU_ASSERT_EQUAL(m.max_age, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "overloaded"));
  CU_ASSERT_EQUAL(answer_of(&g, slow, &m, &acks), 0);
  CU_ASSERT_EQUAL(m.code, CODE(2, 4));
  close(slow);
  rd_kafka_mock_broker_set_rtt(mc, -1, 0);
  gf_stop(&g);
}

int suite_core_gateway_coap(void) {
  CU_pSuite s = CU_add_suite("core_gateway_coap", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "2.04 after Kafka acknowledged, keyed by the device", test_accepted_after_kafka);
  CU_add_test(s, "a retransmitted message id produces once", test_retransmission_produces_once);
  CU_add_test(s, "4.00, 4.01, 4.04, 4.13 store nothing", test_refusals);
  CU_add_test(s, "datagrams up to 1472 bytes", test_datagram_size);
  if (gf_is_embedded()) {
    CU_add_test(s, "Kafka refuses: 5.03 with Max-Age", test_kafka_failure_503);
    CU_add_test(s, "overload: 5.03 with Max-Age 1", test_overload_503);
  }
  return 0;
}
