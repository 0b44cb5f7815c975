#!/usr/bin/env bash
# Install everything sparkfs needs on a fresh machine; safe to rerun (each step is skipped when
# already done). Used by the README's commands and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

log() { printf '[setup] %s\n' "$*" >&2; }

# 1. redis-server / redis-cli: the online store, and the tests start their own servers.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  log "installing redis-server and redis-tools from Debian"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
  # Debian's package starts a system service on 6379; sparkfs never relies on it.
fi

# 1b. PostgreSQL's server binaries: tests of the registry on PostgreSQL (governance.identity:
# database) start their own server on a free port and data directory. Debian's package also
# starts a system cluster on 5432; sparkfs never relies on it.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing postgresql from Debian"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# 1c. Graphviz (`dot` draws the lineage graphs of the catalog and the report) and Debian's
# chromium (the catalog's browser tests drive it headless through Playwright; no browser
# download, Playwright is pointed at /usr/bin/chromium).
if ! command -v dot >/dev/null || ! command -v chromium >/dev/null; then
  log "installing graphviz and chromium from Debian"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq graphviz chromium >/dev/null
fi

# 2. Java: Spark needs a JRE (17 is what Spark 4 supports).
if ! command -v java >/dev/null; then
  log "installing a Java 17 runtime"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

# 3. The package with its pinned Spark/Delta pair and the dev tools (pytest, chispa, ...).
# A stamp named after pyproject.toml's hash tells whether this environment already has exactly
# these dependencies; a changed pyproject.toml (a new or re-pinned dependency) reinstalls.
STAMP="$($PY -c 'import sys; print(sys.prefix)')/.sparkfs-deps-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$STAMP" ] || ! $PY -c "import sparkfs, pyspark, delta, chispa, hypothesis, duckdb, psycopg, alembic, openlineage.client, jinja2, playwright" 2>/dev/null; then
  log "pip installing sparkfs[dev]"
  $PY -m pip install -q --disable-pip-version-check -e ".[dev]"
  touch "$STAMP" 2>/dev/null || true
else
  # cheap re-run: make sure the editable install points at this checkout
  $PY -m pip install -q --disable-pip-version-check --no-deps -e . >/dev/null
fi

# 4. Delta's jars. delta-spark's configure_spark_with_delta_pip only sets spark.jars.packages;
# Spark's Ivy resolves it (~/.m2 first, then the Ivy cache, then Maven Central). One tiny local
# job fills the Ivy cache now, so later runs (tests, jobs) need no network, and records the
# resolved jar files (~/.cache/sparkfs) so sessions sparkfs starts skip Ivy. If Ivy cannot reach
# Maven Central, Maven fills ~/.m2 and Ivy resolves from there.
if ! $PY -m sparkfs.jars check; then
  log "resolving Delta's jars into the Ivy cache"
  if ! $PY -m sparkfs.jars warm; then
    log "Ivy could not resolve; asking Maven to fill ~/.m2"
    mvn -q dependency:get -Dartifact="$($PY -m sparkfs.jars coordinate)"
    $PY -m sparkfs.jars warm
  fi
fi
log "ready"
