/* SPDX-License-Identifier: Apache-2.0 */
/* libpq, loaded on first use instead of linked: linking it maps libpq and
 * what it needs (GSSAPI/Kerberos, OpenLDAP, GnuTLS, p11-kit, nettle, gmp...)
 * into every sluice process at start, 3.4 MiB of resident memory that a
 * pipeline without postgres_sink never uses (bench/README.md, "Memory").
 * Include this instead of <libpq-fe.h>: the header still gives the types,
 * and each PQ* function used is a macro for its pointer in sl_libpq, so the
 * calls read as plain libpq. Internal to postgres_sink; never installed. */
#ifndef SLUICE_POSTGRES_LIBPQ_H
#define SLUICE_POSTGRES_LIBPQ_H

#include <libpq-fe.h>

#include "sluice/error.h"

/* The library loaded; the name its package (libpq5) installs. */
#define SL_LIBPQ_SONAME "libpq.so.5"

/* X(name): every libpq function postgres_sink calls. */
#define SL_LIBPQ_FUNCTIONS(X)                                                                      \
  X(PQclear)                                                                                       \
  X(PQconnectdbParams) X(PQconnectionNeedsPassword) X(PQconninfoFree) X(PQconninfoParse)           \
      X(PQerrorMessage) X(PQexec) X(PQexecParams) X(PQfinish) X(PQfreemem) X(PQgetResult)          \
          X(PQgetvalue) X(PQntuples) X(PQputCopyData) X(PQputCopyEnd) X(PQresultErrorField)        \
              X(PQresultErrorMessage) X(PQresultStatus) X(PQsetNoticeProcessor) X(PQstatus)        \
                  X(PQtransactionStatus)

typedef struct sl_libpq_api {
#define SL_LIBPQ_MEMBER(f) __typeof__(f) *f;
  SL_LIBPQ_FUNCTIONS(SL_LIBPQ_MEMBER)
#undef SL_LIBPQ_MEMBER
} sl_libpq_api;

/* Filled by sl_libpq_load; all NULL before. */
extern sl_libpq_api sl_libpq;

/* Loads libpq once per process (thread-safe; later calls only report the
 * first outcome). SL_OK, or SL_ERR_UNAVAILABLE with a message naming the
 * library and the package to install. Call before any PQ* function. */
int sl_libpq_load(sl_error *err);

/* postgres_libpq.c names the members itself. */
#ifndef SL_LIBPQ_NO_MACROS
#define PQclear (sl_libpq.PQclear)
#define PQconnectdbParams (sl_libpq.PQconnectdbParams)
#define PQconnectionNeedsPassword (sl_libpq.PQconnectionNeedsPassword)
#define PQconninfoFree (sl_libpq.PQconninfoFree)
#define PQconninfoParse (sl_libpq.PQconninfoParse)
#define PQerrorMessage (sl_libpq.PQerrorMessage)
#define PQexec (sl_libpq.PQexec)
#define PQexecParams (sl_libpq.PQexecParams)
#define PQfinish (sl_libpq.PQfinish)
#define PQfreemem (sl_libpq.PQfreemem)
#define PQgetResult (sl_libpq.PQgetResult)
#define PQgetvalue (sl_libpq.PQgetvalue)
#define PQntuples (sl_libpq.PQntuples)
#define PQputCopyData (sl_libpq.PQputCopyData)
#define PQputCopyEnd (sl_libpq.PQputCopyEnd)
#define PQresultErrorField (sl_libpq.PQresultErrorField)
#define PQresultErrorMessage (sl_libpq.PQresultErrorMessage)
#define PQresultStatus (sl_libpq.PQresultStatus)
#define PQsetNoticeProcessor (sl_libpq.PQsetNoticeProcessor)
#define PQstatus (sl_libpq.PQstatus)
#define PQtransactionStatus (sl_libpq.PQtransactionStatus)
#endif

#endif
