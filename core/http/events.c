/* SPDX-License-Identifier: Apache-2.0 */
/* The SSE event bus: one reference-counted copy per published event, shared
 * by every subscription's bounded ring. One mutex guards the subscriber list
 * and the rings; the publisher does O(subscribers) pointer pushes under it and
 * never performs I/O, so a slow client can never slow the pipeline. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http/events.h"
#include "sluice/error.h"

typedef struct event {
  _Atomic int refs;
  uint64_t id;
  size_t len;
  char type[16];
  char json[]; /* NUL-terminated */
} event;

struct sl_event_sub {
  sl_event_sub *next, *prev;
  event **ring;
  size_t cap, head, count; /* ring of `cap` slots */
  size_t bytes, max_bytes;
  int overflowed;
  sl_events_notify_fn notify;
  void *ud;
};

static pthread_mutex_t bus_mu = PTHREAD_MUTEX_INITIALIZER;
static sl_event_sub *subs;
static size_t nsubs;
static uint64_t next_id = 1;
static uint64_t n_published, n_overflows;

static void event_release(event *e) {
  if (e && atomic_fetch_sub(&e->refs, 1) == 1)
    free(e);
}

static void ring_clear(sl_event_sub *s) {
  while (s->count) {
    event_release(s->ring[s->head]);
    s->head = (s->head + 1) % s->cap;
    s->count--;
  }
  s->bytes = 0;
}

int sl_events_publish_n(const char *type, const char *json, size_t len) {
  if (!type || !json || strlen(type) >= sizeof ((event *)0)->type || strpbrk(type, "\r\n"))
    return SL_ERR_INVALID;
  event *e = malloc(sizeof *e + len + 1);
  if (!e)
    return SL_ERR_NOMEM;
  atomic_init(&e->refs, 1); /* the publisher's reference, dropped below */
  strcpy(e->type, type);
  memcpy(e->json, json, len);
  e->json[len] = '\0';
  e->len = len;
  pthread_mutex_lock(&bus_mu);
  e->id = next_id++;
  n_published++;
  for (sl_event_sub *s = subs; s; s = s->next) {
    if (s->overflowed)
      continue;
    if (s->count == s->cap || s->bytes + len > s->max_bytes) {
      s->overflowed = 1;
      n_overflows++;
      ring_clear(s);
    } else {
      atomic_fetch_add(&e->refs, 1);
      s->ring[(s->head + s->count++) % s->cap] = e;
      s->bytes += len;
    }
    if (s->notify)
      s->notify(s->ud);
  }
  pthread_mutex_unlock(&bus_mu);
  event_release(e);
  return SL_OK;
}

int sl_events_publish(const char *type, const char *json) {
  return sl_events_publish_n(type, json, json ? strlen(json) : 0);
}

sl_event_sub *sl_events_subscribe(size_t max_events, size_t max_bytes, sl_events_notify_fn notify,
                                  void *ud) {
  sl_event_sub *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->cap = max_events ? max_events : 256;
  s->max_bytes = max_bytes ? max_bytes : 1u << 20;
  s->ring = calloc(s->cap, sizeof *s->ring);
  if (!s->ring) {
    free(s);
    return NULL;
  }
  s->notify = notify;
  s->ud = ud;
  pthread_mutex_lock(&bus_mu);
  s->next = subs;
  if (subs)
    subs->prev = s;
  subs = s;
  nsubs++;
  pthread_mutex_unlock(&bus_mu);
  return s;
}

int sl_events_next(sl_event_sub *s, sl_event_msg *msg) {
  int rc = 0;
  pthread_mutex_lock(&bus_mu);
  if (s->overflowed) {
    rc = -1;
  } else if (s->count) {
    event *e = s->ring[s->head];
    s->head = (s->head + 1) % s->cap;
    s->count--;
    s->bytes -= e->len;
    msg->id = e->id;
    msg->type = e->type;
    msg->json = e->json;
    msg->json_len = e->len;
    msg->ref_ = e; /* the ring's reference moves to the message */
    rc = 1;
  }
  pthread_mutex_unlock(&bus_mu);
  return rc;
}

void sl_events_msg_release(sl_event_msg *msg) {
  if (!msg)
    return;
  event_release(msg->ref_);
  msg->ref_ = NULL;
}

void sl_events_unsubscribe(sl_event_sub *s) {
  if (!s)
    return;
  pthread_mutex_lock(&bus_mu);
  if (s->prev)
    s->prev->next = s->next;
  else
    subs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  nsubs--;
  ring_clear(s);
  pthread_mutex_unlock(&bus_mu);
  free(s->ring);
  free(s);
}

uint64_t sl_events_published_total(void) {
  pthread_mutex_lock(&bus_mu);
  uint64_t n = n_published;
  pthread_mutex_unlock(&bus_mu);
  return n;
}

uint64_t sl_events_overflows_total(void) {
  pthread_mutex_lock(&bus_mu);
  uint64_t n = n_overflows;
  pthread_mutex_unlock(&bus_mu);
  return n;
}

size_t sl_events_subscribers(void) {
  pthread_mutex_lock(&bus_mu);
  size_t n = nsubs;
  pthread_mutex_unlock(&bus_mu);
  return n;
}
