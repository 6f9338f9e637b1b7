# SPDX-License-Identifier: Apache-2.0
# A Redis Cluster on loopback for scripts (sourced, not run): used by
# scripts/e2e/redis_cluster_*.sh (through the rc_ layer below) and
# bench/checkpoint_scale.sh.
#   rcl_start_node DIR PORT BUSPORT [redis-server args...]   sets RCL_PID
#   rcl_create REPLICAS PORT...     joins started nodes, waits until usable
#   rcl_primaries PORT              the primaries' ports, as PORT sees them
# The caller tracks and stops the processes (RCL_PID of each node). Every
# wait is bounded; a function that gives up says why on stderr, returns 1.

rcl_cli() { redis-cli -p "$1" "${@:2}" 2>/dev/null || true; }

# rcl_start_node DIR PORT BUSPORT [ARGS...]: one cluster-enabled node, its
# nodes.conf in DIR (a restarted node rejoins from it), its log in DIR.log.
# A short node timeout (RCL_NODE_TIMEOUT ms, default 1000) keeps failovers
# short: a replica takes over ~2 s after its primary died. (A primary busy
# longer than that in one script is taken for dead too: benchmarks writing
# large checkpoints use Redis' default, 15000.) The bus port is explicit
# (PORT + 10000 may not be free).
rcl_start_node() {
  local dir=$1 port=$2 bus=$3
  shift 3
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout "${RCL_NODE_TIMEOUT:-1000}" \
    --cluster-port "$bus" --repl-diskless-sync-delay 0 --daemonize no \
    --logfile "$dir.log" "$@" </dev/null &
  RCL_PID=$!
}

# rcl_wait SECONDS COMMAND...: poll COMMAND every 0.2 s; 1 when it never held.
rcl_wait() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

rcl_answers() { [[ $(rcl_cli "$1" ping) == PONG ]]; }
rcl_cluster_ok() { # every node named agrees the cluster is up
  local p
  for p in "$@"; do rcl_cli "$p" cluster info | grep -q 'cluster_state:ok' || return 1; done
}
rcl_primaries() {
  rcl_cli "$1" cluster nodes |
    awk '$3 ~ /master/ && $3 !~ /fail/ {split($2, a, "[:@]"); print a[2]}'
}
rcl_synced() { # rcl_synced PORT REPLICAS: every primary has its replicas online
  local p
  for p in $(rcl_primaries "$1"); do
    rcl_cli "$p" info replication | grep -q "connected_slaves:$2" || return 1
  done
}

# rcl_create REPLICAS PORT...: `redis-cli --cluster create` over the nodes
# (REPLICAS per primary), then wait for cluster_state:ok on every node and
# for every primary's replicas to be in sync.
rcl_create() {
  local replicas=$1 p nodes=()
  shift
  for p in "$@"; do
    rcl_wait 20 rcl_answers "$p" || { echo "redis-server :$p did not start" >&2; return 1; }
    nodes+=("127.0.0.1:$p")
  done
  local out
  out=$(redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$replicas" --cluster-yes \
    2>&1 </dev/null) || { echo "redis-cli --cluster create failed: $out" >&2; return 1; }
  rcl_wait 30 rcl_cluster_ok "$@" || { echo "no cluster_state:ok on every node" >&2; return 1; }
  rcl_wait 30 rcl_synced "$1" "$replicas" || { echo "replicas not in sync" >&2; return 1; }
}

# ---- the e2e scripts' layer (sourced after lib/eos.sh, whose eos_die,
# eos_track, eos_free_port, eos_wait_until and EOS_WORK it uses):
#   rc_start                 six nodes, redis-cli --cluster create, every
#                            primary's replica in sync; sets RC_PORTS (all
#                            nodes) and RC_PRIM (the primaries)
#   rc_start_node PORT BUS   (re)start one node in its own directory
#   rc_cli PORT ARGS...      redis-cli on a node, errors ignored
#   rc_primaries             the primaries' ports (CLUSTER NODES of a live node)
#   rc_cluster_ok PORTS...   every named node reports cluster_state:ok
#   rc_replica_of PORT       the port of PORT's replica
RC_PORTS=()
RC_PRIM=()
declare -A RC_PID RC_BUS

rc_start_node() { # rc_start_node PORT BUSPORT
  rcl_start_node "$EOS_WORK/node$1" "$1" "$2"
  RC_PID[$1]=$RCL_PID
  eos_track "$RCL_PID"
}
rc_cli() { rcl_cli "$@"; }
rc_cluster_ok() { rcl_cluster_ok "$@"; }

rc_primaries() { # asks the first node that answers
  local p
  for p in "${RC_PORTS[@]}"; do
    if rcl_answers "$p"; then
      rcl_primaries "$p"
      return 0
    fi
  done
}

rc_replica_of() {
  local p
  for p in "${RC_PORTS[@]}"; do
    if rcl_cli "$p" info replication | tr -d '\r' | grep -qx "master_port:$1"; then
      echo "$p"
      return 0
    fi
  done
}

rc_start() {
  local i p
  for i in 1 2 3 4 5 6; do
    p=$(eos_free_port)
    RC_BUS[$p]=$(eos_free_port)
    RC_PORTS+=("$p")
    rc_start_node "$p" "${RC_BUS[$p]}"
  done
  rcl_create 1 "${RC_PORTS[@]}" 2>"$EOS_WORK/create.log" ||
    eos_die "cannot make the cluster ($(tail -1 "$EOS_WORK/create.log"))"
  mapfile -t RC_PRIM < <(rc_primaries)
}
