/* SPDX-License-Identifier: Apache-2.0 */
/* Bounds on the work one untrusted datum can cause in the decoders (internal).
 *
 * Bytes from Kafka, the gateway or a file are hostile until decoded: without these bounds a
 * 1 MB JSON object of 125,000 keys or 121 bytes of Avro `array<null>` items cost seconds and
 * gigabytes. A datum past a bound fails with SL_ERR_LIMIT, and the decoder names the
 * dead-letter reason (docs/formats.md, "Limits") so users can tell it from malformed input. */
#ifndef SLUICE_DECODE_LIMITS_H
#define SLUICE_DECODE_LIMITS_H

#include <stdint.h>

/* Fields of one record, JSON object or Avro map when the user sets no `max_fields`. */
#define SL_DECODE_MAX_FIELDS 1000
/* The largest `max_fields` a user may set. */
#define SL_DECODE_MAX_FIELDS_CEILING 1000000
/* Avro values that take no bytes on the wire (items of `array<null>`, records whose fields
 * are all null or empty) per datum: nothing else bounds how many a block count can claim.
 * A datum of n bytes may hold SL_AVRO_EMPTY_VALUES_BASE + n of them, at most
 * SL_AVRO_MAX_EMPTY_VALUES: memory stays proportional to the input, as for other values. */
#define SL_AVRO_EMPTY_VALUES_BASE 256
#define SL_AVRO_MAX_EMPTY_VALUES 65536

/* Dead-letter reasons of decode failures (static text). */
#define SL_REASON_DECODE "decode"                   /* malformed input */
#define SL_REASON_TOO_MANY_FIELDS "too_many_fields" /* a record/object/map past max_fields */
#define SL_REASON_TOO_MANY_ITEMS "too_many_items"   /* zero-size Avro values past their budget */
#define SL_REASON_SCHEMA_LOOKUP "schema_lookup_limit" /* unknown schema ids past their budget */
#define SL_REASON_TOO_MANY_NAMES "too_many_names" /* new names past SL_NAME_DATA_MAX */

/* Per-call options of the decoders. The caller owns it (usually on its stack). */
typedef struct sl_decode_opts {
  uint32_t max_fields; /* in: fields per record, object or map; 0 means SL_DECODE_MAX_FIELDS */
  const char *reason;  /* out: set to an SL_REASON_* when a decode fails on a limit */
} sl_decode_opts;

#endif
