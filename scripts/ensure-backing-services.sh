#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ answer at the configured URLs (DATABASE_URL, AMQP_URL).
# Starts local servers that are installed but stopped; installs them with apt when missing and
# running as root; otherwise says exactly what to install. Idempotent: safe to run every time.
set -euo pipefail

DATABASE_URL=${DATABASE_URL:-postgresql://cityline:cityline@127.0.0.1:5432/cityline}
AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}

url_part() {  # url_part URL host|port|user|password DEFAULT
  python3 - "$1" "$2" "$3" <<'PY'
import sys
from urllib.parse import urlsplit
url, part, default = sys.argv[1:]
parsed = urlsplit(url.replace("+psycopg2", ""))
value = {"host": parsed.hostname, "port": parsed.port, "user": parsed.username, "password": parsed.password}[part]
print(value if value else default)
PY
}

reachable() { python3 -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)" "$1" "$2" 2>/dev/null; }
is_local() { [[ "$1" == "127.0.0.1" || "$1" == "localhost" || "$1" == "::1" ]]; }
am_root() { [[ "$(id -u)" == "0" ]]; }
apt_install() {
  echo "installing $* with apt-get…"
  if [[ ! -f /var/lib/apt/periodic/update-success-stamp && -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]]; then apt-get update -qq; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}
wait_for() {  # wait_for HOST PORT NAME SECONDS
  for _ in $(seq 1 "$4"); do reachable "$1" "$2" && return 0; sleep 1; done
  echo "$3 did not come up on $1:$2 within $4 s" >&2; return 1
}

pg_host=$(url_part "$DATABASE_URL" host 127.0.0.1); pg_port=$(url_part "$DATABASE_URL" port 5432)
pg_user=$(url_part "$DATABASE_URL" user postgres); pg_pass=$(url_part "$DATABASE_URL" password "")
mq_host=$(url_part "$AMQP_URL" host 127.0.0.1); mq_port=$(url_part "$AMQP_URL" port 5672)

# --- PostgreSQL ---------------------------------------------------------------------------
if ! reachable "$pg_host" "$pg_port"; then
  is_local "$pg_host" || { echo "PostgreSQL at $pg_host:$pg_port is not reachable (DATABASE_URL)." >&2; exit 1; }
  if ! command -v pg_ctlcluster >/dev/null; then
    am_root || { echo "PostgreSQL is not installed. Install it: sudo apt-get install -y postgresql" >&2; exit 1; }
    apt_install postgresql
  fi
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  done
  wait_for "$pg_host" "$pg_port" PostgreSQL 30
fi
# The application role: created once, locally, when we may (root can act as the postgres user).
if is_local "$pg_host" && am_root && command -v psql >/dev/null && [[ "$pg_user" != "postgres" ]]; then
  exists=$(su postgres -c "psql -p $pg_port -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$pg_user'\"" 2>/dev/null || true)
  if [[ "$exists" != "1" ]]; then
    su postgres -c "psql -p $pg_port -qc \"CREATE ROLE \\\"$pg_user\\\" LOGIN CREATEDB PASSWORD '$pg_pass'\"" >/dev/null
    echo "created PostgreSQL role $pg_user"
  fi
fi
echo "PostgreSQL: reachable at $pg_host:$pg_port"

# --- RabbitMQ -----------------------------------------------------------------------------
if ! reachable "$mq_host" "$mq_port"; then
  is_local "$mq_host" || { echo "RabbitMQ at $mq_host:$mq_port is not reachable (AMQP_URL)." >&2; exit 1; }
  if ! command -v rabbitmq-server >/dev/null; then
    am_root || { echo "RabbitMQ is not installed. Install it: sudo apt-get install -y rabbitmq-server" >&2; exit 1; }
    apt_install rabbitmq-server
  fi
  am_root || { echo "RabbitMQ is installed but stopped; start it: sudo rabbitmq-server -detached" >&2; exit 1; }
  rabbitmq-server -detached 2>/dev/null || true
  rabbitmqctl -q await_startup --timeout 90 >/dev/null 2>&1 || true
  wait_for "$mq_host" "$mq_port" RabbitMQ 90
fi
echo "RabbitMQ: reachable at $mq_host:$mq_port"
