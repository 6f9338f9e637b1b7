# SPDX-License-Identifier: Apache-2.0
# A Redis Cluster of three primaries and three replicas on loopback for the
# e2e scripts (sourced after lib/eos.sh, whose eos_die, eos_track,
# eos_free_port, eos_wait_until and EOS_WORK it uses):
#   rc_start                 six nodes, redis-cli --cluster create, every
#                            primary's replica in sync; sets RC_PORTS (all
#                            nodes) and RC_PRIM (the primaries)
#   rc_start_node PORT BUS   (re)start one node in its own directory
#   rc_cli PORT ARGS...      redis-cli on a node, errors ignored
#   rc_primaries             the primaries' ports (CLUSTER NODES of a live node)
#   rc_cluster_ok PORTS...   every named node reports cluster_state:ok
#   rc_replica_of PORT       the port of PORT's replica
# A short node timeout keeps failovers short: a replica takes over ~2 s
# after its primary is killed. Every wait is bounded.

RC_PORTS=()
RC_PRIM=()
declare -A RC_PID RC_BUS

rc_start_node() { # rc_start_node PORT BUSPORT
  mkdir -p "$EOS_WORK/node$1"
  # The bus port is explicit (port + 10000 may not exist).
  redis-server --port "$1" --bind 127.0.0.1 --dir "$EOS_WORK/node$1" --save '' \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 1000 \
    --cluster-port "$2" --repl-diskless-sync-delay 0 --daemonize no \
    --logfile "$EOS_WORK/node$1.log" </dev/null &
  RC_PID[$1]=$!
  eos_track $!
}

rc_cli() { redis-cli -p "$1" "${@:2}" 2>/dev/null || true; }

rc_answers() { [[ $(rc_cli "$1" ping) == PONG ]]; }

rc_cluster_ok() {
  local p
  for p in "$@"; do rc_cli "$p" cluster info | grep -q 'cluster_state:ok' || return 1; done
}

rc_primaries() {
  local p
  for p in "${RC_PORTS[@]}"; do
    if rc_answers "$p"; then
      rc_cli "$p" cluster nodes |
        awk '$3 ~ /master/ && $3 !~ /fail/ {split($2, a, "[:@]"); print a[2]}'
      return 0
    fi
  done
}

rc_synced() { # every primary has its replica online
  local p
  for p in $(rc_primaries); do
    rc_cli "$p" info replication | grep -q 'connected_slaves:1' || return 1
  done
}

rc_replica_of() {
  local p
  for p in "${RC_PORTS[@]}"; do
    if rc_cli "$p" info replication | tr -d '\r' | grep -qx "master_port:$1"; then
      echo "$p"
      return 0
    fi
  done
}

rc_start() {
  local i p nodes=()
  for i in 1 2 3 4 5 6; do
    p=$(eos_free_port)
    RC_BUS[$p]=$(eos_free_port)
    RC_PORTS+=("$p")
    rc_start_node "$p" "${RC_BUS[$p]}"
  done
  for p in "${RC_PORTS[@]}"; do eos_wait_until 20 "redis-server :$p up" rc_answers "$p"; done
  for p in "${RC_PORTS[@]}"; do nodes+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes \
    >"$EOS_WORK/create.log" 2>&1 </dev/null || eos_die "redis-cli --cluster create failed"
  eos_wait_until 30 "cluster_state:ok on every node" rc_cluster_ok "${RC_PORTS[@]}"
  eos_wait_until 30 "every primary's replica in sync" rc_synced
  mapfile -t RC_PRIM < <(rc_primaries)
}
