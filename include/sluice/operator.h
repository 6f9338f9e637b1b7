/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file operator.h
 * @brief The operator ABI: what a built-in operator or a plugin implements,
 *        and the host table through which it reaches the engine.
 *
 * An operator is a descriptor (sl_operator_desc) with a config map and
 * callbacks. The engine validates the pipeline's options against the config
 * map before init() runs, so init() may trust types, required keys and
 * durations. Operators do no I/O: sources, sinks and the event loop belong
 * to connectors.
 *
 * A plugin is a shared object exporting one symbol, SL_PLUGIN_ENTRY_SYMBOL,
 * a function returning its sl_plugin. The loader checks `abi_version` and
 * `struct_size` before touching anything else.
 *
 * Threading: all callbacks of one operator instance run on one thread.
 */
#ifndef SLUICE_OPERATOR_H
#define SLUICE_OPERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/record.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bumped on any incompatible change of the structs or callbacks below. */
#define SL_OPERATOR_ABI_VERSION 1u

/** The watermark passed to on_watermark() when every finite source is drained. */
#define SL_WATERMARK_END INT64_MAX
/** A watermark that has not advanced yet. */
#define SL_WATERMARK_NONE INT64_MIN

/* ---- configuration ----------------------------------------------------- */

/** A validated, read-only copy of one Lua options table. Owned by the engine. */
typedef struct sl_config sl_config;
/** A Lua function given as an option (explicit Lua filters/maps). Owned by the engine. */
typedef struct sl_lua_fn sl_lua_fn;

typedef enum sl_config_type {
  SL_CFG_STRING = 1,
  SL_CFG_INT,
  SL_CFG_DOUBLE,        /**< any number */
  SL_CFG_BOOL,
  SL_CFG_DURATION,      /**< "250ms" "10s" "5m" "1h" "1d", or a number of ms */
  SL_CFG_EXPR,          /**< an expression string (SPEC.md section 4), compiled at check time */
  SL_CFG_STRING_LIST,   /**< a string or a list of strings */
  SL_CFG_TABLE,         /**< a nested options table, not validated further */
  SL_CFG_FUNCTION,      /**< a Lua function */
  SL_CFG_EXPR_OR_FUNCTION, /**< an expression string or a Lua function */
} sl_config_type;

#define SL_CFG_REQUIRED 0x1u /**< the key must be present */

/** One entry of a config map; a map ends with an entry whose key is NULL. */
typedef struct sl_config_entry {
  const char *key;
  sl_config_type type;
  uint32_t flags;            /**< SL_CFG_* flags */
  const char *default_value; /**< documentation of the default, NULL if none */
  const char *help;          /**< one line for `sluice check` errors and docs */
} sl_config_entry;

SL_API int sl_config_has(const sl_config *c, const char *key);
/** Borrowed string (valid while the pipeline lives), or `def` when absent. */
SL_API const char *sl_config_string(const sl_config *c, const char *key, const char *def);
SL_API int64_t sl_config_int(const sl_config *c, const char *key, int64_t def);
SL_API double sl_config_double(const sl_config *c, const char *key, double def);
SL_API int sl_config_bool(const sl_config *c, const char *key, int def);
/** Milliseconds of a duration option, or `def` when absent. */
SL_API int64_t sl_config_duration_ms(const sl_config *c, const char *key, int64_t def);
/** Number of strings of an SL_CFG_STRING_LIST option (a lone string counts as 1). */
SL_API size_t sl_config_list_len(const sl_config *c, const char *key);
SL_API const char *sl_config_list_string(const sl_config *c, const char *key, size_t i);
/** A nested table option, or NULL. */
SL_API const sl_config *sl_config_table(const sl_config *c, const char *key);
/** A function option, or NULL. */
SL_API const sl_lua_fn *sl_config_function(const sl_config *c, const char *key);
/** Keys in sorted order, for operators that take free-form keys (map, aggregate). */
SL_API size_t sl_config_count(const sl_config *c);
SL_API const char *sl_config_key_at(const sl_config *c, size_t i);
/** Pipeline file and line of the call that declared these options. */
SL_API const char *sl_config_file(const sl_config *c);
SL_API int sl_config_line(const sl_config *c);

/** Parse "250ms" "10s" "5m" "1h" "1d" (or plain digits = ms) into milliseconds. */
SL_API int sl_parse_duration(const char *text, int64_t *ms, sl_error *err);

/* ---- the host table ---------------------------------------------------- */

/** The engine's handle of one operator instance (its name, metrics labels). */
typedef struct sl_operator sl_operator;
/** Where process()/on_watermark() put their output. Valid during the callback. */
typedef struct sl_emitter sl_emitter;
/** A compiled expression. */
typedef struct sl_expr sl_expr;
/** A checkpoint being written: see snapshot(). */
typedef struct sl_snapshot sl_snapshot;

typedef enum sl_log_level {
  SL_LOG_DEBUG = 0,
  SL_LOG_INFO,
  SL_LOG_WARN,
  SL_LOG_ERROR,
} sl_log_level;

/**
 * Everything an operator may ask of the engine. Versioned like the
 * descriptor: check `struct_size` before using a member added later.
 */
typedef struct sl_host {
  uint32_t abi_version;
  uint32_t struct_size;

  /** Structured log line attributed to `op`. */
  void (*log)(sl_operator *op, sl_log_level level, const char *fmt, ...) SL_PRINTF(3, 4);
  /** Pass `r` downstream. The record must live in arena(out) or an arena
   *  that outlives the traversal (e.g. the input batch's). */
  int (*emit)(sl_emitter *out, sl_record *r);
  /** Send `r` to the dead-letter sink with a reason ("decode", "eval",
   *  "late", ...) and a message; counts it. Never drops silently. */
  int (*dead_letter)(sl_emitter *out, const sl_record *r, const char *reason,
                     const char *message);
  /** Arena for records created during this callback. */
  sl_arena *(*arena)(sl_emitter *out);
  /** Processing time in ms since the epoch (a fake clock in tests). */
  int64_t (*now_ms)(sl_operator *op);
  /** Add to a counter named `name` (e.g. "sluice_late_records_total")
   *  labelled with this operator's pipeline and name. */
  void (*counter_add)(sl_operator *op, const char *name, double delta);
  /** Set a gauge labelled like counter_add (e.g. "sluice_alerts_firing"). */
  void (*gauge_set)(sl_operator *op, const char *name, double value);

  /** Compile expression `text` that appears at `line` of the pipeline file.
   *  NULL with `err` set (line and column) on a syntax or name error. */
  sl_expr *(*expr_compile)(sl_operator *op, const char *text, int line, sl_error *err);
  /** Evaluate against `r`; strings produced live in `a`. SL_OK or an error
   *  (which the caller usually dead-letters with reason "eval"). */
  int (*expr_eval)(const sl_expr *e, const sl_record *r, sl_arena *a, sl_value *out,
                   sl_error *err);
  void (*expr_free)(sl_expr *e);

  /** Call a Lua function option with the record (as a table). The result
   *  value (a bool, number, string or a record built from a table) lives
   *  in `a`. */
  int (*lua_call)(sl_operator *op, const sl_lua_fn *fn, const sl_record *r, sl_arena *a,
                  sl_value *out, sl_error *err);

  /** Within snapshot(): store `val` under `key` of this operator's state for
   *  `partition` (bytes are copied). */
  int (*snapshot_put)(sl_snapshot *s, int32_t partition, const void *key, size_t key_len,
                      const void *val, size_t val_len);
  /** Within snapshot(): delete `key` (a window closed, a key expired). */
  int (*snapshot_delete)(sl_snapshot *s, int32_t partition, const void *key, size_t key_len);

  void *reserved[8]; /**< for members added without an ABI break */
} sl_host;

/* ---- the descriptor ---------------------------------------------------- */

#define SL_OP_FREE_KEYS 0x1u /**< keys not in the config map are allowed (map, aggregate) */

typedef struct sl_operator_desc {
  uint32_t abi_version; /**< SL_OPERATOR_ABI_VERSION */
  uint32_t struct_size; /**< sizeof(sl_operator_desc) */
  const char *name;     /**< method name in the pipeline language */
  const char *summary;  /**< one line for docs and `sluice check` */
  const sl_config_entry *config; /**< config map, ends with {NULL} */
  /** Option receiving a non-table argument (`s:filter "x > 1"`) or the
   *  list part of a table (`s:select{"a","b"}`); NULL if none. */
  const char *positional;
  uint32_t flags;               /**< SL_OP_* */
  sl_config_type free_key_type; /**< type of free keys when SL_OP_FREE_KEYS */

  /** Create the instance from validated options. `host` and `op` stay valid
   *  until destroy(). On failure return an sl_status and fill `err`. */
  int (*init)(const sl_host *host, sl_operator *op, const sl_config *cfg, void **state,
              sl_error *err);
  /** Process a batch (borrowed for the call). Per-record failures go to
   *  host->dead_letter; a returned error stops the pipeline. */
  int (*process)(void *state, const sl_batch *in, sl_emitter *out, sl_error *err);
  /** The upstream watermark advanced (SL_WATERMARK_END at end of input).
   *  NULL if the operator has no timers. */
  int (*on_watermark)(void *state, int64_t watermark, sl_emitter *out, sl_error *err);
  /** Processing-time tick (about once a second): idle partitions, webhook
   *  retries. NULL if unused. */
  int (*on_tick)(void *state, int64_t now_ms, sl_emitter *out, sl_error *err);
  /** Write state changed since the last snapshot with host->snapshot_put /
   *  snapshot_delete. NULL for stateless operators. */
  int (*snapshot)(void *state, sl_snapshot *snap, sl_error *err);
  /** Load one entry written by snapshot() for `partition`. */
  int (*restore)(void *state, int32_t partition, const void *key, size_t key_len,
                 const void *val, size_t val_len, sl_error *err);
  /** Forget all state of `partition` (it moved to another worker). */
  int (*drop_partition)(void *state, int32_t partition, sl_error *err);
  /** Free the instance. Called with NULL state is a no-op. */
  void (*destroy)(void *state);

  /** The smallest source offset of a record of (`source_id`, `partition`)
   *  whose effect this instance still holds in memory only (e.g. an open
   *  window that has not been emitted or closed yet), or -1 if none.
   *  With `state = "memory"` the engine never commits a partition's offset
   *  past it, so a restart replays those records (at-least-once). Records
   *  without an offset (sl_record_offset() < 0) are not counted. NULL
   *  (plugins built before this member existed) means "holds nothing".
   *  Added in the first reserved slot: ABI version 1 is unchanged. */
  int64_t (*held_offset)(void *state, int32_t source_id, int32_t partition);

  /** (`source_id`, `partition`) was just assigned to this worker (a Kafka
   *  group assignment), before its state, if any, is restored. Operators
   *  with event-time watermarks use it so that the records of a partition
   *  that joins late are not judged late only because this worker's other
   *  partitions ran ahead. NULL: nothing to do. Added in the second reserved slot: ABI
   *  version 1 is unchanged. */
  int (*assign_partition)(void *state, int32_t source_id, int32_t partition, sl_error *err);

  /** Must be NULL. There were 8 slots; held_offset and assign_partition
   *  took the first two, so the struct's size and layout are those of every
   *  existing descriptor. */
  void *reserved[6];
} sl_operator_desc;

/* ---- plugins ----------------------------------------------------------- */

#define SL_PLUGIN_ENTRY_SYMBOL "sluice_plugin_entry"

typedef struct sl_plugin {
  uint32_t abi_version; /**< SL_OPERATOR_ABI_VERSION the plugin was built with */
  uint32_t struct_size; /**< sizeof(sl_plugin) */
  const char *name;
  const char *version;
  const sl_operator_desc *const *operators; /**< NULL-terminated */
  void *reserved[4];
} sl_plugin;

/** The one symbol a plugin exports. */
typedef const sl_plugin *(*sl_plugin_entry_fn)(void);

/** Declare the entry point in a plugin: SL_PLUGIN_DEFINE(my_plugin) after
 *  `static const sl_plugin my_plugin = {...};`. */
#define SL_PLUGIN_DEFINE(plugin_var)                                        \
  __attribute__((visibility("default"))) const sl_plugin *sluice_plugin_entry(void); \
  const sl_plugin *sluice_plugin_entry(void) { return &(plugin_var); }

#ifdef __cplusplus
}
#endif
#endif
