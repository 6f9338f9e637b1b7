/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice state show|reset|drop FILE.lua [ID]`: a pipeline's stored state
 * for people (plain text) and scripts (--json). show lists per partition
 * the epoch, the stored offset and each operator's entries and bytes with
 * the fingerprint of the shape that wrote it; reset removes everything the
 * pipeline stored (after a confirmation); drop removes one node's state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/exit_code.h"
#include "cli/state_start.h"

static void json_str(const char *s) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_json_string(&b, s, strlen(s));
  fwrite(b.data, 1, b.len, stdout);
  sl_buf_free(&b);
}

static const sl_state_meta *meta_of(const sl_stored *st, const char *id) {
  for (size_t i = 0; i < st->nmeta; i++)
    if (strcmp(st->meta[i].id, id) == 0)
      return &st->meta[i];
  return NULL;
}

/* The stored fingerprint of `id` into fp[17], or "" without metadata. */
static void stored_fp(const sl_stored *st, const char *id, char *fp) {
  const sl_state_meta *m = meta_of(st, id);
  if (m)
    sl_state_fingerprint(m->shape, fp);
  else
    fp[0] = '\0';
}

static void show_text(const sl_graph_desc *g, const sl_state_node *cur, size_t ncur,
                      const sl_stored *st) {
  printf("pipeline '%s': %zu partition%s with stored state%s\n", g->name, st->inv.nparts,
         st->inv.nparts == 1 ? "" : "s",
         st->meta_present ? "" : " (no state metadata: written before stable ids, or never run)");
  printf("stateful nodes of %s:\n", g->file);
  for (size_t i = 0; i < ncur; i++) {
    char fp[17], sfp[17];
    sl_state_fingerprint(cur[i].shape, fp);
    stored_fp(st, cur[i].id, sfp);
    printf("  %-40s %-8s fingerprint %s", cur[i].id, cur[i].type, fp);
    if (!sfp[0])
      printf(" (nothing stored)\n");
    else if (strcmp(fp, sfp) == 0)
      printf(" (as stored)\n");
    else
      printf(" (stored: %s)\n", sfp);
  }
  for (size_t i = 0; i < st->inv.nparts; i++) {
    const sl_state_part_info *p = &st->inv.parts[i];
    printf("partition %s[%d]: epoch %lld, next offset ", p->topic, (int)p->partition,
           (long long)p->epoch);
    if (p->next_offset >= 0)
      printf("%lld\n", (long long)p->next_offset);
    else
      printf("none\n");
    for (size_t k = 0; k < p->nops; k++) {
      char sfp[17];
      stored_fp(st, p->ops[k].id, sfp);
      printf("  %-40s %8zu entries %10zu bytes  fingerprint %s%s\n", p->ops[k].id,
             p->ops[k].entries, p->ops[k].bytes, sfp[0] ? sfp : "unknown",
             sl_graph_find_id(g, p->ops[k].id) >= 0 ? "" : "  (no such node in the pipeline)");
    }
  }
}

static void show_json(const sl_graph_desc *g, const sl_state_node *cur, size_t ncur,
                      const sl_stored *st) {
  printf("{\"pipeline\":");
  json_str(g->name);
  printf(",\"metadata\":%s,\"nodes\":[", st->meta_present ? "true" : "false");
  for (size_t i = 0; i < ncur; i++) {
    char fp[17], sfp[17];
    sl_state_fingerprint(cur[i].shape, fp);
    stored_fp(st, cur[i].id, sfp);
    printf("%s{\"id\":", i ? "," : "");
    json_str(cur[i].id);
    printf(",\"type\":");
    json_str(cur[i].type);
    printf(",\"line\":%d,\"fingerprint\":\"%s\",\"stored_fingerprint\":", cur[i].line, fp);
    if (sfp[0])
      printf("\"%s\"}", sfp);
    else
      printf("null}");
  }
  printf("],\"partitions\":[");
  for (size_t i = 0; i < st->inv.nparts; i++) {
    const sl_state_part_info *p = &st->inv.parts[i];
    printf("%s{\"topic\":", i ? "," : "");
    json_str(p->topic);
    printf(",\"partition\":%d,\"epoch\":%lld,\"next_offset\":", (int)p->partition,
           (long long)p->epoch);
    if (p->next_offset >= 0)
      printf("%lld", (long long)p->next_offset);
    else
      printf("null");
    printf(",\"operators\":[");
    for (size_t k = 0; k < p->nops; k++) {
      char sfp[17];
      stored_fp(st, p->ops[k].id, sfp);
      printf("%s{\"id\":", k ? "," : "");
      json_str(p->ops[k].id);
      printf(",\"entries\":%zu,\"bytes\":%zu,\"in_pipeline\":%s,\"fingerprint\":", p->ops[k].entries,
             p->ops[k].bytes, sl_graph_find_id(g, p->ops[k].id) >= 0 ? "true" : "false");
      if (sfp[0])
        printf("\"%s\"}", sfp);
      else
        printf("null}");
    }
    printf("]}");
  }
  printf("]}\n");
}

/* Reset asks first: the pipeline's name typed back on a terminal. */
static int confirmed(const sl_graph_desc *g, const sl_stored *st, int yes) {
  if (yes)
    return 1;
  if (!isatty(STDIN_FILENO)) {
    fprintf(stderr, "sluice: state reset removes every window, alert and stored offset of '%s'; "
                    "not on a terminal, so pass --yes to confirm\n",
            g->name);
    return 0;
  }
  fprintf(stderr,
          "This removes every window, alert and stored offset of pipeline '%s' (%zu "
          "partitions) from Redis.\nStop every worker first. Type the pipeline name to confirm: ",
          g->name, st->inv.nparts);
  char line[256];
  if (!fgets(line, sizeof line, stdin))
    return 0;
  line[strcspn(line, "\r\n")] = '\0';
  if (strcmp(line, g->name) == 0)
    return 1;
  fprintf(stderr, "sluice: not confirmed; nothing removed\n");
  return 0;
}

static int do_reset(sl_redis *r, const sl_graph_desc *g, const sl_stored *st, int yes, int json) {
  if (!confirmed(g, st, yes))
    return SL_EXIT_USAGE;
  sl_error err;
  sl_error_clear(&err);
  size_t deleted = 0;
  if (sl_state_reset(r, g->name, &st->inv, &deleted, &err) != SL_OK) {
    fprintf(stderr, "sluice: state reset of '%s': %s\n", g->name, err.message);
    return SL_EXIT_RUNTIME;
  }
  if (json) {
    printf("{\"pipeline\":");
    json_str(g->name);
    printf(",\"reset\":true,\"partitions\":%zu,\"deleted_keys\":%zu}\n", st->inv.nparts, deleted);
  } else {
    printf("pipeline '%s': state reset (%zu partitions, %zu keys removed); it starts from the "
           "consumer group's committed offsets, or its sources' start option\n",
           g->name, st->inv.nparts, deleted);
  }
  return SL_EXIT_OK;
}

static int do_drop(sl_redis *r, const sl_graph_desc *g, const sl_stored *st, const char *id,
                   int json) {
  int known = 0;
  for (size_t i = 0; i < st->nnodes; i++)
    known |= strcmp(st->nodes[i].id, id) == 0;
  if (!known) {
    fprintf(stderr, "sluice: pipeline '%s' has no stored state of '%s'; stored:", g->name, id);
    for (size_t i = 0; i < st->nnodes; i++)
      fprintf(stderr, " %s", st->nodes[i].id);
    fprintf(stderr, "%s\n", st->nnodes ? "" : " nothing");
    return SL_EXIT_INVALID;
  }
  sl_error err;
  sl_error_clear(&err);
  size_t deleted = 0;
  if (sl_state_drop_op(r, g->name, &st->inv, id, &deleted, &err) != SL_OK) {
    fprintf(stderr, "sluice: dropping the state of '%s': %s\n", id, err.message);
    return SL_EXIT_RUNTIME;
  }
  if (json) {
    printf("{\"pipeline\":");
    json_str(g->name);
    printf(",\"dropped\":");
    json_str(id);
    printf(",\"partitions\":%zu}\n", deleted);
  } else {
    printf("pipeline '%s': state of '%s' dropped in %zu partition%s\n", g->name, id, deleted,
           deleted == 1 ? "" : "s");
  }
  return SL_EXIT_OK;
}

int sl_state_command(const char *sub, const sl_graph_desc *g, const sl_registry *reg,
                     const char *redis_url, const char *id, int yes, int json) {
  int show = strcmp(sub, "show") == 0, reset = strcmp(sub, "reset") == 0,
      drop = strcmp(sub, "drop") == 0;
  if (!show && !reset && !drop) {
    fprintf(stderr, "sluice: unknown state command '%s' (show, reset or drop)\n", sub);
    return SL_EXIT_USAGE;
  }
  if (drop != (id != NULL)) {
    fprintf(stderr, drop ? "sluice: state drop needs the id of a node: sluice state drop FILE.lua ID\n"
                         : "sluice: state %s takes no id\n",
            sub);
    return SL_EXIT_USAGE;
  }
  sl_error err;
  sl_error_clear(&err);
  sl_state_node *cur = NULL;
  size_t ncur = 0;
  sl_stored st;
  memset(&st, 0, sizeof st);
  int code = SL_EXIT_RUNTIME;
  sl_redis *r = sl_state_connect(redis_url, 0, &err);
  if (!r || sl_state_nodes(g, reg, &cur, &ncur) != SL_OK ||
      sl_stored_load(r, g, show, &st, &err) != SL_OK) {
    fprintf(stderr, "sluice: state of '%s': %s\n", g->name,
            err.message[0] ? err.message : "out of memory");
    goto out;
  }
  if (show) {
    (json ? show_json : show_text)(g, cur, ncur, &st);
    code = SL_EXIT_OK;
  } else if (reset) {
    code = do_reset(r, g, &st, yes, json);
  } else {
    code = do_drop(r, g, &st, id, json);
  }
out:
  sl_stored_free(&st);
  sl_state_nodes_free(cur, ncur);
  sl_redis_free(r);
  return code;
}
