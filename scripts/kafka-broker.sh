#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway single-node Apache Kafka (KRaft) broker for the integration tests.
#
#   scripts/kafka-broker.sh start DIR   # prints SLUICE_TEST_KAFKA_BROKERS=127.0.0.1:PORT
#   scripts/kafka-broker.sh stop DIR
#   scripts/kafka-broker.sh start-again DIR   # after stop: same port, same data
#
# DIR holds the broker's config, data, log and pid; it is created by start and
# can be deleted after stop. start-again restarts a stopped broker from DIR
# with its port, cluster id and data (fault-injection tests: broker down and
# back up); start always begins with an empty broker on new ports. The jars come from Maven Central through
# tests/kafka/pom.xml into tests/kafka/jars (fetched once, then reused).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jars="$here/tests/kafka/jars"

die() { echo "kafka-broker.sh: $*" >&2; exit 1; }

fetch_jars() {
  if compgen -G "$jars/kafka_2.13-*.jar" >/dev/null; then
    return
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven to fetch the Kafka jars"
  echo "kafka-broker.sh: fetching Kafka jars into $jars" >&2
  if ! mvn -q -B -f "$here/tests/kafka/pom.xml" dependency:copy-dependencies >&2; then
    die "could not fetch the Kafka jars with Maven (see the error above)"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir="$1"
  command -v java >/dev/null || die "java not found (Kafka 4 needs Java 17+)"
  fetch_jars
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    die "a broker is already running from $dir (pid $(cat "$dir/pid")); stop it first"
  fi
  local port cport
  port="$(free_port)"
  cport="$(free_port)"
  while [[ "$cport" == "$port" ]]; do cport="$(free_port)"; done
  rm -rf "$dir/data"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
PROPS
  cat >"$dir/log4j2.properties" <<'PROPS'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
PROPS
  local cp="$jars/*"
  local jvm=(-Xms256m -Xmx512m "-Dkafka.logs.dir=$dir" "-Dlog4j2.configurationFile=$dir/log4j2.properties")
  local cluster_id
  cluster_id="$(java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool random-uuid 2>"$dir/format.log" | tail -n1)"
  [[ -n "$cluster_id" ]] || die "StorageTool random-uuid failed: $(cat "$dir/format.log")"
  # Static quorum (controller.quorum.voters), so no --standalone.
  java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$dir/server.properties" >>"$dir/format.log" 2>&1 \
    || die "formatting the storage failed: $(tail -n 20 "$dir/format.log")"
  echo "127.0.0.1:$port" >"$dir/brokers"
  : >"$dir/stdout.log"
  launch "$dir"
}

# launch DIR: run the broker of DIR's server.properties (storage formatted)
# and wait until it answers metadata requests.
launch() {
  local dir="$1" port
  port="$(sed -n 's/^127\.0\.0\.1://p' "$dir/brokers")"
  local cp="$jars/*"
  local jvm=(-Xms256m -Xmx512m "-Dkafka.logs.dir=$dir" "-Dlog4j2.configurationFile=$dir/log4j2.properties")
  nohup java "${jvm[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" \
    >>"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  # Ready when a metadata request answers; bounded to 60 s.
  local i
  for i in $(seq 1 120); do
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      die "the broker exited during startup: $(tail -n 20 "$dir/stdout.log" "$dir/server.log" 2>/dev/null)"
    fi
    if kcat -L -b "127.0.0.1:$port" -m 2 >/dev/null 2>&1; then
      echo "SLUICE_TEST_KAFKA_BROKERS=127.0.0.1:$port"
      return 0
    fi
    sleep 0.5
  done
  stop "$dir" || true
  die "the broker did not answer metadata requests within 60 s (see $dir/server.log)"
}

start_again() {
  local dir="$1"
  [[ -f "$dir/server.properties" && -f "$dir/brokers" && -d "$dir/data" ]] ||
    die "no stopped broker in $dir (run start first)"
  dir="$(cd "$dir" && pwd)"
  if [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    die "the broker of $dir is still running (pid $(cat "$dir/pid")); stop it first"
  fi
  fetch_jars
  launch "$dir"
}

stop() {
  local dir="$1"
  [[ -f "$dir/pid" ]] || { echo "kafka-broker.sh: no broker pid in $dir" >&2; return 0; }
  local pid
  pid="$(cat "$dir/pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    local i
    for i in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "kafka-broker.sh: broker $pid did not stop in 30 s, killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/pid"
}

case "${1:-}" in
  start) [[ $# -eq 2 ]] || die "usage: $0 start DIR"; start "$2" ;;
  stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
  start-again) [[ $# -eq 2 ]] || die "usage: $0 start-again DIR"; start_again "$2" ;;
  *) echo "usage: $0 start DIR | stop DIR | start-again DIR" >&2; exit 2 ;;
esac
