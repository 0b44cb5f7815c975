"""The executor side of a sync: Arrow batches in, Redis writes out, counters back.

Spark calls :func:`write_batches` through ``DataFrame.mapInArrow`` on each partition, on the
executors. Arrow batches (instead of ``foreachPartition`` rows) let fixed-width features be
packed with numpy in bulk: Python touches each entity only to slice its bytes. The function
yields one tiny counters row per partition, so the driver learns what was written without
collecting data.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sparkfs.config import RedisConfig
from sparkfs.online.frames import fresh_set_frames
from sparkfs.online.layout import (
    NO_CREATED,
    POINT_LEN,
    EntityKeyCodec,
    ValueCodec,
    value_format,
)
from sparkfs.online.topology import OnlineTarget
from sparkfs.online.view import FIXED_TYPES, OnlineView
from sparkfs.online.writer import BulkWriter, WriteCounts, WriteMode

__all__ = ["COUNTS_SCHEMA", "OP_COLUMN", "WriteTask", "encode_batch"]

#: Optional int8 column choosing the mode per row: 0 = the task's mode, 1 = force, 2 = delete,
#: 3 = deferred (not written, only counted).
OP_COLUMN = "_op"
COUNTS_SCHEMA = "sent long, written long, deleted long, deferred long"
_NP_CODES = {"?": "?", "i": "<i4", "q": "<i8", "f": "<f4", "d": "<f8"}


@dataclass(frozen=True)
class WriteTask:
    """Everything an executor needs to write one view's rows (picklable)."""

    view: OnlineView
    online: OnlineTarget
    prefix: bytes
    mode: WriteMode
    now_ms: int
    now_us: int

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return write_batches(batches, self)


def _micros(column: pa.Array, null: int = 0) -> np.ndarray:
    ints = pc.cast(column, pa.int64())
    return np.asarray(pc.fill_null(ints, null).to_numpy(zero_copy_only=False), dtype=np.int64)


def _keys(batch: pa.RecordBatch, view: OnlineView, prefix: bytes) -> list[bytes]:
    n = batch.num_rows
    if len(view.keys) == 1 and view.keys[0].dtype in ("int32", "int64"):
        ids = np.asarray(batch.column(view.keys[0].name).to_numpy(zero_copy_only=False))
        packed = np.empty(n, dtype=[("p", f"S{len(prefix)}"), ("k", "<i8")])
        packed["p"] = prefix
        packed["k"] = ids
        buf, width = packed.tobytes(), packed.dtype.itemsize
        return [buf[j * width : (j + 1) * width] for j in range(n)]
    codec = EntityKeyCodec(view)
    columns = [batch.column(k.name).to_pylist() for k in view.keys]
    return [prefix + codec.encode(row) for row in zip(*columns, strict=True)]


@dataclass(frozen=True)
class _Points:
    """The change points of one batch's entities, flattened: entity ``i`` owns points
    ``starts[i]:starts[i + 1]`` (ascending event time, one per event time; with knowing time
    one per (event time, created)). ``cr`` is each point's created time (µs,
    :data:`NO_CREATED` for none), ``None`` for a view without one."""

    table: pa.RecordBatch
    starts: np.ndarray
    ev: np.ndarray
    ing: np.ndarray
    cr: np.ndarray | None

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.starts)

    @property
    def last(self) -> np.ndarray:
        """Index of each entity's last point (-1 for an entity without points)."""
        return self.starts[1:] - 1


def _group_starts(rows: pa.RecordBatch, view: OnlineView) -> np.ndarray:
    """Row index where each entity's run of rows begins (rows of one entity are contiguous)."""
    n = rows.num_rows
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
    for key in view.key_names:
        column = rows.column(key)
        if n > 1:
            differs = pc.not_equal(column.slice(1), column.slice(0, n - 1))
            change[1:] |= np.asarray(pc.fill_null(differs, True).to_numpy(zero_copy_only=False))
    return np.flatnonzero(change)


def _last_group_start(rows: pa.RecordBatch, view: OnlineView) -> int:
    starts = _group_starts(rows, view)
    return int(starts[-1]) if len(starts) else 0


def _group(rows: pa.RecordBatch, task: WriteTask) -> tuple[pa.RecordBatch, _Points]:
    """One row per entity (its key columns and ``_op``) and its change points.

    ``rows`` hold each entity's candidate rows contiguously, in any order within the entity (a
    row with a null event time stands for an entity without rows). Per entity this keeps the
    row current at ``now`` (the last available one by ``(event time, [created,] ingested)``; with
    knowing time available also means ``created <= now``; of exact ties
    the first in ``rows``, which come ordered by their feature tuple, greatest first) and every
    later row, drops rows outside the ttl at ``now`` and keeps one row per event time (the
    latest created and ingested; knowing time: per (event time, created)): the rule of
    ``points.py``. Applied again to its own output it changes
    nothing, so pre-cut rows (a change feed's) pass through unchanged.
    """
    view = task.view
    starts = _group_starts(rows, view)
    n = rows.num_rows
    owner = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))
    entities = rows.take(pa.array(starts, pa.int64())) if n else rows
    ev_col = rows.column("event_timestamp")
    present = np.asarray(ev_col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    ev, ing = _micros(ev_col), _micros(rows.column("_ingested_at"))
    cr = _micros(rows.column("_created_at"), NO_CREATED) if view.created else np.zeros(n, np.int64)
    order = np.lexsort((-np.arange(n), ing, cr, ev, owner))
    owner, ev, ing, cr, present = owner[order], ev[order], ing[order], cr[order], present[order]
    available = present & (ev + view.delay_us <= task.now_us)
    if view.availability == "created":
        available &= (cr != NO_CREATED) & (cr <= task.now_us)
    # the current row: the last available one of its entity (by (E, created, ingested)); then
    # every later row that is not available yet (with knowing time, one ranking below the
    # current row may be unavailable too: it can never be served)
    position = np.arange(n)
    current = np.full(len(starts), -1, dtype=np.int64)
    if n:
        np.maximum.at(current, owner[available], position[available])
    mine = current[owner] if n else np.zeros(0, np.int64)
    keep = present & ((position == mine) | (~available & (position > mine)))
    if view.ttl is not None:
        keep &= ev > task.now_us - view.ttl_ms * 1000
    idx = order[keep]
    owner, ev, ing, cr = owner[keep], ev[keep], ing[keep], cr[keep]
    if len(ev) > 1:  # one row per event time (knowing time: per (E, created)): the last
        same = (owner[:-1] == owner[1:]) & (ev[:-1] == ev[1:])
        if view.availability == "created":
            same &= cr[:-1] == cr[1:]
        single = np.ones(len(ev), dtype=bool)
        single[:-1] = ~same
        idx, owner, ev, ing, cr = idx[single], owner[single], ev[single], ing[single], cr[single]
    table = rows.take(pa.array(idx, pa.int64()))
    counts = np.bincount(owner, minlength=len(starts))
    point_starts = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(counts, out=point_starts[1:])
    return entities, _Points(table, point_starts, ev, ing, cr if view.created else None)


def _slice_points(points: _Points, lo: int, hi: int) -> _Points:
    """The points of entities ``lo:hi``."""
    a, b = int(points.starts[lo]), int(points.starts[hi])
    return _Points(points.table.slice(a, b - a), points.starts[lo : hi + 1] - a,
                   points.ev[a:b], points.ing[a:b], None if points.cr is None else points.cr[a:b])


def _point_dtype(view: OnlineView) -> np.dtype:
    codec = ValueCodec(view)
    fields: list[tuple[Any, ...]] = [("len", "<u4"), ("ev", "<i8"), ("ing", "<i8")]
    if view.created:
        fields.append(("cr", "<i8"))
    fields.append(("bm", "u1", (codec.n_bitmap,)))
    fields += [(f"f{i}", _NP_CODES[FIXED_TYPES[f.dtype]]) for i, f in enumerate(view.features)]
    return np.dtype(fields)


def _fixed_points(points: _Points, view: OnlineView) -> np.ndarray:
    """One length-prefixed point per row as a numpy structured array (fixed-width features)."""
    dtype = _point_dtype(view)
    arr = np.zeros(len(points.ev), dtype=dtype)
    arr["len"], arr["ev"], arr["ing"] = dtype.itemsize - POINT_LEN.size, points.ev, points.ing
    if points.cr is not None:
        arr["cr"] = points.cr
    for i, feat in enumerate(view.features):
        column = points.table.column(feat.name)
        if column.null_count:
            mask = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=np.uint8)
            arr["bm"][:, i // 8] |= mask << (i % 8)
            column = pc.fill_null(column, False if feat.dtype == "bool" else 0)
        arr[f"f{i}"] = column.to_numpy(zero_copy_only=False)
    return arr


def _headers(points: _Points, view: OnlineView) -> list[bytes]:
    last = points.last
    head = np.zeros(len(last), dtype=[("fmt", "u1"), ("ev", "<i8"), ("ing", "<i8")])
    head["fmt"] = value_format(view)
    has = last >= 0
    head["ev"][has], head["ing"][has] = points.ev[last[has]], points.ing[last[has]]
    buf, width = head.tobytes(), head.dtype.itemsize
    return [buf[j * width : (j + 1) * width] for j in range(len(last))]


def _point_bytes(points: _Points, view: OnlineView) -> tuple[bytes, list[int]]:
    """Every point encoded back to back, and the byte offset where each point starts."""
    if not len(points.ev):
        return b"", [0]
    if all(f.dtype in FIXED_TYPES for f in view.features):
        arr = _fixed_points(points, view)
        width = arr.dtype.itemsize
        return arr.tobytes(), [j * width for j in range(len(arr) + 1)]
    codec = ValueCodec(view)
    columns = [points.table.column(f.name).to_pylist() for f in view.features]
    rows = zip(*columns, strict=True) if columns else ([] for _ in range(len(points.ev)))
    created = points.cr.tolist() if points.cr is not None else [None] * len(points.ev)
    parts = [codec.encode_point(int(e), int(i), row, c)
             for e, i, row, c in zip(points.ev.tolist(), points.ing.tolist(), rows, created,
                                     strict=True)]
    offsets = [0, *itertools.accumulate(len(p) for p in parts)]
    return b"".join(parts), offsets


def encode_batch(batch: pa.RecordBatch, view: OnlineView, prefix: bytes,
                 points: _Points) -> tuple[list[bytes], list[bytes | None], np.ndarray]:
    """Keys, values (``None`` for an entity without points) and each value's last event time
    (µs) of one batch of entities (one row each) and their points, in the layout of
    ``layout.py``."""
    keys = _keys(batch, view, prefix)
    heads = _headers(points, view)
    buf, offsets = _point_bytes(points, view)
    starts = points.starts.tolist()
    values: list[bytes | None] = [
        heads[j] + buf[offsets[starts[j]] : offsets[starts[j + 1]]] if starts[j + 1] > starts[j]
        else None
        for j in range(len(keys))
    ]
    last = points.last
    last_ev = np.where(last >= 0, points.ev[np.maximum(last, 0)] if len(points.ev) else 0, 0)
    return keys, values, np.asarray(last_ev, dtype=np.int64)


def _framed_fresh(writer: BulkWriter, task: WriteTask, batch: pa.RecordBatch,
                  points: _Points) -> WriteCounts | None:
    """The vectorised path of a full refresh (see ``frames.py``) when every entity of the batch
    has one point; ``None`` when it does not apply."""
    view = task.view
    if (task.mode is not WriteMode.FRESH or not isinstance(task.online, RedisConfig)
            or not writer.ttl_ms or (OP_COLUMN in batch.schema.names and
            pc.any(pc.not_equal(batch.column(OP_COLUMN), 0)).as_py())
            or len(view.keys) != 1 or view.keys[0].dtype not in ("int32", "int64")
            or not all(f.dtype in FIXED_TYPES for f in view.features)):
        return None
    if not (points.counts == 1).all():
        return None
    ev = points.ev
    expire = ev // 1000 + writer.ttl_ms
    live = expire > task.now_ms
    point_arr = _fixed_points(points, view)
    dtype = np.dtype([("fmt", "u1"), ("lev", "<i8"), ("ling", "<i8"),
                      ("pt", f"V{point_arr.dtype.itemsize}")])
    values = np.zeros(len(ev), dtype=dtype)
    values["fmt"], values["lev"], values["ling"] = value_format(view), ev, points.ing
    values["pt"] = point_arr.view(f"V{point_arr.dtype.itemsize}")
    ids = np.asarray(batch.column(view.keys[0].name).to_numpy(zero_copy_only=False))
    payload = fresh_set_frames(task.prefix, ids[live], values[live], expire[live])
    if payload is None:
        return None
    counts = writer.write_frames(payload, int(live.sum()))
    counts.sent = batch.num_rows
    return counts


def _write_slice(writer: BulkWriter, task: WriteTask, batch: pa.RecordBatch,
                 points: _Points) -> WriteCounts:
    if batch.num_rows == 0:
        return WriteCounts()
    framed = _framed_fresh(writer, task, batch, points)
    if framed is not None:
        return framed
    keys, values, ev = encode_batch(batch, task.view, task.prefix, points)
    ops = (np.asarray(batch.column(OP_COLUMN).to_numpy(zero_copy_only=False))
           if OP_COLUMN in batch.schema.names else np.zeros(len(keys), dtype=np.int8))
    counts = WriteCounts(deferred=int((ops == 3).sum()))
    for op, mode in ((0, task.mode), (1, WriteMode.FORCE), (2, WriteMode.DELETE)):
        idx = np.flatnonzero(ops == op)
        if mode is not WriteMode.DELETE:
            idx = idx[[values[i] is not None for i in idx.tolist()]]
        if idx.size == 0:
            continue
        if mode is WriteMode.FRESH and writer.ttl_ms:
            expire = ev[idx] // 1000 + writer.ttl_ms
            live = expire > task.now_ms
            idx, expire = idx[live], expire[live]
            counts.sent += int((~live).sum())
            exp_list: list[int] | None = expire.tolist()
        else:
            exp_list = None
        sub = idx.tolist()
        k = [keys[i] for i in sub]
        v = None if mode is WriteMode.DELETE else [values[i] or b"" for i in sub]
        counts.add(writer.write(mode, k, v, exp_list))
    return counts


def _write_rows(writer: BulkWriter, task: WriteTask, rows: pa.RecordBatch,
                total: WriteCounts) -> None:
    if rows.num_rows == 0:
        return
    entities, points = _group(rows, task)
    size = task.online.batch_size
    for lo in range(0, entities.num_rows, size):
        hi = min(lo + size, entities.num_rows)
        total.add(_write_slice(writer, task, entities.slice(lo, hi - lo),
                               _slice_points(points, lo, hi)))


def write_batches(batches: Iterator[pa.RecordBatch], task: WriteTask) -> Iterator[pa.RecordBatch]:
    """Write every entity of one partition in batches of ``online.batch_size``; yield counters.

    An entity's rows are contiguous in the partition but may straddle two Arrow batches: the
    rows of each batch's last entity wait for the next batch."""
    writer = BulkWriter(task.online, now_ms=task.now_ms, ttl_ms=task.view.ttl_ms,
                        delay_us=task.view.delay_us)
    total = WriteCounts()
    carry: pa.RecordBatch | None = None
    try:
        for batch in batches:
            if carry is not None and carry.num_rows:
                batch = pa.Table.from_batches([carry, batch]).combine_chunks().to_batches()[0]
            if batch.num_rows == 0:
                continue
            cut = _last_group_start(batch, task.view)
            _write_rows(writer, task, batch.slice(0, cut), total)
            carry = batch.slice(cut)
        if carry is not None:
            _write_rows(writer, task, carry, total)
    finally:
        writer.close()
    names = ("sent", "written", "deleted", "deferred")
    yield pa.RecordBatch.from_pydict(
        {name: [getattr(total, name)] for name in names},
        schema=pa.schema([(name, pa.int64()) for name in names]),
    )
