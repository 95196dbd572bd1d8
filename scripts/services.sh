#!/usr/bin/env bash
# Starts what the Rust tests need and waits until it answers: PostgreSQL on
# 127.0.0.1:5432 (the tests create a database of their own per test).
# Usage: scripts/services.sh
set -euo pipefail

ready() { pg_isready -h 127.0.0.1 -p 5432 -q; }

if ! ready; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
for _ in $(seq 60); do
  ready && exit 0
  sleep 0.5
done
echo "PostgreSQL did not answer on 127.0.0.1:5432 within 30 s" >&2
exit 1
