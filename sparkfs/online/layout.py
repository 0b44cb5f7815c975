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

Value (little-endian, packed)::

    u8 format | i64 event_time_us | i64 ingested_at_us | null bitmap (ceil(n/8) bytes)
    | fixed-width features in declared order (null -> zeros)
    | variable-width features in declared order (varint length + bytes; null -> nothing)

The event time sits at a fixed offset (byte 1) so that the write script compares it without
decoding the rest.
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
    "VALUE_FORMAT",
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
LAYOUT_VERSION = 1
#: First byte of every value: the value encoding version.
VALUE_FORMAT = 1
#: format, event_time_us, ingested_at_us.
HEADER = struct.Struct("<Bqq")

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


class ValueCodec:
    """Encodes one entity's event time, ingestion time and feature values to one string."""

    def __init__(self, view: OnlineView) -> None:
        self.view = view
        feats = view.features
        self.n_bitmap = (len(feats) + 7) // 8
        self.fixed_idx = tuple(i for i, f in enumerate(feats) if f.dtype in FIXED_TYPES)
        self.var_idx = tuple(i for i, f in enumerate(feats) if f.dtype not in FIXED_TYPES)
        self._var_is_str = tuple(feats[i].dtype == "string" for i in self.var_idx)
        codes = "".join(FIXED_TYPES[feats[i].dtype] for i in self.fixed_idx)
        self.fixed = struct.Struct(f"<Bqq{self.n_bitmap}s{codes}")
        self._zeros = tuple(False if feats[i].dtype == "bool" else 0 for i in self.fixed_idx)

    def encode(self, event_us: int, ingested_us: int, values: Sequence[Any]) -> bytes:
        """Encode a value; ``values`` are in declared feature order, ``None`` for null."""
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
        head = self.fixed.pack(VALUE_FORMAT, event_us, ingested_us,
                               bitmap.to_bytes(self.n_bitmap, "little"), *fixed)
        return head + b"".join(tail) if tail else head

    def decode(self, raw: bytes) -> tuple[int, int, list[Any]]:
        """Return ``(event_time_us, ingested_at_us, values in declared order)``.

        Raises:
            OnlineStoreError: the value was written by an unknown encoding version.
        """
        if not raw or raw[0] != VALUE_FORMAT:
            raise OnlineStoreError(
                f"value of view {self.view.name!r} has encoding {raw[:1]!r}, expected "
                f"{VALUE_FORMAT}; resync the view with a sparkfs of the same layout version"
            )
        _, event_us, ingested_us, bitmap_raw, *fixed = self.fixed.unpack_from(raw, 0)
        bitmap = int.from_bytes(bitmap_raw, "little")
        values: list[Any] = [None] * len(self.view.features)
        for slot, i in enumerate(self.fixed_idx):
            if not bitmap >> i & 1:
                values[i] = fixed[slot]
        pos = self.fixed.size
        for i, is_str in zip(self.var_idx, self._var_is_str, strict=True):
            if bitmap >> i & 1:
                continue
            length, pos = _read_varint(raw, pos)
            chunk = raw[pos : pos + length]
            pos += length
            values[i] = chunk.decode("utf-8") if is_str else bytes(chunk)
        return event_us, ingested_us, values
