#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway PostgreSQL cluster for tests, benchmarks and the demo: Debian's
# `postgresql` package, an unprivileged cluster in DIR on a free loopback port.
#
#   scripts/postgres-server.sh start DIR     # prints SLUICE_POSTGRES_URL=postgresql://...
#   scripts/postgres-server.sh restart DIR   # fast shutdown and start: same port, same data
#   scripts/postgres-server.sh stop DIR      # DIR can be deleted afterwards
#   scripts/postgres-server.sh start-again DIR   # after stop: same port, same data
#   scripts/postgres-server.sh psql DIR ARGS...   # psql on that cluster
#
# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# `postgres` user (made by the package; a `sluice-pg` system user is created
# when it is missing) and the server tools run through runuser. Trust
# authentication on 127.0.0.1 only: a test cluster, not a deployment.
set -euo pipefail

die() { echo "postgres-server.sh: $*" >&2; exit 1; }

pg_bin() {
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [[ -n "$b" && -x "$b/initdb" ]] || die "PostgreSQL server not found in /usr/lib/postgresql/*/bin: run scripts/setup.sh --test"
  echo "$b"
}

# The command prefix that runs the server tools as an unprivileged user.
as_owner() {
  if [[ $(id -u) != 0 ]]; then
    return
  fi
  local user=postgres
  if ! id "$user" >/dev/null 2>&1; then
    user=sluice-pg
    id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  echo "runuser -u $user --"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

url_of() { echo "postgresql://postgres@127.0.0.1:$(cat "$1/port")/postgres"; }

start() {
  local dir="$1" bin run port
  bin=$(pg_bin)
  run=$(as_owner)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    die "a server is already running from $dir; stop it first"
  fi
  rm -rf "$dir/data"
  port=$(free_port)
  echo "$port" >"$dir/port"
  if [[ -n "$run" ]]; then
    chown "$(echo "$run" | awk '{print $3}')" "$dir" # the user after `runuser -u`
    chmod 755 "$dir"
    # The server's user must reach DIR. Private temp dirs above it (mktemp -d
    # makes them 0700) get search permission only, never read; anything else
    # is left alone.
    local up="$dir" tmp
    tmp=$(cd "${TMPDIR:-/tmp}" && pwd)
    if ! $run test -x "$dir"; then
      while up=$(dirname "$up") && [[ "$up" == "$tmp"/* ]]; do
        [[ -O "$up" ]] && chmod o+x "$up"
      done
    fi
    $run test -x "$dir" ||
      die "$dir is not reachable by the server's user ($(echo "$run" | awk '{print $3}')): use a directory under ${TMPDIR:-/tmp}"
  fi
  $run "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -n3 "$dir/initdb.log")"
  start_again "$dir"
  echo "SLUICE_POSTGRES_URL=$(url_of "$dir")"
}

start_again() {
  local dir="$1"
  $(as_owner) "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $(cat "$dir/port") -k $dir -c listen_addresses=127.0.0.1" start >/dev/null ||
    die "the server did not start: $(tail -n5 "$dir/server.log")"
}

restart() {
  local dir="$1"
  $(as_owner) "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -m fast restart >/dev/null ||
    die "restart failed: $(tail -n5 "$dir/server.log")"
}

stop() {
  local dir="$1"
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  $(as_owner) "$(pg_bin)/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null ||
    die "stop failed: $(tail -n5 "$dir/server.log")"
}

cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || die "usage: postgres-server.sh start|start-again|restart|stop|psql DIR [ARGS...]"
case "$cmd" in
  start) start "$dir" ;;
  start-again) start_again "$(cd "$dir" && pwd)" ;;
  restart) restart "$dir" ;;
  stop) stop "$dir" ;;
  psql) shift 2; psql "$(url_of "$dir")" -v ON_ERROR_STOP=1 -X -q "$@" ;;
  *) die "unknown command '$cmd' (start, restart, stop, psql)" ;;
esac
