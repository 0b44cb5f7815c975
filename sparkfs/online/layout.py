"""The online key layout and value encoding: the one place that knows how bytes look in Redis.

Pure functions and small codec objects, shared by the sync writer (on executors), the reader
(serving) and the generation bookkeeping. See ``docs/online-store.md`` for worked examples.

Keys (``L`` = :data:`LAYOUT_VERSION`)::

    data     <ns>:<L>:<view>:<version[:8]>:<gen>:<entity>   one string per entity
    control  <ns>:<L>:{<view>}:ctl                          one hash per view

``<entity>`` is a typed, prefix-free binary encoding of the key columns (int: 8 bytes signed
little-endian; string/bytes: unsigned LEB128 length then the bytes), so distinct composite keys
never encode to the same bytes. Data keys carry no hash tag: entities spread over all cluster
slots and the client groups them per node. The control hash holds, per view, the generation
counter, the live generation pointer of each definition version and the state of each
generation; its hash tag keeps every control update of a view on one slot (atomic).

Value (little-endian, packed): the entity's change points, ascending event time::

    u8 format | i64 last_event_time_us | i64 last_ingested_at_us
    then per point: u32 body length | i64 event_time_us | i64 ingested_at_us
        | [format 3, 4: i64 created_us, INT64_MIN for none]
        | null bitmap (ceil(n/8) bytes) | fixed-width features in declared order (null -> zeros)
        | variable-width features in declared order (varint length + bytes; null -> nothing)

The format says how to read the points: 2, no record time; 3, each point carries its row's
created time (a view with a ``created_timestamp_column``: ties on event time go to the latest
created; points ascend by (event time, created)); 4, the same, and a point is visible only from
``max(event_time + delay, created)`` (``availability: created``). The reader takes the format
from the value, so it needs no flag of the view.

The first point is the row current at the sync; the others are rows the offline table holds
for later times (where an aggregation's events leave their windows). A lookup at ``t`` takes
the newest point with ``event_time + availability_delay <= t``. The last point's times sit at
a fixed offset (byte 1) so that the write script reads them without decoding the rest, and the
length prefixes let it split and merge points without knowing the features.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sparkfs.errors import OnlineStoreError, ValidationError
from sparkfs.online.view import FIXED_TYPES, OnlineView

__all__ = [
    "HEADER",
    "LAYOUT_VERSION",
    "NO_CREATED",
    "POINT_LEN",
    "VALUE_FORMAT",
    "VALUE_FORMAT_CREATED",
    "VALUE_FORMAT_KNOWN",
    "EntityKeyCodec",
    "ValueCodec",
    "control_key",
    "data_prefix",
    "datetime_to_us",
    "escape_glob",
    "generation_field",
    "pointer_field",
    "us_to_datetime",
]

#: Version of the key layout; part of every key, bump it on any incompatible change.
#: 2: a value holds the entity's change points, not one row.
LAYOUT_VERSION = 2
#: First byte of every value: the value encoding version (points without a record time).
VALUE_FORMAT = 2
#: Format of a value whose points carry their row's created time (ties on event time).
VALUE_FORMAT_CREATED = 3
#: Format of a knowing-time value: points carry created and are visible from it on.
VALUE_FORMAT_KNOWN = 4
_FORMATS = (VALUE_FORMAT, VALUE_FORMAT_CREATED, VALUE_FORMAT_KNOWN)
#: The created time of a point whose row has none (sorts before every real one).
NO_CREATED = -(2**63)
#: format, event_time_us and ingested_at_us of the last point (read by the write script).
HEADER = struct.Struct("<Bqq")
#: length of a point's body, before each point.
POINT_LEN = struct.Struct("<I")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT64 = struct.Struct("<q")


def data_prefix(namespace: str, view_name: str, version: str, generation: int) -> bytes:
    """The prefix of every data key of one generation of one definition version."""
    return f"{namespace}:{LAYOUT_VERSION}:{view_name}:{version[:8]}:{generation}:".encode()


def control_key(namespace: str, view_name: str) -> str:
    """The control hash of a view (pointers, generation states, generation counter)."""
    return f"{namespace}:{LAYOUT_VERSION}:{{{view_name}}}:ctl"


def pointer_field(version: str) -> str:
    """Control-hash field holding the live generation of a definition version."""
    return f"ptr:{version}"


def generation_field(generation: int) -> str:
    """Control-hash field holding the state of one generation (``version|state|since_ms``)."""
    return f"gen:{generation}"


def escape_glob(prefix: bytes) -> bytes:
    """Escape a key prefix for ``SCAN MATCH`` (glob) patterns."""
    out = bytearray()
    for byte in prefix:
        if byte in b"*?[]\\":
            out += b"\\"
        out.append(byte)
    return bytes(out)


def datetime_to_us(value: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


def us_to_datetime(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


class EntityKeyCodec:
    """Encodes the key columns of one view to the entity part of a data key (and back)."""

    def __init__(self, view: OnlineView) -> None:
        self.view = view
        self._ints = tuple(k.dtype in ("int32", "int64") for k in view.keys)
        self._single_int = len(view.keys) == 1 and self._ints[0]

    def encode(self, values: Sequence[Any]) -> bytes:
        """Encode one entity's key values (in declared key order).

        Raises:
            ValidationError: a value is null or of the wrong type; names the key column.
        """
        if self._single_int:
            value = values[0]
            if type(value) is int:
                return _INT64.pack(value)
        parts = []
        for key, is_int, value in zip(self.view.keys, self._ints, values, strict=True):
            parts.append(self._encode_one(key.name, key.dtype, is_int, value))
        return b"".join(parts)

    def _encode_one(self, name: str, dtype: str, is_int: bool, value: Any) -> bytes:
        if is_int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(f"key column {name!r} of view {self.view.name!r} needs an "
                                      f"integer, got {value!r}")
            try:
                return _INT64.pack(value)
            except struct.error as exc:
                raise ValidationError(f"key column {name!r}: {value!r} does not fit int64") from exc
        if dtype == "string" and isinstance(value, str):
            raw = value.encode("utf-8")
        elif dtype == "bytes" and isinstance(value, bytes | bytearray):
            raw = bytes(value)
        else:
            raise ValidationError(f"key column {name!r} of view {self.view.name!r} needs a "
                                  f"{dtype}, got {value!r}")
        return _varint(len(raw)) + raw

    def decode(self, raw: bytes) -> tuple[Any, ...]:
        """Inverse of :meth:`encode` (used by dumps, tests and operations tooling)."""
        out: list[Any] = []
        pos = 0
        for key, is_int in zip(self.view.keys, self._ints, strict=True):
            if is_int:
                out.append(_INT64.unpack_from(raw, pos)[0])
                pos += 8
                continue
            length, pos = _read_varint(raw, pos)
            chunk = raw[pos : pos + length]
            pos += length
            out.append(chunk.decode("utf-8") if key.dtype == "string" else bytes(chunk))
        if pos != len(raw):
            raise OnlineStoreError(f"entity key of view {self.view.name!r} has trailing bytes")
        return tuple(out)


def value_format(view: OnlineView) -> int:
    """The format the writer uses for ``view`` (see the module doc)."""
    if view.availability == "created":
        return VALUE_FORMAT_KNOWN
    return VALUE_FORMAT_CREATED if view.created else VALUE_FORMAT


class ValueCodec:
    """Encodes one entity's change points (event time, ingestion time, features) to one string.

    A value holds the entity's row that is current at the sync and every later row the offline
    table already has (an aggregation view's rows where events leave their windows), in
    ascending event time. The reader picks the newest point available at the lookup time.
    Encoding uses the view's format; decoding reads the format of the value.
    """

    def __init__(self, view: OnlineView) -> None:
        self.view = view
        feats = view.features
        self.n_bitmap = (len(feats) + 7) // 8
        self.fixed_idx = tuple(i for i, f in enumerate(feats) if f.dtype in FIXED_TYPES)
        self.var_idx = tuple(i for i, f in enumerate(feats) if f.dtype not in FIXED_TYPES)
        self._var_is_str = tuple(feats[i].dtype == "string" for i in self.var_idx)
        codes = "".join(FIXED_TYPES[feats[i].dtype] for i in self.fixed_idx)
        self.format = value_format(view)
        #: the fixed part of a point's body: event time, ingestion time, [created,] bitmap,
        #: fixed features; per format
        self._fixed = {VALUE_FORMAT: struct.Struct(f"<qq{self.n_bitmap}s{codes}")}
        self._fixed[VALUE_FORMAT_CREATED] = self._fixed[VALUE_FORMAT_KNOWN] = struct.Struct(
            f"<qqq{self.n_bitmap}s{codes}")
        self.fixed = self._fixed[self.format]
        self._zeros = tuple(False if feats[i].dtype == "bool" else 0 for i in self.fixed_idx)

    def encode_point(self, event_us: int, ingested_us: int, values: Sequence[Any],
                     created_us: int | None = None) -> bytes:
        """One length-prefixed point; ``values`` in declared feature order, ``None`` for null;
        ``created_us`` is written by the formats that carry it (``None``: no created time)."""
        bitmap = 0
        fixed = []
        for slot, i in enumerate(self.fixed_idx):
            value = values[i]
            if value is None:
                bitmap |= 1 << i
                value = self._zeros[slot]
            fixed.append(value)
        tail = []
        for i, is_str in zip(self.var_idx, self._var_is_str, strict=True):
            value = values[i]
            if value is None:
                bitmap |= 1 << i
                continue
            raw = value.encode("utf-8") if is_str else bytes(value)
            tail.append(_varint(len(raw)))
            tail.append(raw)
        times: tuple[int, ...] = (event_us, ingested_us)
        if self.format != VALUE_FORMAT:
            times += (NO_CREATED if created_us is None else created_us,)
        body = self.fixed.pack(*times, bitmap.to_bytes(self.n_bitmap, "little"), *fixed)
        if tail:
            body += b"".join(tail)
        return POINT_LEN.pack(len(body)) + body

    def encode(self, event_us: int, ingested_us: int, values: Sequence[Any],
               created_us: int | None = None) -> bytes:
        """A value of one point (an entity with no later change known)."""
        return (HEADER.pack(self.format, event_us, ingested_us)
                + self.encode_point(event_us, ingested_us, values, created_us))

    def encode_points(self, points: Sequence[tuple[Any, ...]]) -> bytes:
        """A value of several ``(event_us, ingested_us, values[, created_us])`` points,
        ascending (event time, created)."""
        if not points:
            raise ValueError("a value needs at least one point")
        last_ev, last_ing = points[-1][0], points[-1][1]
        return HEADER.pack(self.format, last_ev, last_ing) + b"".join(
            self.encode_point(*p) for p in points)

    def _check(self, raw: bytes) -> None:
        if not raw or raw[0] not in _FORMATS:
            raise OnlineStoreError(
                f"value of view {self.view.name!r} has encoding {raw[:1]!r}, expected one of "
                f"{_FORMATS}; resync the view with a sparkfs of the same layout version"
            )

    def spans(self, raw: bytes) -> list[tuple[int, int]]:
        """``(start, end)`` of every point's body, in stored (ascending event time) order."""
        self._check(raw)
        out = []
        pos, size = HEADER.size, len(raw)
        while pos < size:
            (length,) = POINT_LEN.unpack_from(raw, pos)
            pos += POINT_LEN.size
            out.append((pos, pos + length))
            pos += length
        if pos != size or not out:
            raise OnlineStoreError(f"value of view {self.view.name!r} is truncated or empty; "
                                   "resync the view (`sparkfs sync --full`)")
        return out

    def decode_body(self, raw: bytes, start: int) -> tuple[int, int, list[Any]]:
        """``(event_us, ingested_us, values)`` of the point whose body starts at ``start``."""
        fixed_struct = self._fixed[raw[0]]
        event_us, ingested_us, *rest = fixed_struct.unpack_from(raw, start)
        if raw[0] != VALUE_FORMAT:
            rest = rest[1:]
        bitmap_raw, *fixed = rest
        bitmap = int.from_bytes(bitmap_raw, "little")
        values: list[Any] = [None] * len(self.view.features)
        for slot, i in enumerate(self.fixed_idx):
            if not bitmap >> i & 1:
                values[i] = fixed[slot]
        pos = start + fixed_struct.size
        for i, is_str in zip(self.var_idx, self._var_is_str, strict=True):
            if bitmap >> i & 1:
                continue
            length, pos = _read_varint(raw, pos)
            chunk = raw[pos : pos + length]
            pos += length
            values[i] = chunk.decode("utf-8") if is_str else bytes(chunk)
        return event_us, ingested_us, values

    def decode_points(self, raw: bytes) -> list[tuple[int, int, list[Any]]]:
        """Every point of a value, ascending event time."""
        return [self.decode_body(raw, start) for start, _ in self.spans(raw)]

    @staticmethod
    def created_at(raw: bytes, start: int) -> int | None:
        """The created time (µs) of the point whose body starts at ``start``; ``None`` when
        the value's format carries none or the row had none."""
        if raw[0] == VALUE_FORMAT:
            return None
        (created,) = _INT64.unpack_from(raw, start + 16)
        return None if created == NO_CREATED else int(created)

    def decode(self, raw: bytes) -> tuple[int, int, list[Any]]:
        """The last point (greatest event time) of a value.

        Raises:
            OnlineStoreError: the value was written by an unknown encoding version.
        """
        return self.decode_body(raw, self.spans(raw)[-1][0])

    def at(self, raw: bytes, available_us: int,
           now_us: int | None = None) -> tuple[int, int, list[Any]] | None:
        """The point a lookup sees: the newest one with ``event_us <= available_us``.

        ``available_us`` is the lookup time minus the view's availability delay, ``now_us``
        the lookup time (default ``available_us`` plus the delay): a knowing-time value
        (format 4) shows a point only once ``created_us <= now_us`` too, so the newest
        visible point is the greatest (event time, created) of those known by then. ``None``
        when no stored point is visible yet (the lookup is older than the sync).
        """
        spans = self.spans(raw)
        known = raw[0] == VALUE_FORMAT_KNOWN
        if now_us is None:
            now_us = available_us + self.view.delay_us
        for start, _ in reversed(spans):
            (event_us,) = _INT64.unpack_from(raw, start)
            if event_us > available_us:
                continue
            if known:
                (created_us,) = _INT64.unpack_from(raw, start + 16)
                if created_us == NO_CREATED or created_us > now_us:
                    continue
            return self.decode_body(raw, start)
        return None
