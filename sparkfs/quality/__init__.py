"""Quality gates: expectations evaluated in one Spark pass, quarantine, Delta constraints."""

from __future__ import annotations

from sparkfs.quality.check import check_batch, compile_rules, evaluate
from sparkfs.quality.constraints import desired_constraints, sync_constraints
from sparkfs.quality.gate import quality_gate, quarantine, quarantine_path
from sparkfs.quality.report import QualityReport, RuleResult
from sparkfs.quality.store import QualityStore

__all__ = [
    "QualityReport",
    "QualityStore",
    "RuleResult",
    "check_batch",
    "compile_rules",
    "desired_constraints",
    "evaluate",
    "quality_gate",
    "quarantine",
    "quarantine_path",
    "sync_constraints",
]
