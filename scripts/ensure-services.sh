#!/usr/bin/env bash
# Start PostgreSQL on 127.0.0.1:5432 if it is not answering (tests use a real server).
set -euo pipefail
if [ "${VISIONFLOW_TEST_SKIP_POSTGRES:-0}" = "1" ]; then
  exit 0
fi
ready() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
if ready; then
  exit 0
fi
echo "PostgreSQL is not running: starting it" >&2
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
elif command -v service >/dev/null 2>&1; then
  service postgresql start || true
fi
for _ in $(seq 1 30); do
  ready && exit 0
  sleep 1
done
echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
