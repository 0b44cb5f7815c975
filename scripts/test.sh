#!/usr/bin/env bash
# The README's test command: set up (idempotent), then run the whole suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"` for the fast set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the house rules first: lint and types (pyproject.toml configures both), then the tests
python3 -m ruff check .
python3 -m mypy
exec python3 -m pytest "$@"
