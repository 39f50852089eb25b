#!/usr/bin/env bash
# Start the local PostgreSQL if it is not running, then create a fresh, empty test database.
set -euo pipefail
url=${1:-postgresql+psycopg://postgres@127.0.0.1:5432/oneslot_test}
db=${url##*/}
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "Starting PostgreSQL…"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\""
echo "PostgreSQL test database $db is ready."
