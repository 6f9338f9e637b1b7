/* SPDX-License-Identifier: Apache-2.0 */
/* Lookup tables (`p:table{}`): the latest value per key of a compacted topic
 * or a JSON Lines file, read by `enrich` and the HTTP API.
 *
 * One writer (the table's loader thread) changes a private map with put and
 * delete and then publishes it: readers see immutable snapshots, swapped in
 * one step under a mutex and refcounted, so a reader takes one reference per
 * batch and looks keys up without any lock or allocation. Entries are shared
 * between snapshots by their own reference counts, so a publish costs one
 * pointer copy per slot, never a copy of the values. */
#ifndef SLUICE_TABLE_STORE_H
#define SLUICE_TABLE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/record.h"

typedef struct sl_table sl_table;
typedef struct sl_table_snap sl_table_snap;

/* A table named `id` (copied) holding at most `max_entries` keys (0: no
 * limit). Starts with an empty published snapshot. NULL on OOM. */
sl_table *sl_table_new(const char *id, size_t max_entries);
/* Frees the table; snapshots still acquired stay valid until released. NULL
 * is a no-op. Unregister it first. */
void sl_table_free(sl_table *t);
const char *sl_table_id(const sl_table *t);

/* ---- the writer (one thread at a time) ---------------------------------- */

/* Set `key` to a deep copy of `value` in the writer's map (not yet visible).
 * SL_ERR_LIMIT (message names max_entries) when a new key would pass the
 * limit; SL_ERR_NOMEM. */
int sl_table_put(sl_table *t, const void *key, size_t klen, const sl_record *value, sl_error *err);
/* Remove `key` (a tombstone); 1 when it was there. */
int sl_table_delete(sl_table *t, const void *key, size_t klen);
/* Empty the writer's map (a file reload builds the new table from scratch). */
void sl_table_clear(sl_table *t);
/* Make the writer's map the snapshot readers get from now on. */
int sl_table_publish(sl_table *t, sl_error *err);
/* Entries and bytes of the writer's map (memory: the values, keys and slots). */
size_t sl_table_writer_count(const sl_table *t);
size_t sl_table_writer_bytes(const sl_table *t);

/* ---- readers (any thread) ----------------------------------------------- */

/* The current snapshot with a reference the caller releases. Never NULL. */
sl_table_snap *sl_table_acquire(sl_table *t);
void sl_table_snap_release(sl_table_snap *s); /* NULL is a no-op */
/* The value of `key`, borrowed from the snapshot (valid until it is
 * released), or NULL. No lock, no allocation. */
const sl_record *sl_table_snap_get(const sl_table_snap *s, const void *key, size_t klen);
size_t sl_table_snap_count(const sl_table_snap *s);
size_t sl_table_snap_bytes(const sl_table_snap *s);
/* 1 for the first publish, +1 for each later one (0: nothing published). */
uint64_t sl_table_snap_version(const sl_table_snap *s);

/* The text form of a lookup key: strings as they are, integers (and
 * integral doubles) in decimal; other types have no key (returns 0).
 * `buf` (>= 32 bytes) holds numbers; *key points into it or the value. */
int sl_table_key_of(const sl_value *v, char *buf, size_t cap, const char **key, size_t *klen);

/* ---- the process's tables by id ----------------------------------------- */

/* SL_ERR_INVALID when another table already has the id. */
int sl_table_register(sl_table *t, sl_error *err);
void sl_table_unregister(sl_table *t); /* no-op when not registered */
/* The registered table `id` (borrowed until it is unregistered), or NULL. */
sl_table *sl_table_find(const char *id);
/* The current snapshot of registered table `id` (a reference to release), or
 * NULL. Safe against the table being closed at the same time (the API). */
sl_table_snap *sl_table_acquire_id(const char *id);

#endif
