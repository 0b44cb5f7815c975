#!/usr/bin/env bash
# The README's main command: set up, start a private redis-server, and run the whole pipeline
# (generate demo data, apply, materialize, training set, online sync, lookup) on the embedded
# defaults. State goes to .sparkfs/ in the repository (override with SPARKFS_HOME=DIR).
#   ROWS=1000000 bash scripts/quickstart.sh     # a bigger demo
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SPARKFS_HOME=${SPARKFS_HOME:-$PWD}
mkdir -p "$SPARKFS_HOME/.sparkfs"

if [ -z "${SPARKFS_REDIS_URL:-}" ]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  REDIS_DIR=$(mktemp -d)
  redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$REDIS_DIR" \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" >/dev/null
  trap 'kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null || true; rm -rf "$REDIS_DIR"' EXIT
  for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export SPARKFS_REDIS_URL="redis://127.0.0.1:$PORT/0"
  echo "[quickstart] redis-server on $SPARKFS_REDIS_URL" >&2
fi
exec python3 -m sparkfs.cli --config conf/sparkfs.yaml demo run --rows "${ROWS:-100000}"
