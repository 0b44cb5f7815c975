#!/usr/bin/env bash
# The README's main command: set up, start a private redis-server, and run the whole pipeline
# (generate demo data, apply, materialize, training set, online sync, lookup) on the embedded
# defaults. State goes to .sparkfs/ in the repository (override with SPARKFS_HOME=DIR).
#   ROWS=1000000 bash scripts/quickstart.sh     # a bigger demo
#   bash scripts/quickstart.sh --json           # the whole summary as JSON
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SPARKFS_HOME=${SPARKFS_HOME:-$PWD}
mkdir -p "$SPARKFS_HOME/.sparkfs"

CMD=(python3 -m sparkfs.cli --config conf/sparkfs.yaml demo run --rows "${ROWS:-100000}" "$@")
if [ -z "${SPARKFS_REDIS_URL:-}" ]; then
  # a private redis-server for this run, stopped (with its directory) when the run ends
  exec bash scripts/with-redis.sh "${CMD[@]}"
fi
exec "${CMD[@]}"
