/* SPDX-License-Identifier: Apache-2.0 */
/* The process-wide event bus behind Server-Sent Events: the pipeline publishes
 * window results and alerts, each SSE client holds a bounded subscription.
 *
 * The publisher never waits for a client: it appends a reference to the event
 * to each subscription under a short mutex and calls the subscription's notify
 * function. A subscription that would exceed its bounds is marked overflowed
 * (its queue is released) and its owner drops the client. */
#ifndef SLUICE_EVENTS_H
#define SLUICE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_event_sub sl_event_sub;

/* Called on the publisher's thread, with the bus lock held, after an event was
 * queued (or the subscription overflowed). It must be cheap and must not call
 * back into this API (event_active() on a libevent event is the intended use). */
typedef void (*sl_events_notify_fn)(void *ud);

typedef struct sl_event_msg {
  uint64_t id;      /* bus-wide sequence number, starting at 1 */
  const char *type; /* "result", "alert", ... */
  const char *json; /* the data, one JSON value */
  size_t json_len;
  void *ref_; /* internal: released by sl_events_msg_release() */
} sl_event_msg;

/* Publish an event; `json` is copied (newlines in it are fine: the SSE writer
 * splits them into data: lines). Callable from any thread. Returns SL_OK,
 * SL_ERR_INVALID (NULL, or a type longer than 15 bytes or with a newline) or
 * SL_ERR_NOMEM. */
int sl_events_publish(const char *type, const char *json);
int sl_events_publish_n(const char *type, const char *json, size_t len);

/* Subscribe: at most `max_events` events and `max_bytes` bytes of JSON may wait
 * in the queue (0 = defaults 256 events, 1 MiB). Returns NULL on OOM. */
sl_event_sub *sl_events_subscribe(size_t max_events, size_t max_bytes, sl_events_notify_fn notify,
                                  void *ud);
/* Take the next event: 1 and *msg filled (release it with
 * sl_events_msg_release), 0 when the queue is empty, -1 when the subscription
 * overflowed (the client was too slow and must be dropped). */
int sl_events_next(sl_event_sub *s, sl_event_msg *msg);
void sl_events_msg_release(sl_event_msg *msg);
/* Detach and free; NULL is a no-op. After it returns notify is never called. */
void sl_events_unsubscribe(sl_event_sub *s);

/* Counters for tests and metrics. */
uint64_t sl_events_published_total(void);
uint64_t sl_events_overflows_total(void);
size_t sl_events_subscribers(void);

#endif
