#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer; start them when
# installed but stopped; fail loudly when they cannot be reached. Never skip silently.
set -euo pipefail
PG_HOST=${PG_HOST:-127.0.0.1}; PG_PORT=${PG_PORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}; REDIS_PORT=${REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }
redis_up() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is not answering; starting it."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if ! redis_up; then
  if command -v redis-server >/dev/null; then
    echo "Redis is not answering; starting it."
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no
    for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  fi
fi

pg_up || { echo "FATAL: PostgreSQL is not reachable on $PG_HOST:$PG_PORT (is it installed?)." >&2; exit 1; }
redis_up || { echo "FATAL: Redis is not reachable on $REDIS_HOST:$REDIS_PORT (is it installed?)." >&2; exit 1; }
echo "PostgreSQL on $PG_HOST:$PG_PORT and Redis on $REDIS_HOST:$REDIS_PORT are up."
