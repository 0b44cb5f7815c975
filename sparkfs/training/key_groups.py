"""Grouping feature sources by their join keys, and the type each key is compared as.

Sources with the same set of key columns are joined in one shuffle and one sort, so the
grouping decides how many passes a point-in-time join costs. The key types decide whether a
spine key can match a feature key at all: equal types match, integral types of different
widths are widened to ``bigint``; anything else (``string`` against ``int``, ``double``
against ``bigint``) is refused rather than cast, because such casts silently drop or
conflate keys (``"01"`` and ``"1"`` both cast to ``1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql.types import (
    ByteType,
    DataType,
    IntegerType,
    LongType,
    ShortType,
    StructType,
)

from sparkfs.errors import ValidationError
from sparkfs.training.feature_source import FeatureSource

__all__ = ["KeyGroup", "group_by_keys", "join_key_types"]

_INTEGRAL = (ByteType, ShortType, IntegerType, LongType)


@dataclass(frozen=True)
class KeyGroup:
    """Sources sharing one set of key columns, joined in a single sort pass.

    ``keys`` is in the order of the group's first source; ``sources`` keeps the caller's order.
    """

    keys: tuple[str, ...]
    sources: tuple[FeatureSource, ...]


def group_by_keys(sources: Sequence[FeatureSource]) -> list[KeyGroup]:
    """Group sources by the *set* of their key columns, in order of first appearance."""
    order: list[frozenset[str]] = []
    members: dict[frozenset[str], list[FeatureSource]] = {}
    for source in sources:
        ident = frozenset(source.keys)
        if ident not in members:
            order.append(ident)
            members[ident] = []
        members[ident].append(source)
    return [KeyGroup(members[i][0].keys, tuple(members[i])) for i in order]


def _field_type(schema: StructType, name: str) -> DataType:
    return schema[name].dataType


def _common_type(types: list[DataType]) -> DataType | None:
    first = types[0]
    if all(t == first for t in types):
        return first
    if all(isinstance(t, _INTEGRAL) for t in types):
        return LongType()
    return None


def join_key_types(spine_schema: StructType, group: KeyGroup) -> dict[str, DataType]:
    """The type each key of ``group`` is compared as.

    Raises:
        ValidationError: a key whose spine and feature-table types cannot match, naming the
            key, every type found and the cast that fixes it.
    """
    resolved: dict[str, DataType] = {}
    for key in group.keys:
        found = [("spine", _field_type(spine_schema, key))]
        found += [(s.name, _field_type(s.df.schema, key)) for s in group.sources]
        common = _common_type([t for _, t in found])
        if common is None:
            listing = ", ".join(f"{owner}: {t.simpleString()}" for owner, t in found)
            raise ValidationError(
                f"key column '{key}' has types that cannot match ({listing}); cast the spine "
                f"column '{key}' to the feature table's type, e.g. "
                f"spine.withColumn('{key}', F.col('{key}').cast('{found[1][1].simpleString()}'))"
            )
        resolved[key] = common
    return resolved
