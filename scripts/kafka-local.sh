#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft) on 127.0.0.1, from Apache's own jars on
# Maven Central, for development and tests where no Docker engine runs.
#
#   scripts/kafka-local.sh fetch    download the broker jars (once) into the cache
#   scripts/kafka-local.sh start    fetch, format storage (once), start; prints the
#                                   bootstrap address as the last line of stdout
#   scripts/kafka-local.sh stop     stop the broker started from this cache
#   scripts/kafka-local.sh status   print the bootstrap address if running, else exit 1
#   scripts/kafka-local.sh reset    stop and delete the broker's data (not the jars)
#   scripts/kafka-local.sh log      print the path of the broker's log file
#
# Environment: LEADLEDGER_KAFKA_HOME (cache, default ~/.cache/leadledger/kafka),
# LEADLEDGER_KAFKA_PORT (default 19092; the controller uses the port after it).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
home="${LEADLEDGER_KAFKA_HOME:-$HOME/.cache/leadledger/kafka}"
port="${LEADLEDGER_KAFKA_PORT:-19092}"
controller_port="$((port + 1))"
libs="$home/libs"
state="$home/state-$port"
pidfile="$state/broker.pid"
logfile="$state/broker.log"
heap="${LEADLEDGER_KAFKA_HEAP:--Xms256m -Xmx512m}"

say() { echo "kafka-local: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

running_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then echo "$pid"; return 0; fi
  rm -f "$pidfile"  # stale: the process is gone
  return 1
}

fetch() {
  # The pom's checksum names the fetched set, so editing the versions refetches.
  local stamp
  stamp="$libs/.fetched-$(sha256sum "$here/kafka/pom.xml" | cut -c1-16)"
  [[ -f "$stamp" ]] && return 0
  command -v mvn >/dev/null || { say "Maven (mvn) is needed to fetch Kafka's jars"; exit 1; }
  command -v java >/dev/null || { say "Java 17+ is needed to run the broker"; exit 1; }
  say "fetching Apache Kafka's jars from Maven Central into $libs"
  rm -rf "$libs"
  mkdir -p "$libs"
  mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  touch "$stamp"
}

# shellcheck disable=SC2086  # $heap holds two JVM options on purpose
java_cmd() { java $heap -Dlog4j2.configurationFile="$here/kafka/log4j2.yaml" -cp "$libs/*" "$@"; }

configure() {
  mkdir -p "$state"
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@STATE@|$state|g" \
    "$here/kafka/server.properties" > "$state/server.properties"
  if [[ ! -f "$state/data/meta.properties" ]]; then
    say "formatting storage in $state/data"
    local cluster_id
    cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    # --standalone: this node alone is the controller quorum (controller.quorum.bootstrap.servers).
    if ! java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" \
      --standalone > "$state/format.log" 2>&1; then
      say "formatting failed:"; tail -n 30 "$state/format.log" >&2; exit 1
    fi
  fi
}

start() {
  if pid="$(running_pid)" && port_open; then
    say "already running (pid $pid)"
    echo "127.0.0.1:$port"
    return 0
  fi
  fetch
  configure
  if port_open; then
    say "port $port is taken by another process; set LEADLEDGER_KAFKA_PORT"
    exit 1
  fi
  say "starting the broker on 127.0.0.1:$port (log: $logfile)"
  local started=$SECONDS
  # shellcheck disable=SC2086
  setsid nohup java $heap -Dlog4j2.configurationFile="$here/kafka/log4j2.yaml" -cp "$libs/*" \
    kafka.Kafka "$state/server.properties" > "$logfile" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  # Ready means the broker says it started, not merely that the port accepts connections.
  for _ in $(seq 1 180); do
    if ! running_pid > /dev/null; then
      say "the broker exited during start; last lines of $logfile:"
      tail -n 50 "$logfile" >&2
      exit 1
    fi
    if port_open && grep -q "Kafka Server started" "$logfile"; then
      say "ready in $((SECONDS - started)) s"
      echo "127.0.0.1:$port"
      return 0
    fi
    sleep 0.5
  done
  say "the broker did not become ready in 90 s; last lines of $logfile:"
  tail -n 50 "$logfile" >&2
  stop
  exit 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    say "not running"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; say "stopped"; return 0; }
    sleep 0.5
  done
  say "no clean stop in 30 s; killing $pid"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

status() {
  if running_pid > /dev/null && port_open; then echo "127.0.0.1:$port"; else return 1; fi
}

case "${1:-start}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$state"; say "deleted $state" ;;
  log) echo "$logfile" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset|log" >&2; exit 2 ;;
esac
