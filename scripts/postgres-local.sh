#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1 for the tests, installing Debian's
# `postgresql` package when the machine has no server binaries.
#
#   scripts/postgres-local.sh ensure   start if needed; prints the URL as the last line
#   scripts/postgres-local.sh stop     stop the cluster this script started
#   scripts/postgres-local.sh status   print the URL if a server answers, else exit 1
#
# Environment: LEADLEDGER_PG_PORT (default 5432), LEADLEDGER_PG_DATA (default
# /var/tmp/leadledger-pgdata as root, which the postgres user can reach; else
# ~/.cache/leadledger/pgdata). The cluster is a throwaway test cluster: fsync is off.
set -euo pipefail

port="${LEADLEDGER_PG_PORT:-5432}"
if [[ "$(id -u)" == 0 ]]; then
  data="${LEADLEDGER_PG_DATA:-/var/tmp/leadledger-pgdata}"
else
  data="${LEADLEDGER_PG_DATA:-$HOME/.cache/leadledger/pgdata}"
fi
url="postgresql://leadledger:leadledger@127.0.0.1:$port/leadledger"

say() { echo "postgres-local: $*" >&2; }

# Run a command as the cluster's owner: postgres refuses to run as root.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$dir" && -x "$dir/postgres" ]] && echo "$dir"
}

answers() {
  local dir
  dir="$(bindir)" || return 1
  "$dir/pg_isready" -q -h 127.0.0.1 -p "$port"
}

install_server() {
  say "no PostgreSQL server binaries found; installing Debian's postgresql package"
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { say "need root or sudo to apt-get install postgresql"; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  # Debian's package starts its own 'main' cluster on 5432; ours replaces it on that port.
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters --no-header 2>/dev/null | while read -r version cluster _; do
      $sudo pg_ctlcluster "$version" "$cluster" stop 2>/dev/null || true
    done
  fi
}

start_cluster() {
  local dir="$1"
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
    mkdir -p "$data"
    chown postgres: "$data"
    chmod 700 "$data"
  else
    mkdir -p "$data" && chmod 700 "$data"
  fi
  if [[ ! -f "$data/PG_VERSION" ]]; then
    say "initialising a cluster in $data"
    as_owner "$dir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $port"
      echo "unix_socket_directories = '$data'"
      echo "fsync = off                  # a throwaway test cluster"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
      echo "max_connections = 200"
    } >> "$data/postgresql.conf"
  fi
  # A postmaster.pid left by a killed server blocks the start; pg_ctl status tells.
  if [[ -f "$data/postmaster.pid" ]] && ! as_owner "$dir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "removing a stale postmaster.pid"
    rm -f "$data/postmaster.pid"
  fi
  say "starting PostgreSQL on 127.0.0.1:$port"
  as_owner "$dir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >&2 || {
    say "the server did not start; last lines of $data/server.log:"
    tail -n 30 "$data/server.log" >&2
    exit 1
  }
}

ensure_role_and_database() {
  local dir="$1" psql=("$1/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  if ! "${psql[@]}" -c "select 1" >/dev/null 2>&1; then
    # A server this script did not start: try the local superuser over the socket.
    psql=(as_owner "$dir/psql" -p "$port" -d postgres -v ON_ERROR_STOP=1 -qtA)
  fi
  if [[ "$("${psql[@]}" -c "select 1 from pg_roles where rolname = 'leadledger'")" != 1 ]]; then
    "${psql[@]}" -c "create role leadledger login superuser password 'leadledger'" >&2
  fi
  if [[ "$("${psql[@]}" -c "select 1 from pg_database where datname = 'leadledger'")" != 1 ]]; then
    "${psql[@]}" -c "create database leadledger owner leadledger" >&2
  fi
}

ensure() {
  local dir
  dir="$(bindir)" || { install_server; dir="$(bindir)"; }
  answers || start_cluster "$dir"
  ensure_role_and_database "$dir"
  echo "$url"
}

case "${1:-ensure}" in
  ensure) ensure ;;
  stop)
    dir="$(bindir)" && [[ -f "$data/postmaster.pid" ]] && as_owner "$dir/pg_ctl" -D "$data" -m fast stop >&2
    ;;
  status) answers && echo "$url" ;;
  *) echo "usage: $0 ensure|stop|status" >&2; exit 2 ;;
esac
