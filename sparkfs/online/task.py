"""The executor side of a sync: Arrow batches in, Redis writes out, counters back.

Spark calls :func:`write_batches` through ``DataFrame.mapInArrow`` on each partition, on the
executors. Arrow batches (instead of ``foreachPartition`` rows) let fixed-width features be
packed with numpy in bulk: Python touches each entity only to slice its bytes. The function
yields one tiny counters row per partition, so the driver learns what was written without
collecting data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sparkfs.online.layout import VALUE_FORMAT, EntityKeyCodec, ValueCodec
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

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return write_batches(batches, self)


def _micros(column: pa.Array) -> np.ndarray:
    ints = pc.cast(column, pa.int64())
    return np.asarray(pc.fill_null(ints, 0).to_numpy(zero_copy_only=False), dtype=np.int64)


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


def _fixed_values(batch: pa.RecordBatch, view: OnlineView, ev: np.ndarray,
                  ing: np.ndarray) -> list[bytes]:
    codec = ValueCodec(view)
    fields = [("fmt", "u1"), ("ev", "<i8"), ("ing", "<i8"), ("bm", "u1", (codec.n_bitmap,))]
    fields += [(f"f{i}", _NP_CODES[FIXED_TYPES[f.dtype]]) for i, f in enumerate(view.features)]
    arr = np.zeros(batch.num_rows, dtype=np.dtype(fields))
    arr["fmt"], arr["ev"], arr["ing"] = VALUE_FORMAT, ev, ing
    for i, feat in enumerate(view.features):
        column = batch.column(feat.name)
        if column.null_count:
            mask = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=np.uint8)
            arr["bm"][:, i // 8] |= mask << (i % 8)
            column = pc.fill_null(column, False if feat.dtype == "bool" else 0)
        arr[f"f{i}"] = column.to_numpy(zero_copy_only=False)
    buf, width = arr.tobytes(), arr.dtype.itemsize
    return [buf[j * width : (j + 1) * width] for j in range(batch.num_rows)]


def encode_batch(batch: pa.RecordBatch, view: OnlineView,
                 prefix: bytes) -> tuple[list[bytes], list[bytes], np.ndarray]:
    """Keys, values and event times (µs) of one Arrow batch, in the layout of ``layout.py``."""
    ev = _micros(batch.column("event_timestamp"))
    ing = _micros(batch.column("_ingested_at"))
    keys = _keys(batch, view, prefix)
    if all(f.dtype in FIXED_TYPES for f in view.features):
        values = _fixed_values(batch, view, ev, ing)
    else:
        codec = ValueCodec(view)
        columns = [batch.column(f.name).to_pylist() for f in view.features]
        rows = zip(*columns, strict=True) if columns else ([] for _ in range(batch.num_rows))
        values = [codec.encode(int(e), int(i), row)
                  for e, i, row in zip(ev.tolist(), ing.tolist(), rows, strict=True)]
    return keys, values, ev


def _write_slice(writer: BulkWriter, task: WriteTask, batch: pa.RecordBatch) -> WriteCounts:
    keys, values, ev = encode_batch(batch, task.view, task.prefix)
    ops = (np.asarray(batch.column(OP_COLUMN).to_numpy(zero_copy_only=False))
           if OP_COLUMN in batch.schema.names else np.zeros(len(keys), dtype=np.int8))
    counts = WriteCounts(deferred=int((ops == 3).sum()))
    for op, mode in ((0, task.mode), (1, WriteMode.FORCE), (2, WriteMode.DELETE)):
        idx = np.flatnonzero(ops == op)
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
        if len(sub) == len(keys):
            k, v = keys, values
        else:
            k, v = [keys[i] for i in sub], [values[i] for i in sub]
        counts.add(writer.write(mode, k, v, exp_list))
    return counts


def write_batches(batches: Iterator[pa.RecordBatch], task: WriteTask) -> Iterator[pa.RecordBatch]:
    """Write every row of one partition in batches of ``online.batch_size``; yield counters."""
    writer = BulkWriter(task.online, now_ms=task.now_ms, ttl_ms=task.view.ttl_ms)
    total = WriteCounts()
    size = task.online.batch_size
    try:
        for batch in batches:
            for offset in range(0, batch.num_rows, size):
                total.add(_write_slice(writer, task, batch.slice(offset, size)))
    finally:
        writer.close()
    names = ("sent", "written", "deleted", "deferred")
    yield pa.RecordBatch.from_pydict(
        {name: [getattr(total, name)] for name in names},
        schema=pa.schema([(name, pa.int64()) for name in names]),
    )
