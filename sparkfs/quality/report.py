"""The outcome of running a feature view's expectations on one batch."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["QualityReport", "RuleResult"]


@dataclass(frozen=True)
class RuleResult:
    label: str
    type: str
    severity: str
    passed: bool
    failed_count: int | None
    observed: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return not self.passed and self.severity == "error"


@dataclass(frozen=True)
class QualityReport:
    feature_view: str
    version: str
    run_id: str
    rows: int
    metrics: dict[str, Any]  # row_count and means: what max_change compares next time
    results: list[RuleResult]

    @property
    def failed(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed]

    @property
    def blocking(self) -> list[RuleResult]:
        return [r for r in self.results if r.blocking]

    @property
    def passed(self) -> bool:
        return not self.blocking

    def render(self) -> str:
        """A human report: every rule, offending counts and sample rows of the failed ones."""
        verdict = "FAILED" if self.blocking else "passed"
        warned = len(self.failed) - len(self.blocking)
        lines = [
            f"quality gate {verdict} for feature view {self.feature_view!r} (version {self.version}, "
            f"run {self.run_id}): {len(self.results)} rule(s), {len(self.blocking)} blocking failure(s), "
            f"{warned} warning(s), {self.rows} row(s) checked"
        ]
        for r in self.results:
            mark = "ok  " if r.passed else ("FAIL" if r.blocking else "WARN")
            count = f": {r.failed_count} offending row(s)" if not r.passed and r.failed_count is not None else ""
            detail = {k: v for k, v in r.observed.items() if k not in ("rows", "violations")}
            lines.append(f"  {mark} [{r.severity}] {r.label}{count}  {json.dumps(detail, default=str, sort_keys=True)}")
            for sample in r.samples:
                lines.append(f"         sample: {json.dumps(sample, default=str, sort_keys=True)}")
        return "\n".join(lines)
