"""Checks a spine and its feature sources before a point-in-time join runs any Spark job.

Everything here reads schemas only (analysis, no job), so a wrong spine fails in a second
with a message that names the column and the fix, instead of minutes into a shuffle. All
problems found are reported together so a user fixes them in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from pyspark.sql import DataFrame
from pyspark.sql.types import DataType, DateType, StructType, TimestampNTZType, TimestampType

from sparkfs.errors import ValidationError
from sparkfs.training.feature_source import CREATED_AT, EVENT_TIMESTAMP, INGESTED_AT, FeatureSource
from sparkfs.training.key_groups import group_by_keys, join_key_types

__all__ = ["validate_spine"]

#: Types accepted for the spine's timestamp and a feature table's event_timestamp. A date
#: means midnight UTC at the start of that day.
TIME_TYPES: tuple[type[DataType], ...] = (TimestampType, DateType)


def _time_type_problem(owner: str, column: str, dtype: DataType) -> str | None:
    if isinstance(dtype, TIME_TYPES):
        return None
    if isinstance(dtype, TimestampNTZType):
        fix = f"F.to_utc_timestamp(F.col('{column}'), '<zone of the wall clock>')"
    else:
        fix = f"F.to_timestamp(F.col('{column}'))"
    return (
        f"{owner} column '{column}' has type {dtype.simpleString()}; it must be timestamp "
        f"(an instant, compared in UTC) or date (midnight UTC); convert it, e.g. {fix}"
    )


def _spine_problems(spine: StructType, timestamp_column: str) -> list[str]:
    problems: list[str] = []
    seen: dict[str, str] = {}
    for name in spine.fieldNames():
        if name.lower() in seen:
            problems.append(
                f"spine has duplicate columns '{seen[name.lower()]}' and '{name}'; rename or "
                "drop one (e.g. after a join) before building a training set"
            )
        seen.setdefault(name.lower(), name)
    if timestamp_column not in spine.fieldNames():
        problems.append(
            f"spine has no timestamp column '{timestamp_column}' (columns: "
            f"{', '.join(spine.fieldNames())}); add it or pass timestamp_column=<its name>"
        )
    else:
        problem = _time_type_problem("spine", timestamp_column, spine[timestamp_column].dataType)
        problems += [problem] if problem else []
    return problems


def _source_shape_problems(source: FeatureSource, spine: StructType) -> list[str]:
    where = f"feature view '{source.name}'"
    problems: list[str] = []
    if not source.keys:
        problems.append(f"{where}: no join keys; declare at least one entity key")
    if len(source.features) != len(source.output_names):
        problems.append(
            f"{where}: {len(source.features)} features but {len(source.output_names)} output "
            "names; give exactly one output name per feature"
        )
    if source.ttl is not None and source.ttl <= timedelta(0):
        problems.append(f"{where}: ttl must be positive (got {source.ttl}); use None for no ttl")
    if source.availability_delay < timedelta(0):
        problems.append(
            f"{where}: availability_delay must not be negative (got {source.availability_delay})"
        )
    if source.availability == "created" and not source.created:
        problems.append(f"{where}: availability 'created' needs created=True (a '{CREATED_AT}' "
                        "column saying when each row was recorded)")
    columns = source.df.schema.fieldNames()
    created = (CREATED_AT,) if source.created else ()
    for column in (*source.keys, EVENT_TIMESTAMP, INGESTED_AT, *created, *source.features):
        if column not in columns:
            problems.append(
                f"{where}: offline table has no column '{column}' (columns: {', '.join(columns)}); "
                "check the definition against the table"
            )
    for key in source.keys:
        if key not in spine.fieldNames():
            problems.append(
                f"spine has no key column '{key}' needed by {where}; add it to the spine "
                "(same name as the entity key)"
            )
    if EVENT_TIMESTAMP in columns:
        problem = _time_type_problem(
            where, EVENT_TIMESTAMP, source.df.schema[EVENT_TIMESTAMP].dataType
        )
        problems += [problem] if problem else []
    for column in (INGESTED_AT, *created):
        if column in columns and not isinstance(source.df.schema[column].dataType, TimestampType):
            problems.append(
                f"{where}: column '{column}' has type "
                f"{source.df.schema[column].dataType.simpleString()}; it must be timestamp"
            )
    return problems


def _output_name_problems(spine: StructType, sources: Sequence[FeatureSource]) -> list[str]:
    """Output names must not collide with spine columns or each other (case-insensitively,
    as Spark resolves names)."""
    problems: list[str] = []
    owners = {name.lower(): "the spine" for name in spine.fieldNames()}
    for source in sources:
        for name in source.outputs:
            owner = owners.get(name.lower())
            if owner is not None:
                problems.append(
                    f"output column '{name}' of feature view '{source.name}' collides with a "
                    f"column of {owner}; rename the spine column or choose another output name"
                )
            else:
                owners[name.lower()] = f"feature view '{source.name}'"
    return problems


def validate_spine(
    spine: DataFrame, sources: Sequence[FeatureSource], timestamp_column: str = EVENT_TIMESTAMP
) -> None:
    """Check that ``spine`` can be point-in-time joined with ``sources``; runs no Spark job.

    Raises:
        ValidationError: listing every problem, each naming the column and what to do.
    """
    schema = spine.schema
    problems = _spine_problems(schema, timestamp_column)
    for source in sources:
        problems += _source_shape_problems(source, schema)
    problems += _output_name_problems(schema, sources)
    if not problems:
        for group in group_by_keys(sources):
            try:
                join_key_types(schema, group)
            except ValidationError as exc:
                problems.append(str(exc))
    if problems:
        head = f"cannot build a point-in-time join ({len(problems)} problem(s)):"
        raise ValidationError("\n".join([head, *(f"  - {p}" for p in problems)]))
