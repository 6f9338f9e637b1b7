/* SPDX-License-Identifier: Apache-2.0 */
/* One case of `sluice test` (docs/testing.md): the pipeline's sources and
 * sinks replaced by the case's files, run once by the ordinary runtime on
 * event time alone, and what each sink produced captured for comparison. */
#ifndef SLUICE_TEST_CASE_H
#define SLUICE_TEST_CASE_H

#include "cli/test_compare.h"
#include "lang/graph.h"

/* What one sink (or the dead-letter sink, id "dead_letter") produced. */
typedef struct sl_test_capture {
  char *id;          /* the sink's stable id, owned */
  char *file;        /* its case file name: the id with '/' as '_', + ".jsonl", owned */
  sl_test_rec *recs; /* owned, json included */
  size_t count, cap;
  sl_buf lines; /* the records as sluice writes them (no `_id`), for --update */
} sl_test_capture;

typedef struct sl_test_case {
  const char *dir;        /* the case directory, borrowed */
  sl_test_capture *sinks; /* every sink of the pipeline, the dead letters last */
  size_t nsinks;
  char dl_path[4096]; /* temporary file the dead-letter sink writes */
} sl_test_case;

/* Register the case source and sink (names "test_input", "test_output") in
 * `reg`, once per registry. */
int sl_test_case_register(sl_registry *reg);

/* Rewrite the validated graph `g` for the case: state "memory", each
 * source reading input/<id>.jsonl (no file: no records), each sink
 * captured, dead letters into a temporary file (a dead_letter node is
 * added when the pipeline has none). Files in input/ or expect/ that name
 * no source or sink are errors listing the ids there are (SL_ERR_INVALID,
 * message in err). */
int sl_test_case_prepare(sl_test_case *tc, sl_graph_desc *g, sl_error *err);

/* Run the rewritten graph to the end of its input (every open window
 * fires) and collect the outputs into tc->sinks. */
int sl_test_case_run(sl_test_case *tc, const sl_graph_desc *g, sl_registry *reg, sl_error *err);

void sl_test_case_free(sl_test_case *tc); /* frees the contents, removes the temporary file */

#endif
