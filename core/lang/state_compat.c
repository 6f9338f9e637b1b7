/* SPDX-License-Identifier: Apache-2.0 */
/* The comparison of a pipeline's stateful nodes with what the version that
 * last ran stored (state_compat.h). Kept: unchanged shapes, aggregates added
 * to or removed from a window, anything about stateless nodes. Refused:
 * state of an id no longer in the pipeline, a node whose kind, window,
 * key, aggregate definition or source changed - unless --allow-state-loss
 * names the id, which drops exactly its state. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/state_compat.h"

void sl_compat_report_free(sl_compat_report *rep) {
  if (!rep)
    return;
  free(rep->items);
  memset(rep, 0, sizeof *rep);
}

/* snprintf for messages that may be cut: a long id or path shortens the
 * advice, never overflows it. */
static void setf(char *buf, size_t len, const char *fmt, ...) SL_PRINTF(3, 4);
static void setf(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

static sl_compat_item *add_item(sl_compat_report *rep, const char *id) {
  sl_compat_item *n = realloc(rep->items, (rep->n + 1) * sizeof *n);
  if (!n)
    return NULL;
  rep->items = n;
  sl_compat_item *it = &n[rep->n++];
  memset(it, 0, sizeof *it);
  snprintf(it->id, sizeof it->id, "%s", id);
  return it;
}

static void appendf(char *buf, size_t len, const char *fmt, ...) SL_PRINTF(3, 4);
static void appendf(char *buf, size_t len, const char *fmt, ...) {
  size_t used = strlen(buf);
  if (used + 1 >= len)
    return;
  if (used)
    used += (size_t)snprintf(buf + used, len - used, "; ");
  va_list ap;
  va_start(ap, fmt);
  if (used < len)
    vsnprintf(buf + used, len - used, fmt, ap);
  va_end(ap);
}

/* The value of "name=" in a shape, or NULL; *len its length. */
static const char *shape_value(const char *shape, const char *name, size_t nlen, size_t *len) {
  for (const char *p = shape; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t l = nl ? (size_t)(nl - p) : strlen(p);
    if (l > nlen && p[nlen] == '=' && memcmp(p, name, nlen) == 0) {
      *len = l - nlen - 1;
      return p + nlen + 1;
    }
    p = nl ? nl + 1 : NULL;
  }
  return NULL;
}

/* Walk the lines of `a`; report those missing from or different in `b`.
 * `reverse`: report only those missing (lines added in the new shape). */
static int diff_lines(const char *a, const char *b, int reverse, char *what, size_t len) {
  int incompatible = 0;
  for (const char *p = a; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t l = nl ? (size_t)(nl - p) : strlen(p);
    const char *eq = memchr(p, '=', l);
    if (eq) {
      size_t nlen = (size_t)(eq - p), vlen = l - nlen - 1, olen = 0;
      const char *other = shape_value(b, p, nlen, &olen);
      int agg = nlen > 10 && memcmp(p, "aggregate.", 10) == 0;
      const char *label = agg ? p + 10 : p;
      int llen = (int)(agg ? nlen - 10 : nlen);
      if (!other && reverse) {
        if (agg)
          appendf(what, len, "aggregate '%.*s' added (windows open at the upgrade compute it from "
                             "later records only)", llen, label);
        else
          appendf(what, len, "'%.*s' added", llen, label);
        incompatible |= !agg;
      } else if (!other && !reverse) {
        if (agg)
          appendf(what, len, "aggregate '%.*s' removed (its partial state is dropped)", llen, label);
        else
          appendf(what, len, "'%.*s' removed (was '%.*s')", llen, label, (int)vlen, eq + 1);
        incompatible |= !agg;
      } else if (!reverse && (olen != vlen || memcmp(other, eq + 1, vlen) != 0)) {
        appendf(what, len, "%s%.*s changed from '%.*s' to '%.*s'", agg ? "aggregate " : "", llen,
                label, (int)vlen, eq + 1, (int)olen, other);
        incompatible = 1;
      }
    }
    p = nl ? nl + 1 : NULL;
  }
  return incompatible;
}

static const sl_state_node *find_cur(const sl_state_node *cur, size_t n, const char *id) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(cur[i].id, id) == 0)
      return &cur[i];
  return NULL;
}

static int is_stored(const sl_stored_node *s, size_t n, const char *id) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s[i].id, id) == 0)
      return 1;
  return 0;
}

/* State whose id is gone: point at a new node of the same kind that could
 * take it over (ids of older versions were "TYPE#N"). */
static void orphan_advice(const char *file, const sl_state_node *cur, size_t ncur,
                          const sl_stored_node *st, const sl_stored_node *all, size_t nall,
                          sl_compat_item *it) {
  char type[64];
  setf(type, sizeof type, "%s", st->type ? st->type : st->id);
  if (!st->type)
    type[strcspn(type, "#:")] = '\0';
  setf(it->what, sizeof it->what,
           "stored state of %s '%s' (%zu partition%s) belongs to no node of the pipeline%s",
           type, st->id, st->partitions, st->partitions == 1 ? "" : "s",
           st->type ? "" : " (written by a sluice before stable ids)");
  for (size_t i = 0; i < ncur; i++) {
    if (strcmp(cur[i].type, type) != 0 || is_stored(all, nall, cur[i].id))
      continue;
    char diff[400] = "";
    int bad = st->shape && diff_lines(st->shape, cur[i].shape, 0, diff, sizeof diff);
    if (st->shape)
      bad |= diff_lines(cur[i].shape, st->shape, 1, diff, sizeof diff);
    if (bad) { /* its derived id moved because its shape changed */
      appendf(it->what, sizeof it->what, "if it is the %s at %s:%d (now id '%s'), %s", type, file,
              cur[i].line, cur[i].id, diff);
      setf(it->todo, sizeof it->todo,
               "keep the old definition, or drop this state: sluice state drop %s %s, or start "
               "with --allow-state-loss %s",
               file, st->id, st->id);
    } else {
      char note[440] = "";
      if (diff[0])
        setf(note, sizeof note, " (compatible: %s)", diff);
      setf(it->todo, sizeof it->todo,
               "if it is the %s at %s:%d (now id '%s'), add id = \"%s\" to it to keep this "
               "state%s; otherwise drop it: sluice state drop %s %s, or start with "
               "--allow-state-loss %s",
               type, file, cur[i].line, cur[i].id, st->id, note, file, st->id, st->id);
    }
    return;
  }
  setf(it->todo, sizeof it->todo,
           "give the node that should keep it id = \"%s\", or drop it: sluice state drop %s %s, or "
           "start with --allow-state-loss %s",
           st->id, file, st->id, st->id);
}

static int allowed(const char *const *allow, size_t nallow, const char *id) {
  for (size_t i = 0; i < nallow; i++)
    if (strcmp(allow[i], id) == 0)
      return 1;
  return 0;
}

/* One stored id: fills `it` (verdict KEEP when there is nothing to say). */
static void compare_one(const char *file, const sl_state_node *cur, size_t ncur,
                        const sl_stored_node *st, const sl_stored_node *all, size_t nall,
                        sl_compat_item *it) {
  const sl_state_node *c = find_cur(cur, ncur, st->id);
  int has_state = st->state_topic != NULL;
  it->verdict = SL_COMPAT_KEEP;
  if (!c) {
    if (has_state) {
      orphan_advice(file, cur, ncur, st, all, nall, it);
      it->verdict = SL_COMPAT_REFUSE;
    }
    return;
  }
  if (has_state && strcmp(st->state_topic, c->topic) != 0) {
    setf(it->what, sizeof it->what,
             "its state is stored under source '%s' but the %s now reads '%s'", st->state_topic,
             c->type, c->topic);
  } else if (st->type && strcmp(st->type, c->type) != 0) {
    setf(it->what, sizeof it->what, "kind changed from %s to %s", st->type, c->type);
  } else if (st->shape) {
    int bad = diff_lines(st->shape, c->shape, 0, it->what, sizeof it->what);
    bad |= diff_lines(c->shape, st->shape, 1, it->what, sizeof it->what);
    if (!bad) {
      it->verdict = it->what[0] ? SL_COMPAT_NOTE : SL_COMPAT_KEEP;
      return;
    }
  } else {
    if (has_state) {
      setf(it->what, sizeof it->what,
               "state written by a sluice before state metadata: its shape cannot be checked, "
               "restored as is");
      it->verdict = SL_COMPAT_NOTE;
    }
    return;
  }
  if (!has_state) { /* changed, but nothing stored to lose */
    it->verdict = SL_COMPAT_NOTE;
    return;
  }
  it->verdict = SL_COMPAT_REFUSE;
  setf(it->todo, sizeof it->todo,
           "keep the old definition; or give the %s a new id (id = \"...\") so that it starts "
           "empty, and drop the old state with sluice state drop %s %s; or start with "
           "--allow-state-loss %s to drop it",
           c->type, file, st->id, st->id);
}

int sl_state_compare(const char *file, const sl_state_node *cur, size_t ncur,
                     const sl_stored_node *stored, size_t nstored, const char *const *allow,
                     size_t nallow, sl_compat_report *rep) {
  memset(rep, 0, sizeof *rep);
  for (size_t i = 0; i < nstored; i++) {
    sl_compat_item one;
    memset(&one, 0, sizeof one);
    snprintf(one.id, sizeof one.id, "%s", stored[i].id);
    compare_one(file, cur, ncur, &stored[i], stored, nstored, &one);
    if (one.verdict == SL_COMPAT_KEEP)
      continue;
    if (one.verdict == SL_COMPAT_REFUSE && allowed(allow, nallow, one.id)) {
      one.verdict = SL_COMPAT_DROP;
      one.todo[0] = '\0';
    }
    sl_compat_item *it = add_item(rep, one.id);
    if (!it)
      return SL_ERR_NOMEM;
    *it = one;
    rep->refused += one.verdict == SL_COMPAT_REFUSE;
    rep->dropped += one.verdict == SL_COMPAT_DROP;
  }
  for (size_t k = 0; k < nallow; k++) {
    int used = 0;
    for (size_t i = 0; i < rep->n; i++)
      used |= rep->items[i].verdict == SL_COMPAT_DROP && strcmp(rep->items[i].id, allow[k]) == 0;
    if (used)
      continue;
    sl_compat_item *it = add_item(rep, allow[k]);
    if (!it)
      return SL_ERR_NOMEM;
    it->verdict = SL_COMPAT_NOTE;
    setf(it->what, sizeof it->what,
             "--allow-state-loss %s: no stored state of this id is in conflict; nothing dropped",
             allow[k]);
  }
  return SL_OK;
}
