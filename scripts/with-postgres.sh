#!/usr/bin/env bash
# Run a command against a throw-away PostgreSQL cluster: initdb in a temporary directory, a private
# socket and port, stopped and removed on exit. Used by `make test-pg` and `.ci/run`.
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user (created if missing).
set -euo pipefail
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  echo "PostgreSQL est introuvable (paquet postgresql ; PG_BIN=$PG_BIN)." >&2
  exit 1
fi
PG_PORT="${PG_PORT:-54329}"
PG_DIR="$(mktemp -d /tmp/amiable-pg.XXXXXX)"
chmod 755 "$PG_DIR"

as_pg() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if [ "$(id -u)" = "0" ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  chown postgres "$PG_DIR"
fi

stop() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap stop EXIT

as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -o \
  "-k $PG_DIR -p $PG_PORT -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') prêt (socket $PG_DIR, port $PG_PORT)."

export DATABASE_URL="postgres://postgres@/amiable?host=$PG_DIR&port=$PG_PORT"
"$@"
