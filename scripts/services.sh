#!/usr/bin/env bash
# Starts what the Rust tests need and waits until it answers: PostgreSQL on
# 127.0.0.1:5432 (the tests create a database of their own per test) and
# Redis on 127.0.0.1:6379 (the tests use a key prefix of their own; tests
# that stop Redis start a redis-server of their own on a free port).
# Usage: scripts/services.sh
set -euo pipefail

pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q; }
redis_ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_ready; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
if ! redis_ready; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for() { # name, check
  for _ in $(seq 60); do
    "$2" && return 0
    sleep 0.5
  done
  echo "$1 did not answer within 30 s" >&2
  exit 1
}
wait_for "PostgreSQL on 127.0.0.1:5432" pg_ready
wait_for "Redis on 127.0.0.1:6379" redis_ready
