"""Scheduled runs of the online feature views: Airflow DAG files and an equivalent crontab.

Each online view gets one pipeline, the same in both renderings (:mod:`.plan`): materialize the
interval's event dates, check the view's expectations on that interval, sync the view to the
online store. :mod:`.airflow` writes it as a DAG of ``SparkSubmitOperator`` tasks calling the
``jobs/`` entry points with what ``spark-submit.sh`` adds; :mod:`.cron` as one crontab line
per view calling ``spark-submit.sh`` itself. docs/scheduling.md.
"""

from __future__ import annotations

from sparkfs.scheduling.airflow import render_dag, write_dags
from sparkfs.scheduling.cron import render_crontab
from sparkfs.scheduling.plan import PRESETS, SchedulePlan, Step, view_steps

__all__ = ["PRESETS", "SchedulePlan", "Step", "render_crontab", "render_dag", "view_steps", "write_dags"]
