"""Quality gates' engine: expectations evaluated in one Spark pass, quarantine writes, Delta
constraints. Recording results and blocking a run is :mod:`sparkfs.pipeline.quality`."""

from __future__ import annotations

from sparkfs.quality.check import compile_rules, evaluate
from sparkfs.quality.constraints import desired_constraints, sync_constraints
from sparkfs.quality.gate import measure_into_cache, write_quarantine
from sparkfs.quality.report import QualityReport, RuleResult

__all__ = [
    "QualityReport",
    "RuleResult",
    "compile_rules",
    "desired_constraints",
    "evaluate",
    "measure_into_cache",
    "sync_constraints",
    "write_quarantine",
]
