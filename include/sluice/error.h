/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file error.h
 * @brief One status enum for all of sluice, and a caller-owned error detail.
 *
 * Every action function returns SL_OK (0) or a negative sl_status and, when
 * the caller passed an sl_error, fills it with a message a user can act on.
 */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SL_API __attribute__((visibility("default")))
#define SL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SL_API
#define SL_PRINTF(fmt, args)
#endif

typedef enum sl_status {
  SL_OK = 0,
  SL_ERR_NOMEM = -1,       /**< allocation failed */
  SL_ERR_INVALID = -2,     /**< invalid pipeline, configuration or argument */
  SL_ERR_NOT_FOUND = -3,   /**< a named thing does not exist */
  SL_ERR_IO = -4,          /**< reading or writing a file or socket failed */
  SL_ERR_PARSE = -5,       /**< malformed input (JSON, Avro, expression) */
  SL_ERR_TYPE = -6,        /**< a value has the wrong type for an operation */
  SL_ERR_ABI = -7,         /**< a plugin was built for another ABI version */
  SL_ERR_UNAVAILABLE = -8, /**< a dependency is unreachable; retriable */
  SL_ERR_LIMIT = -9,       /**< a configured size or rate limit was exceeded */
  SL_ERR_FENCED = -10,     /**< a newer owner holds this partition */
  SL_ERR_INTERNAL = -11,   /**< a bug in sluice: please report it */
} sl_status;

/** Static text naming a status; never NULL. */
SL_API const char *sl_strerror(int status);

/**
 * Details of a failure. Owned by the caller (usually on its stack); callee
 * functions only write into it. `line`/`column` are 1-based positions in a
 * pipeline file or expression, 0 when not applicable.
 */
typedef struct sl_error {
  int code;          /**< an sl_status */
  int retriable;     /**< nonzero when retrying may succeed */
  int line;          /**< 1-based line in the pipeline file, 0 if unknown */
  int column;        /**< 1-based column, 0 if unknown */
  char message[512]; /**< NUL-terminated, without a trailing newline */
} sl_error;

/** Fill `err` (may be NULL) and return `code`, so callers can `return sl_error_set(...)`. */
SL_API int sl_error_set(sl_error *err, int code, const char *fmt, ...) SL_PRINTF(3, 4);
SL_API int sl_error_vset(sl_error *err, int code, const char *fmt, va_list ap);
/** Reset `err` to SL_OK with an empty message. */
SL_API void sl_error_clear(sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
