/* SPDX-License-Identifier: Apache-2.0 */
/* Per-key state of the `alert` operator: a hash table from the key's JSON
 * text to a small entry (phase, timestamps), with snapshot bookkeeping
 * (dirty flags, pending deletes). Internal to operators/alert.c. */
#ifndef SLUICE_ALERT_STATE_H
#define SLUICE_ALERT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef enum al_phase {
  AL_OK = 0,      /* `when` does not hold (only kept for absence tracking) */
  AL_PENDING = 1, /* `when` holds since `since`, `for` not yet elapsed */
  AL_FIRING = 2,  /* firing; `last_sent` is when it was last sent */
} al_phase;

typedef struct al_entry {
  struct al_entry *next;  /* hash chain */
  uint32_t hash;          /* of the key text */
  uint8_t phase;          /* al_phase */
  uint8_t absent;         /* the absence alert of this key is firing */
  uint8_t dirty;          /* changed since the last snapshot */
  uint8_t persisted;      /* a snapshot holds it under snap_partition */
  int32_t partition;      /* source partition of the key's last record */
  int32_t snap_partition; /* where the snapshot holds it */
  int64_t since;          /* event time `when` started to hold (AL_PENDING, AL_FIRING) */
  int64_t last_sent;      /* event time of the last firing alert sent (AL_FIRING) */
  int64_t last_seen;      /* event time of the key's last record */
  size_t key_len;
  char key[];             /* the key object as JSON, NUL-terminated */
} al_entry;

typedef struct al_table {
  al_entry **buckets; /* power of two */
  size_t nbuckets, count;
  sl_buf deletes; /* pending snapshot deletes: int32 partition, uint32 len, key bytes */
} al_table;

int al_table_init(al_table *t);
void al_table_free(al_table *t); /* frees every entry; zeroed table is fine */

uint32_t al_hash(const void *key, size_t len);
al_entry *al_table_find(const al_table *t, uint32_t hash, const void *key, size_t len);
/* New clean entry in phase AL_OK, NULL on OOM. */
al_entry *al_table_insert(al_table *t, uint32_t hash, const void *key, size_t len,
                          int32_t partition);
/* Unlink and free `e`; queues a snapshot delete when a snapshot holds it
 * (`persist` = 0 when the partition went to another worker). */
int al_table_remove(al_table *t, al_entry *e, int persist);

/* Forget pending snapshot deletes of `partition` (it went to another worker,
 * whose state must not be touched). */
void al_table_forget_deletes(al_table *t, int32_t partition);

/* Serialised entry value (varints): version, phase | absent << 2, since,
 * last_sent, last_seen. */
int al_entry_encode(const al_entry *e, sl_buf *out);
int al_entry_decode(al_entry *e, const void *val, size_t len);

/* Visit every entry; `fn` may remove the entry it is given. Stops at the
 * first non-zero return and returns it. */
int al_table_each(al_table *t, int (*fn)(void *ctx, al_entry *e), void *ctx);

#endif
