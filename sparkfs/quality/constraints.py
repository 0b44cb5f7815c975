"""Hard rules as Delta ``CHECK`` constraints, so that no writer can bypass them.

Error-severity ``not_null``, ``range``, ``allowed_values`` and ``sql`` expectations become
constraints named ``sparkfs_<rule>`` on the feature view's Delta table; a direct Spark write
that violates one fails as a whole. Constraints of rules that were removed or changed are
dropped or replaced; constraints not named ``sparkfs_*`` are left alone.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sparkfs.definitions import AllowedValues, FeatureView, NotNull, Range, SqlPredicate
from sparkfs.offline.conform import EVENT_TIMESTAMP
from sparkfs.quality.rules import compile_rule

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["PREFIX", "desired_constraints", "sync_constraints"]

PREFIX = "sparkfs_"
_HARD = (NotNull, Range, AllowedValues, SqlPredicate)
_log = logging.getLogger(__name__)


def _name(label: str, expr: str) -> str:
    stem = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40]
    return f"{PREFIX}{stem}_{hashlib.sha256(expr.encode()).hexdigest()[:8]}"


def desired_constraints(view: FeatureView) -> dict[str, str]:
    """Constraint name -> CHECK expression for the view's hard (error-severity) rules."""
    rename = {view.timestamp_column: EVENT_TIMESTAMP}
    out: dict[str, str] = {}
    for exp in view.expectations:
        if isinstance(exp, _HARD) and exp.severity == "error":
            rule = compile_rule(exp, [], rename)
            assert rule.constraint is not None
            out[_name(rule.label, rule.constraint)] = rule.constraint
    return out


def _ours(properties: Mapping[str, str]) -> dict[str, str]:
    return {k[len("delta.constraints."):]: v for k, v in properties.items() if k.startswith(f"delta.constraints.{PREFIX}")}


def _existing(spark: SparkSession, path: str) -> dict[str, str]:
    from sparkfs.delta_log import table_state

    state = table_state(spark, path)
    return _ours(state.properties) if state is not None else {}


def sync_constraints(
    spark: SparkSession, path: str, view: FeatureView, *, properties: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Make the table's ``sparkfs_*`` constraints match the view's hard rules.

    ``properties``: the table's properties as the caller already read them (constraints are
    ``delta.constraints.*`` properties); when they already match, nothing runs at all.

    Never fails the run: a constraint that rows already in the table violate cannot be added,
    and a concurrent writer may add or drop the same one first; both are logged (the gate
    still protects sparkfs writes) and the next run tries again.
    """
    existing = _ours(properties) if properties is not None else _existing(spark, path)
    wanted = desired_constraints(view)
    changes = [(f"DROP CONSTRAINT IF EXISTS {name}", name, False) for name in sorted(set(existing) - set(wanted))]
    changes += [(f"ADD CONSTRAINT {name} CHECK ({expr})", name, True)
                for name, expr in sorted(wanted.items()) if name not in existing]
    for clause, name, adding in changes:
        try:
            spark.sql(f"ALTER TABLE delta.`{path}` {clause}")
        except Exception as exc:
            if (name in _existing(spark, path)) == adding:
                continue  # a concurrent writer made the same change
            _log.warning("feature view %s: ALTER TABLE %s failed on %s (%s); if rows already in the table "
                         "violate the rule, fix or rewrite them", view.name, clause, path, str(exc).splitlines()[0])
    return wanted
