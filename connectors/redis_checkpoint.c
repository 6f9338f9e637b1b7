/* SPDX-License-Identifier: Apache-2.0 */
/* Exactly-once checkpoints in Redis: a builder that stages operator state
 * changes and next offsets per source partition, and a commit that writes
 * each partition in ONE atomic step (a Lua script run by EVALSHA) guarded by
 * the partition's epoch, pipelined across partitions. Also the epoch
 * acquisition on assignment.
 *
 * Why per partition: a partition's keys share the hash tag {P:T:N} and so
 * one Redis Cluster slot, while a script may not span slots. Exactly-once
 * holds per partition because its state and its offset move together. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "redis_internal.h"

/* KEYS: epoch, offset, then one state hash per operator.
 * ARGV: expected epoch, next offset ("" keeps it), then per state hash the
 * number of runs and each run as 'p' count k v ... or 'd' count k ...
 * Runs keep the staging order of puts and deletes of the same key. Every
 * check comes before the first write, because Redis does not roll back a
 * script that fails half way: state and offset must move together. Returns
 * {1, epoch} when applied, {0, stored epoch or "0"} when fenced (nothing
 * written). Writes go in chunks because Lua's unpack() has a stack limit. */
const char sl_redis_checkpoint_lua[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur ~= ARGV[1] then return {0, cur or '0'} end\n"
    "for i = 3, #KEYS do\n"
    "  local t = redis.call('TYPE', KEYS[i])['ok']\n"
    "  if t ~= 'hash' and t ~= 'none' then\n"
    "    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' is a ' .. t .. ', not a hash')\n"
    "  end\n"
    "end\n"
    "local a = 3\n"
    "for i = 3, #KEYS do\n"
    "  local nruns = tonumber(ARGV[a]); a = a + 1\n"
    "  for _ = 1, nruns do\n"
    "    local t, n = ARGV[a], tonumber(ARGV[a + 1]); a = a + 2\n"
    "    local w = (t == 'p') and 2 or 1\n"
    "    local done = 0\n"
    "    while done < n do\n"
    "      local m = math.min(n - done, 1000)\n"
    "      local args = {}\n"
    "      for j = 1, m * w do args[j] = ARGV[a + done * w + j - 1] end\n"
    "      if w == 2 then redis.call('HSET', KEYS[i], unpack(args))\n"
    "      else redis.call('HDEL', KEYS[i], unpack(args)) end\n"
    "      done = done + m\n"
    "    end\n"
    "    a = a + n * w\n"
    "  end\n"
    "end\n"
    "if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end\n"
    "return {1, cur}\n";

typedef struct cp_entry {
  int del;
  size_t koff, klen, voff, vlen; /* into sl_checkpoint.bytes */
} cp_entry;

typedef struct cp_op {
  char *op_id;
  cp_entry *e;
  size_t n, cap;
} cp_op;

typedef struct cp_part {
  char *topic;
  int32_t partition;
  int staged;    /* anything to commit since the last reset */
  int has_epoch; /* sl_checkpoint_offset was called */
  int64_t epoch;
  int64_t next_offset; /* < 0: keep the stored one */
  cp_op *ops;
  size_t nops, capops;
} cp_part;

struct sl_checkpoint {
  char *pipeline;
  sl_buf bytes;   /* every staged key and value */
  cp_part *parts; /* kept across resets so steady state does not allocate */
  size_t nparts, capparts;
  size_t last; /* index of the last partition used: staging is bursty */
  sl_fenced *fenced;
  size_t nfenced;
  /* scratch for commit */
  const char **argv;
  size_t *argvlen;
  size_t argcap;
  sl_buf keys;
  sl_buf cmd; /* one partition's EVALSHA in RESP */
  char (*nums)[24];
  size_t numcap;
};

sl_checkpoint *sl_checkpoint_new(const char *pipeline) {
  sl_checkpoint *cp = calloc(1, sizeof *cp);
  if (!cp)
    return NULL;
  cp->pipeline = strdup(pipeline ? pipeline : "");
  if (!cp->pipeline) {
    free(cp);
    return NULL;
  }
  return cp;
}

static void free_part(cp_part *p) {
  for (size_t i = 0; i < p->nops; i++) {
    free(p->ops[i].op_id);
    free(p->ops[i].e);
  }
  free(p->ops);
  free(p->topic);
}

void sl_checkpoint_free(sl_checkpoint *cp) {
  if (!cp)
    return;
  for (size_t i = 0; i < cp->nparts; i++)
    free_part(&cp->parts[i]);
  free(cp->parts);
  free(cp->pipeline);
  free(cp->fenced);
  free(cp->argv);
  free(cp->argvlen);
  free(cp->nums);
  sl_buf_free(&cp->bytes);
  sl_buf_free(&cp->keys);
  sl_buf_free(&cp->cmd);
  free(cp);
}

void sl_checkpoint_reset(sl_checkpoint *cp) {
  for (size_t i = 0; i < cp->nparts; i++) {
    cp_part *p = &cp->parts[i];
    p->staged = p->has_epoch = 0;
    p->next_offset = -1;
    for (size_t j = 0; j < p->nops; j++)
      p->ops[j].n = 0;
  }
  sl_buf_reset(&cp->bytes);
  cp->nfenced = 0;
}

size_t sl_checkpoint_partitions(const sl_checkpoint *cp) {
  size_t n = 0;
  for (size_t i = 0; i < cp->nparts; i++)
    n += cp->parts[i].staged;
  return n;
}

static cp_part *find_part(sl_checkpoint *cp, const char *topic, int32_t partition) {
  if (cp->last < cp->nparts && cp->parts[cp->last].partition == partition &&
      strcmp(cp->parts[cp->last].topic, topic) == 0)
    return &cp->parts[cp->last];
  for (size_t i = 0; i < cp->nparts; i++)
    if (cp->parts[i].partition == partition && strcmp(cp->parts[i].topic, topic) == 0)
      return &cp->parts[cp->last = i];
  if (cp->nparts == cp->capparts) {
    size_t cap = cp->capparts ? cp->capparts * 2 : 8;
    cp_part *np = realloc(cp->parts, cap * sizeof *np);
    if (!np)
      return NULL;
    cp->parts = np;
    cp->capparts = cap;
  }
  cp_part *p = &cp->parts[cp->nparts];
  memset(p, 0, sizeof *p);
  p->topic = strdup(topic);
  if (!p->topic)
    return NULL;
  p->partition = partition;
  p->next_offset = -1;
  cp->last = cp->nparts++;
  return p;
}

static cp_op *find_op(cp_part *p, const char *op_id) {
  for (size_t i = 0; i < p->nops; i++)
    if (strcmp(p->ops[i].op_id, op_id) == 0)
      return &p->ops[i];
  if (p->nops == p->capops) {
    size_t cap = p->capops ? p->capops * 2 : 4;
    cp_op *no = realloc(p->ops, cap * sizeof *no);
    if (!no)
      return NULL;
    p->ops = no;
    p->capops = cap;
  }
  cp_op *o = &p->ops[p->nops];
  memset(o, 0, sizeof *o);
  o->op_id = strdup(op_id);
  if (!o->op_id)
    return NULL;
  p->nops++;
  return o;
}

static int stage(sl_checkpoint *cp, const char *topic, int32_t partition, const char *op_id,
                 int del, const void *key, size_t klen, const void *val, size_t vlen) {
  if (!cp || !topic || !op_id || (!key && klen) || (!val && vlen))
    return SL_ERR_INVALID;
  cp_part *p = find_part(cp, topic, partition);
  cp_op *o = p ? find_op(p, op_id) : NULL;
  if (!o)
    return SL_ERR_NOMEM;
  if (o->n == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 64;
    cp_entry *ne = realloc(o->e, cap * sizeof *ne);
    if (!ne)
      return SL_ERR_NOMEM;
    o->e = ne;
    o->cap = cap;
  }
  cp_entry *e = &o->e[o->n];
  e->del = del;
  e->koff = cp->bytes.len;
  e->klen = klen;
  if (sl_buf_append(&cp->bytes, key, klen) != SL_OK)
    return SL_ERR_NOMEM;
  e->voff = cp->bytes.len;
  e->vlen = vlen;
  if (vlen && sl_buf_append(&cp->bytes, val, vlen) != SL_OK)
    return SL_ERR_NOMEM;
  o->n++;
  p->staged = 1;
  return SL_OK;
}

int sl_checkpoint_put(sl_checkpoint *cp, const char *topic, int32_t partition, const char *op_id,
                      const void *key, size_t klen, const void *val, size_t vlen) {
  return stage(cp, topic, partition, op_id, 0, key, klen, val, vlen);
}

int sl_checkpoint_delete(sl_checkpoint *cp, const char *topic, int32_t partition, const char *op_id,
                         const void *key, size_t klen) {
  return stage(cp, topic, partition, op_id, 1, key, klen, NULL, 0);
}

int sl_checkpoint_offset(sl_checkpoint *cp, const char *topic, int32_t partition, int64_t epoch,
                         int64_t next_offset) {
  if (!cp || !topic || epoch <= 0)
    return SL_ERR_INVALID;
  cp_part *p = find_part(cp, topic, partition);
  if (!p)
    return SL_ERR_NOMEM;
  p->has_epoch = 1;
  p->epoch = epoch;
  p->next_offset = next_offset;
  p->staged = 1;
  return SL_OK;
}

/* ---- commit ------------------------------------------------------------ */

static int grow_scratch(sl_checkpoint *cp, size_t argc, size_t nums) {
  if (argc > cp->argcap) {
    const char **a = realloc(cp->argv, argc * sizeof *a);
    if (!a)
      return SL_ERR_NOMEM;
    cp->argv = a;
    size_t *l = realloc(cp->argvlen, argc * sizeof *l);
    if (!l)
      return SL_ERR_NOMEM;
    cp->argvlen = l;
    cp->argcap = argc;
  }
  if (nums > cp->numcap) {
    char(*n)[24] = realloc(cp->nums, nums * sizeof *n);
    if (!n)
      return SL_ERR_NOMEM;
    cp->nums = n;
    cp->numcap = nums;
  }
  return SL_OK;
}

/* Number of runs of equal kind (put/delete) in staging order. */
static size_t count_runs(const cp_op *o) {
  size_t runs = 0;
  for (size_t i = 0; i < o->n; i++)
    if (i == 0 || o->e[i].del != o->e[i - 1].del)
      runs++;
  return runs;
}

/* Append the EVALSHA of one partition to the pipeline. */
static int append_part(sl_redis *r, sl_checkpoint *cp, const cp_part *p, sl_error *err) {
  size_t nkeys = 2, nargs = 2, nnums = 3; /* numkeys, epoch, offset */
  for (size_t i = 0; i < p->nops; i++) {
    if (!p->ops[i].n)
      continue;
    size_t runs = count_runs(&p->ops[i]);
    nkeys++;
    nargs += 1 + 2 * runs;
    nnums += 1 + runs;
    for (size_t j = 0; j < p->ops[i].n; j++)
      nargs += p->ops[i].e[j].del ? 1 : 2;
  }
  size_t argc = 3 + nkeys + nargs;
  if (grow_scratch(cp, argc, nnums) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory building a checkpoint");

  /* Keys first into one buffer, pointers fixed up once it stops moving. */
  sl_buf *kb = &cp->keys;
  size_t koffs[2 + 1024], *koff = koffs; /* few operators per pipeline */
  if (nkeys + 1 > sizeof koffs / sizeof koffs[0])
    return sl_error_set(err, SL_ERR_LIMIT, "more than 1023 stateful operators in one pipeline");
  sl_buf_reset(kb);
  int bad = 0;
  koff[0] = kb->len;
  bad |= sl_buf_printf(kb, "sl:{%s:%s:%d}:epoch", cp->pipeline, p->topic, (int)p->partition);
  koff[1] = kb->len;
  bad |= sl_buf_printf(kb, "sl:{%s:%s:%d}:offset", cp->pipeline, p->topic, (int)p->partition);
  size_t k = 2;
  for (size_t i = 0; i < p->nops; i++) {
    if (!p->ops[i].n)
      continue;
    koff[k++] = kb->len;
    bad |= sl_buf_printf(kb, "sl:{%s:%s:%d}:state:%s", cp->pipeline, p->topic, (int)p->partition,
                         p->ops[i].op_id);
  }
  koff[k] = kb->len;
  if (bad)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory building a checkpoint");

  const char **av = cp->argv;
  size_t *al = cp->argvlen;
  size_t a = 0, nu = 0;
#define ARG(ptr, len) (av[a] = (ptr), al[a] = (len), a++)
#define NUM(v)                                                                                     \
  (snprintf(cp->nums[nu], sizeof cp->nums[nu], "%" PRId64, (int64_t)(v)),                          \
   ARG(cp->nums[nu], strlen(cp->nums[nu])), nu++)
  ARG("EVALSHA", 7);
  ARG(sl_redis_script_sha(r), 40);
  NUM(nkeys);
  for (size_t i = 0; i < nkeys; i++)
    ARG(kb->data + koff[i], koff[i + 1] - koff[i]);
  NUM(p->epoch);
  if (p->next_offset >= 0) {
    NUM(p->next_offset);
  } else {
    ARG("", 0);
  }
  const char *bytes = cp->bytes.data;
  for (size_t i = 0; i < p->nops; i++) {
    const cp_op *o = &p->ops[i];
    if (!o->n)
      continue;
    NUM(count_runs(o));
    for (size_t j = 0; j < o->n;) {
      size_t end = j;
      while (end < o->n && o->e[end].del == o->e[j].del)
        end++;
      ARG(o->e[j].del ? "d" : "p", 1);
      NUM(end - j);
      for (; j < end; j++) {
        ARG(bytes + o->e[j].koff, o->e[j].klen);
        if (!o->e[j].del)
          ARG(o->e[j].vlen ? bytes + o->e[j].voff : "", o->e[j].vlen);
      }
    }
  }
#undef ARG
#undef NUM
  redisContext *c = sl_redis_ctx(r, err);
  if (!c)
    return err ? err->code : SL_ERR_UNAVAILABLE;
  if (r->cluster) /* every key of the script is in the partition's slot: one node */
    return sl_redis_append(r, (int)a, av, al, "checkpoint", err);
  /* One server: the command formatted by redis_resp.c into the reused buffer
   * (hiredis' formatter allocated and printed each argument's length). */
  if (sl_redis_format_argv(&cp->cmd, (int)a, av, al) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory building a checkpoint");
  if (redisAppendFormattedCommand(c, cp->cmd.data, cp->cmd.len) != REDIS_OK)
    return sl_redis_io_error(r, "checkpoint", err);
  return SL_OK;
}

static int add_fenced(sl_checkpoint *cp, const cp_part *p, int64_t current) {
  sl_fenced *f = realloc(cp->fenced, (cp->nfenced + 1) * sizeof *f);
  if (!f)
    return SL_ERR_NOMEM;
  cp->fenced = f;
  f[cp->nfenced++] = (sl_fenced){p->topic, p->partition, p->epoch, current};
  return SL_OK;
}

/* Read the replies of the partitions in `idx`; those that hit NOSCRIPT are
 * moved to the front of `idx` and counted in *retry. */
static int read_replies(sl_redis *r, sl_checkpoint *cp, size_t *idx, size_t n, size_t *retry,
                        sl_error *err) {
  int first_rc = SL_OK;
  *retry = 0;
  for (size_t i = 0; i < n; i++) {
    const cp_part *p = &cp->parts[idx[i]];
    redisReply *rep;
    int rc = sl_redis_read(r, &rep, "checkpoint", err);
    if (rc != SL_OK)
      return rc; /* connection dropped: remaining replies are gone too */
    if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
      idx[(*retry)++] = idx[i];
    } else if (rep->type == REDIS_REPLY_ERROR) {
      if (first_rc == SL_OK)
        first_rc = sl_redis_reply_error(r, rep, "the checkpoint script", err);
    } else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
               rep->element[0]->type != REDIS_REPLY_INTEGER) {
      if (first_rc == SL_OK)
        first_rc = sl_error_set(err, SL_ERR_INTERNAL, "unexpected checkpoint script reply");
    } else if (rep->element[0]->integer == 0) {
      const redisReply *cur = rep->element[1];
      int64_t current = cur->type == REDIS_REPLY_STRING ? strtoll(cur->str, NULL, 10) : 0;
      if (add_fenced(cp, p, current) != SL_OK && first_rc == SL_OK)
        first_rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    freeReplyObject(rep);
  }
  return first_rc;
}

static size_t part_entries(const cp_part *p) {
  size_t n = 0;
  for (size_t j = 0; j < p->nops; j++)
    n += p->ops[j].n;
  return n;
}

/* Past this many state entries in one partition, a checkpoint that got no
 * reply says how big its write was. */
#define CP_LARGE_PARTITION 100000

/* A partition's write is one script, which Redis runs in one go (~2.5 us
 * of Redis CPU per entry, bench/README.md). If it cannot finish within the
 * command timeout, every retry is the same size and fails alike: name the
 * partition and the knob, not only "unreachable". */
static void hint_large_partition(const sl_redis *r, const sl_checkpoint *cp, sl_error *err) {
  const cp_part *big = NULL;
  size_t most = 0;
  for (size_t i = 0; i < cp->nparts; i++) {
    size_t n = cp->parts[i].staged ? part_entries(&cp->parts[i]) : 0;
    if (n > most) {
      most = n;
      big = &cp->parts[i];
    }
  }
  if (!err || !big || most < CP_LARGE_PARTITION)
    return;
  char was[sizeof err->message];
  snprintf(was, sizeof was, "%s", err->message);
  sl_error_set(err, SL_ERR_UNAVAILABLE,
               "%s; partition %s[%d] writes %zu state entries in this checkpoint, as one atomic "
               "script that Redis must run within the %d ms command timeout or every retry fails "
               "alike: spread the keys over more partitions (docs/state.md, \"Checkpoint cost at "
               "scale\")",
               was, big->topic, (int)big->partition, most, r->opts.command_timeout_ms);
}

int sl_checkpoint_commit(sl_redis *r, sl_checkpoint *cp, const sl_fenced **fenced, size_t *nfenced,
                         sl_error *err) {
  cp->nfenced = 0;
  if (fenced)
    *fenced = NULL;
  if (nfenced)
    *nfenced = 0;
  size_t n = 0;
  for (size_t i = 0; i < cp->nparts; i++) {
    const cp_part *p = &cp->parts[i];
    if (!p->staged)
      continue;
    if (!p->has_epoch)
      return sl_error_set(err, SL_ERR_INVALID,
                          "checkpoint of pipeline '%s': partition %s[%d] has state changes but "
                          "no epoch (call sl_checkpoint_offset)",
                          cp->pipeline, p->topic, (int)p->partition);
    n++;
  }
  if (!n)
    return SL_OK;
  size_t *idx = malloc(n * sizeof *idx);
  if (!idx)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  n = 0;
  for (size_t i = 0; i < cp->nparts; i++)
    if (cp->parts[i].staged)
      idx[n++] = i;
  int rc = SL_OK;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  /* Behind Sentinel, a checkpoint goes to a node that says it is the
   * primary now, not merely when we connected (SPEC 7, docs/state.md). */
  if (sl_redis_url_of(r)->nsentinels)
    rc = sl_redis_check_primary(r, err);
  /* Two passes at most: the second only when Redis lost the script
   * (SCRIPT FLUSH, a failover to a replica without it). */
  for (int pass = 0; pass < 2 && n && rc == SL_OK; pass++) {
    rc = sl_redis_state_ready(r, err);
    if (rc != SL_OK)
      break;
    for (size_t i = 0; i < n && rc == SL_OK; i++)
      rc = append_part(r, cp, &cp->parts[idx[i]], err);
    if (rc != SL_OK) {
      sl_redis_disconnect(r); /* a half-written pipeline must not be reused */
      break;
    }
    size_t retry;
    rc = read_replies(r, cp, idx, n, &retry, err);
    if (rc != SL_OK)
      break;
    if (retry)
      sl_redis_script_lost(r);
    n = retry;
  }
  if (rc == SL_OK && n)
    rc = sl_error_set(err, SL_ERR_UNAVAILABLE, "Redis keeps losing the checkpoint script");
  else if (rc == SL_ERR_UNAVAILABLE)
    hint_large_partition(r, cp, err);
  /* Not done until the replicas have it (wait_replicas): a failover would
   * otherwise lose it. Retrying the whole checkpoint is idempotent. */
  if (rc == SL_OK)
    rc = sl_redis_wait_replicas(r, "the checkpoint", err);
  free(idx);
  if (rc == SL_OK) {
    /* What one checkpoint weighs (bench/checkpoint_scale.sh, docs/state.md);
     * counting is ~1 ms per million entries, against seconds to write them. */
    size_t nparts = 0, puts = 0, dels = 0;
    for (size_t i = 0; i < cp->nparts; i++) {
      const cp_part *p = &cp->parts[i];
      nparts += p->staged;
      for (size_t j = 0; p->staged && j < p->nops; j++)
        for (size_t k = 0; k < p->ops[j].n; k++)
          dels += p->ops[j].e[k].del;
      puts += p->staged ? part_entries(p) : 0;
    }
    puts -= dels;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sl_log(SL_LOG_DEBUG, "checkpoint",
           "checkpoint of %zu partitions written to Redis: %zu state puts, %zu deletes, %zu "
           "bytes of keys and values, in %.1f ms",
           nparts, puts, dels, cp->bytes.len,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
  }
  if (fenced)
    *fenced = cp->fenced;
  if (nfenced)
    *nfenced = cp->nfenced;
  if (rc == SL_OK && cp->nfenced) {
    const sl_fenced *f = &cp->fenced[0];
    rc = sl_error_set(err, SL_ERR_FENCED,
                      "partition %s[%d] of pipeline '%s' is owned by a newer worker: our epoch "
                      "%" PRId64 ", current epoch %" PRId64
                      "; its checkpoint was refused (%zu partition(s) fenced)",
                      f->topic, (int)f->partition, cp->pipeline, f->epoch, f->current_epoch,
                      cp->nfenced);
  }
  return rc;
}

int sl_state_acquire_epoch(sl_redis *r, const char *pipeline, const char *topic, int32_t partition,
                           int64_t *epoch, sl_error *err) {
  sl_buf key = SL_BUF_INIT;
  if (sl_redis_partition_prefix(&key, pipeline, topic, partition) != SL_OK ||
      sl_buf_puts(&key, "epoch") != SL_OK) {
    sl_buf_free(&key);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  const char *argv[2] = {"INCR", key.data};
  size_t lens[2] = {4, key.len};
  redisReply *rep;
  int rc = sl_redis_run(r, 2, argv, lens, &rep, "INCR of the partition epoch", err);
  sl_buf_free(&key);
  if (rc != SL_OK)
    return rc;
  int64_t e = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
  freeReplyObject(rep);
  if (!e)
    return sl_error_set(err, SL_ERR_INTERNAL, "unexpected reply to INCR of the epoch");
  /* An epoch lost in a failover would fence our own checkpoints. */
  rc = sl_redis_wait_replicas(r, "the partition epoch", err);
  if (rc == SL_OK)
    *epoch = e;
  return rc;
}
