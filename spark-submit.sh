#!/usr/bin/env bash
# Run a sparkfs job from jobs/ with spark-submit: Delta's package and settings, UTC, the sparkfs
# package zipped for --py-files, the config file shipped with --files. docs/spark-submit.md
# has the details for local, local-cluster, standalone, YARN and Kubernetes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}
ME=spark-submit.sh

usage() {
  cat <<'EOF'
usage: ./spark-submit.sh [--master M] [--config PATH] [--dry-run] [spark-submit options...]
                         JOB [job args...]

Runs a sparkfs job with spark-submit.

  JOB              a job name (generate_demo) or a path (jobs/generate_demo.py)
  --master M       local[*], local-cluster[2,1,1024], spark://host:7077, yarn, k8s://https://...
                   (default: spark.master from the config, else local[*])
  --config PATH    sparkfs config (default: $SPARKFS_CONFIG, else conf/sparkfs.yaml);
                   shipped with --files and passed to the job as --config
  --dry-run        print the spark-submit command instead of running it
  -h, --help       this text; `./spark-submit.sh JOB --help` shows the job's own options

Any other option before JOB goes to spark-submit unchanged (--conf k=v, --executor-memory 2g,
--deploy-mode cluster, ...); --packages, --py-files and --files are merged with sparkfs' own.
Environment: SPARK_HOME (default: the pyspark pip package), PYTHON (default python3),
PYSPARK_PYTHON (default: $PYTHON's absolute path on local masters).

Examples:
  ./spark-submit.sh generate_demo --rows 100000
  ./spark-submit.sh --master 'local-cluster[2,1,1024]' generate_demo --rows 20000 --out /tmp/demo
EOF
}

die() { printf '%s: %s\n' "$ME" "$*" >&2; exit 2; }

list_jobs() {
  local f names=()
  for f in "$ROOT"/jobs/*.py; do
    f=$(basename "$f" .py)
    case "$f" in _*) ;; *) names+=("$f") ;; esac
  done
  printf '%s' "${names[*]:-none}"
}

MASTER="" CONFIG="${SPARKFS_CONFIG:-}" DRY_RUN=0 JOB=""
PACKAGES="" PY_FILES="" FILES=""
SUBMIT_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --master|--config|--packages|--py-files|--files)
      [ $# -ge 2 ] || die "$1 needs a value"
      case "$1" in
        --master) MASTER=$2 ;; --config) CONFIG=$2 ;; --packages) PACKAGES=$2 ;;
        --py-files) PY_FILES=$2 ;; --files) FILES=$2 ;;
      esac
      shift 2 ;;
    --master=*) MASTER=${1#*=}; shift ;;
    --config=*) CONFIG=${1#*=}; shift ;;
    --packages=*) PACKAGES=${1#*=}; shift ;;
    --py-files=*) PY_FILES=${1#*=}; shift ;;
    --files=*) FILES=${1#*=}; shift ;;
    # spark-submit's options that take no value
    -v|--verbose|--supervise|--version) SUBMIT_ARGS+=("$1"); shift ;;
    --*=*) SUBMIT_ARGS+=("$1"); shift ;;
    -*)
      [ $# -ge 2 ] || die "$1 needs a value (spark-submit option)"
      SUBMIT_ARGS+=("$1" "$2"); shift 2 ;;
    *) JOB=$1; shift; break ;;
  esac
done
[ -n "$JOB" ] || { usage >&2; exit 2; }

# JOB: a name under jobs/ or a path to a .py file (relative to here or to the repository).
case "$JOB" in
  *.py) if [ -f "$JOB" ]; then JOB_FILE=$JOB; else JOB_FILE="$ROOT/$JOB"; fi ;;
  */*) JOB_FILE="$ROOT/$JOB.py" ;;
  *) JOB_FILE="$ROOT/jobs/$JOB.py" ;;
esac
[ -f "$JOB_FILE" ] || die "no job '$JOB' (looked for $JOB_FILE); available jobs: $(list_jobs)"
JOB_FILE=$(cd "$(dirname "$JOB_FILE")" && pwd)/$(basename "$JOB_FILE")

# A job asking for --help needs no config, no jars and no cluster.
for arg in "$@"; do
  case "$arg" in -h|--help) exec env PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
      "$PYTHON" "$JOB_FILE" --help ;; esac
done

# The config: given, $SPARKFS_CONFIG, or conf/sparkfs.yaml here or in the repository.
if [ -z "$CONFIG" ]; then
  for c in conf/sparkfs.yaml "$ROOT/conf/sparkfs.yaml"; do
    if [ -f "$c" ]; then CONFIG=$c; break; fi
  done
fi
[ -n "$CONFIG" ] || die "no config: pass --config PATH or set SPARKFS_CONFIG (template: conf/sparkfs.yaml)"
[ -f "$CONFIG" ] || die "config file not found: $CONFIG; pass --config PATH to an existing file"
CONFIG=$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")

# Validate the config now (seconds, not a Spark startup, to learn of a typo) and read its master.
py() { PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" "$@"; }
CONFIG_MASTER=$(py - "$CONFIG" <<'EOF'
import sys
from sparkfs.config import load_config
from sparkfs.errors import SparkfsError
try:
    print(load_config(sys.argv[1]).spark.master)
except SparkfsError as exc:
    sys.exit(f"spark-submit.sh: {exc}")
EOF
) || exit 1
MASTER=${MASTER:-${CONFIG_MASTER:-local[*]}}

# spark-submit: $SPARK_HOME's, else the one inside the pyspark pip package. local-cluster
# launches executor JVMs through $SPARK_HOME/bin and $SPARK_HOME/jars: the pip package has both.
if [ -z "${SPARK_HOME:-}" ]; then
  SPARK_HOME=$(py -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
fi
export SPARK_HOME
SUBMIT="$SPARK_HOME/bin/spark-submit"
[ -x "$SUBMIT" ] || die "no spark-submit at $SUBMIT; set SPARK_HOME to a Spark 4 installation"

COORD=$(py -m sparkfs.jars coordinate) || die "could not work out Delta's Maven coordinate"
PACKAGES="$COORD${PACKAGES:+,$PACKAGES}"

# Ship sparkfs and jobs/ (for jobs._bootstrap) as one zip, built fresh for this run.
BUILD=$(mktemp -d "${TMPDIR:-/tmp}/sparkfs-submit.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT
py - "$ROOT" "$BUILD/sparkfs.zip" <<'EOF'
import sys, zipfile
from pathlib import Path
root, out = Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
    for pkg in ("sparkfs", "jobs"):
        for f in sorted((root / pkg).rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix in (".py", ".typed"):
                zf.write(f, f.relative_to(root).as_posix())
EOF
PY_FILES="$BUILD/sparkfs.zip${PY_FILES:+,$PY_FILES}"
FILES="$CONFIG${FILES:+,$FILES}"

# The job processes see SPARKFS_SUBMITTED=1: sparkfs.session then leaves master and packages to
# spark-submit. Cluster deploy modes start the driver elsewhere, so pass it there as well.
export SPARKFS_SUBMITTED=1
CONFS=(
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog
  --conf spark.sql.session.timeZone=UTC
  --conf spark.executorEnv.SPARKFS_SUBMITTED=1
)
case "$MASTER" in
  local*)
    # Driver and executors run here: use this Python (the one sparkfs is installed in).
    PY_ABS=$(command -v "$PYTHON") || die "$PYTHON not found; set PYTHON"
    export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$PY_ABS}
    export PYSPARK_DRIVER_PYTHON=${PYSPARK_DRIVER_PYTHON:-$PY_ABS} ;;
  yarn*) CONFS+=(--conf spark.yarn.appMasterEnv.SPARKFS_SUBMITTED=1) ;;
  k8s://*) CONFS+=(--conf spark.kubernetes.driverEnv.SPARKFS_SUBMITTED=1) ;;
esac

CMD=("$SUBMIT" --master "$MASTER" --packages "$PACKAGES" --py-files "$PY_FILES"
     --files "$FILES" "${CONFS[@]}" ${SUBMIT_ARGS[@]+"${SUBMIT_ARGS[@]}"}
     "$JOB_FILE" --config "$CONFIG" "$@")
if [ "$DRY_RUN" = 1 ]; then
  printf '%q ' "${CMD[@]}"; printf '\n'
  exit 0
fi
"${CMD[@]}"
