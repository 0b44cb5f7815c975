#!/usr/bin/env bash
# Run a command with a private redis-server on a free loopback port (no persistence, its own
# temporary directory), exported as SPARKFS_REDIS_URL; the server and its directory are removed
# when the command ends, fails or is interrupted. Exits with the command's exit code.
#   bash scripts/with-redis.sh python3 -m sparkfs.cli demo run
set -euo pipefail
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REDIS_DIR=$(mktemp -d)
cleanup() {
  if [ -f "$REDIS_DIR/redis.pid" ]; then
    PID=$(cat "$REDIS_DIR/redis.pid")
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$REDIS_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$REDIS_DIR" \
  --daemonize yes --pidfile "$REDIS_DIR/redis.pid" >/dev/null
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
export SPARKFS_REDIS_URL="redis://127.0.0.1:$PORT/0"
echo "[with-redis] redis-server on $SPARKFS_REDIS_URL (stopped when the command ends)" >&2
# not exec: the EXIT trap must run after the command
set +e
"$@"
status=$?
set -e
exit "$status"
