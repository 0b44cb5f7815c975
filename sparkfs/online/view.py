"""The served view descriptor: what the online store needs to know about a feature view.

The online store never reads YAML definitions or the registry. The lead adapts a definition
version to an :class:`OnlineView`, a frozen, picklable value that travels to Spark executors
and into the serving process unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sparkfs.errors import DefinitionError

__all__ = ["FIXED_TYPES", "KEY_TYPES", "VAR_TYPES", "Field", "OnlineView", "canonical_type"]

#: Fixed-width feature types and their ``struct`` codes (little-endian, packed).
FIXED_TYPES: dict[str, str] = {
    "bool": "?",
    "int32": "i",
    "int64": "q",
    "float32": "f",
    "float64": "d",
}
#: Variable-width feature types (varint length + bytes).
VAR_TYPES: frozenset[str] = frozenset({"string", "bytes"})
#: Types an entity key column may have.
KEY_TYPES: frozenset[str] = frozenset({"int32", "int64", "string", "bytes"})

_ALIASES = {
    "boolean": "bool",
    "int": "int32",
    "integer": "int32",
    "long": "int64",
    "bigint": "int64",
    "float": "float32",
    "double": "float64",
    "str": "string",
    "binary": "bytes",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def canonical_type(name: str) -> str:
    """Map Spark simple type names and common aliases (``bigint``, ``double``) to ours."""
    lowered = name.strip().lower()
    return _ALIASES.get(lowered, lowered)


@dataclass(frozen=True)
class Field:
    """A named, typed column: an entity key or a feature."""

    name: str
    dtype: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", canonical_type(self.dtype))


@dataclass(frozen=True)
class OnlineView:
    """One definition version of a feature view, as the online store serves it.

    Attributes:
        name: feature view name; part of every Redis key, so it is restricted to
            ``[A-Za-z_][A-Za-z0-9_.-]*`` (no ``:``, braces or glob characters).
        version: the definition version (content hash). Keys carry it, so two versions never mix.
        keys: entity join key columns in their declared order (composite keys allowed).
        features: feature columns in their declared order.
        ttl: how old a value may be and still be served; ``None`` for no limit.
        availability_delay: how long after its event time a row may be served, as the
            point-in-time join places it (``E + delay <= t``), so online equals offline.
        created: the table has ``_created_at`` (when a row was recorded or corrected): of
            rows with one event time the latest created wins, online as offline.
        availability: ``"created"`` (knowing time, needs ``created``): a row is served only
            from ``max(E + delay, created)``, as the point-in-time join places it.
    """

    name: str
    version: str
    keys: tuple[Field, ...]
    features: tuple[Field, ...]
    ttl: timedelta | None = None
    availability_delay: timedelta = timedelta(0)
    created: bool = False
    availability: Literal["event", "created"] = "event"

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple(self.keys))
        object.__setattr__(self, "features", tuple(self.features))
        problems = self._validate()
        if problems:
            raise DefinitionError([f"online view {self.name!r}: {p}" for p in problems])

    def _validate(self) -> list[str]:
        problems = []
        if not _NAME.match(self.name):
            problems.append("name must match [A-Za-z_][A-Za-z0-9_.-]*")
        if not re.match(r"^[A-Za-z0-9_-]+$", self.version):
            problems.append("version must be a non-empty [A-Za-z0-9_-] string (a content hash)")
        if not self.keys:
            problems.append("at least one entity key column is required")
        for key in self.keys:
            if key.dtype not in KEY_TYPES:
                problems.append(f"key {key.name!r}: type {key.dtype!r} is not one of "
                                f"{sorted(KEY_TYPES)}")
        for feat in self.features:
            if feat.dtype not in FIXED_TYPES and feat.dtype not in VAR_TYPES:
                problems.append(f"feature {feat.name!r}: type {feat.dtype!r} is not one of "
                                f"{sorted([*FIXED_TYPES, *VAR_TYPES])}")
        names = [f.name for f in (*self.keys, *self.features)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"duplicate column names {dupes}")
        if self.ttl is not None and self.ttl <= timedelta(0):
            problems.append("ttl must be positive, or None for no limit")
        if self.availability_delay < timedelta(0):
            problems.append("availability_delay must not be negative")
        if self.availability not in ("event", "created"):
            problems.append(f"availability must be 'event' or 'created', got {self.availability!r}")
        elif self.availability == "created" and not self.created:
            problems.append("availability 'created' needs created=True (rows with a created time)")
        return problems

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def ttl_ms(self) -> int:
        """The ttl in milliseconds, 0 meaning no limit (the convention of the write script)."""
        if self.ttl is None:
            return 0
        return int(self.ttl / timedelta(milliseconds=1))

    @property
    def delay_us(self) -> int:
        """The availability delay in microseconds."""
        return self.availability_delay // timedelta(microseconds=1)
