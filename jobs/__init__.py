"""Thin ``spark-submit`` entry points: parse arguments, load the config, build the session and
call into :mod:`sparkfs`. Run them with ``./spark-submit.sh JOB`` (see docs/spark-submit.md)."""
