from __future__ import annotations

import math
from datetime import timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkfs.config import RedisConfig
from sparkfs.errors import DefinitionError, OnlineStoreError, ValidationError
from sparkfs.online.layout import (
    LAYOUT_VERSION,
    VALUE_FORMAT,
    EntityKeyCodec,
    ValueCodec,
    control_key,
    data_prefix,
    escape_glob,
)
from sparkfs.online.task import WriteTask, _group, encode_batch
from sparkfs.online.view import Field, OnlineView
from sparkfs.online.writer import WriteMode

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
FEATURE_TYPES = ["bool", "int32", "int64", "float32", "float64", "string", "bytes"]
STRATEGIES = {
    "bool": st.booleans(),
    "int32": INT32,
    "int64": INT64,
    "float32": st.floats(width=32, allow_nan=False),
    "float64": st.floats(allow_nan=True),
    "string": st.text(max_size=20),
    "bytes": st.binary(max_size=20),
}


def view_of(features: list[str], keys: tuple[Field, ...] = (Field("id", "int64"),)) -> OnlineView:
    feats = tuple(Field(f"f{i}", t) for i, t in enumerate(features))
    return OnlineView("v", "0123456789abcdef", keys, feats, timedelta(hours=1))


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@st.composite
def view_and_values(draw: st.DrawFn) -> tuple[OnlineView, list[object]]:
    types = draw(st.lists(st.sampled_from(FEATURE_TYPES), max_size=12))
    values = [draw(st.none() | STRATEGIES[t]) for t in types]
    return view_of(types), values


@settings(max_examples=300, deadline=None)
@given(view_and_values(), INT64, INT64)
def test_values_round_trip_with_nulls(case: tuple[OnlineView, list[object]], ev: int,
                                      ing: int) -> None:
    view, values = case
    codec = ValueCodec(view)
    raw = codec.encode(ev, ing, values)
    assert raw[0] == VALUE_FORMAT
    got_ev, got_ing, got = codec.decode(raw)
    assert (got_ev, got_ing) == (ev, ing)
    assert all(same(a, b) for a, b in zip(values, got, strict=True)), (values, got)


KEY_SPECS = st.lists(st.sampled_from(["int64", "string", "bytes"]), min_size=1, max_size=3)


@st.composite
def key_rows(draw: st.DrawFn) -> tuple[EntityKeyCodec, list[tuple[object, ...]]]:
    types = draw(KEY_SPECS)
    view = view_of([], tuple(Field(f"k{i}", t) for i, t in enumerate(types)))
    row = st.tuples(*[{"int64": INT64, "string": st.text(max_size=6),
                       "bytes": st.binary(max_size=6)}[t] for t in types])
    return EntityKeyCodec(view), draw(st.lists(row, min_size=2, max_size=30, unique=True))


@settings(max_examples=300, deadline=None)
@given(key_rows())
def test_composite_keys_round_trip_and_never_collide(case: tuple[EntityKeyCodec, list]) -> None:
    codec, rows = case
    encoded = [codec.encode(r) for r in rows]
    assert len(set(encoded)) == len(rows)
    assert [codec.decode(e) for e in encoded] == rows


def test_naive_join_collisions_are_distinct() -> None:
    codec = EntityKeyCodec(view_of([], (Field("a", "string"), Field("b", "string"))))
    assert codec.encode(("a:b", "c")) != codec.encode(("a", "b:c"))
    assert codec.encode(("ab", "")) != codec.encode(("a", "b"))


def test_bad_key_values_name_the_column() -> None:
    codec = EntityKeyCodec(view_of([], (Field("user_id", "int64"),)))
    with pytest.raises(ValidationError, match="user_id"):
        codec.encode(("12",))
    with pytest.raises(ValidationError, match="user_id"):
        codec.encode((True,))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_vectorised_encoding_matches_the_codec(data: st.DataObject) -> None:
    fixed = ["bool", "int32", "int64", "float32", "float64"]
    kinds = data.draw(st.sampled_from([fixed, [*fixed, "string", "bytes"]]))
    types = data.draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=10))
    view = view_of(types)
    n = data.draw(st.integers(1, 8))
    arrow_types = {"bool": pa.bool_(), "int32": pa.int32(), "int64": pa.int64(),
                   "float32": pa.float32(), "float64": pa.float64(), "string": pa.string(),
                   "bytes": pa.binary()}
    ids = data.draw(st.lists(INT64, min_size=n, max_size=n, unique=True))
    # per entity 0..3 points, ascending event time; an event time may repeat (the last wins)
    entities = []
    for _ in range(n):
        times = sorted(data.draw(st.lists(st.integers(0, 5), max_size=3)))
        points = []
        for t in times:
            row = [data.draw(st.none() | (STRATEGIES[ty] if ty != "float32"
                                          else st.floats(width=32))) for ty in types]
            points.append({"event_timestamp": t, "_ingested_at": 7, **{f"f{i}": v for i, v in
                                                                        enumerate(row)}})
        entities.append(points)
    # flat rows, contiguous per entity, in any order within it (the writer sorts them)
    flat = [(ids[j], p) for j, points in enumerate(entities) for p in reversed(points)]
    flat += [(ids[j], None) for j, points in enumerate(entities) if not points]
    flat.sort(key=lambda r: next(k for k, i in enumerate(ids) if i == r[0]))
    cols: dict[str, pa.Array] = {"id": pa.array([i for i, _ in flat], pa.int64())}
    cols["event_timestamp"] = pa.array([p and p["event_timestamp"] for _, p in flat],
                                       pa.timestamp("us", tz="UTC"))
    cols["_ingested_at"] = pa.array([p and 7 for _, p in flat], pa.timestamp("us", tz="UTC"))
    for i, t in enumerate(types):
        cols[f"f{i}"] = pa.array([p and p[f"f{i}"] for _, p in flat], arrow_types[t])
    task = WriteTask(view=view, online=RedisConfig(), prefix=b"p:", mode=WriteMode.FRESH,
                     now_ms=-1, now_us=-1)  # every point lies after "now": all are kept
    rows, points = _group(pa.RecordBatch.from_pydict(cols), task)
    keys, values, last_ev = encode_batch(rows, view, b"p:", points)
    order = list(dict.fromkeys(i for i, _ in flat))
    assert rows.column("id").to_pylist() == order
    codec, key_codec = ValueCodec(view), EntityKeyCodec(view)
    for j, points in enumerate(entities):
        j_row = order.index(ids[j])
        assert keys[j_row] == b"p:" + key_codec.encode((ids[j],))
        kept = [p for k, p in enumerate(points)
                if k + 1 == len(points) or points[k + 1]["event_timestamp"] != p["event_timestamp"]]
        if not kept:
            assert values[j_row] is None
            continue
        expected = codec.encode_points([(p["event_timestamp"], 7,
                                         [p[f"f{i}"] for i in range(len(types))]) for p in kept])
        assert values[j_row] == expected
        assert last_ev[j_row] == kept[-1]["event_timestamp"]
        decoded = codec.decode_points(expected)
        assert [d[0] for d in decoded] == [p["event_timestamp"] for p in kept]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=6, unique=True), st.integers(-5, 60))
def test_a_lookup_sees_the_newest_point_available_at_its_time(times: list[int], t: int) -> None:
    codec = ValueCodec(view_of(["int64"]))
    times.sort()
    raw = codec.encode_points([(e, 0, [e * 10]) for e in times])
    got = codec.at(raw, t)
    past = [e for e in times if e <= t]
    assert got == ((past[-1], 0, [past[-1] * 10]) if past else None)
    assert codec.decode(raw) == (times[-1], 0, [times[-1] * 10])


def test_key_layout_is_versioned_and_cluster_safe() -> None:
    prefix = data_prefix("sfs", "driver_stats", "3f2a9c1be0d4aa", 7)
    assert prefix == f"sfs:{LAYOUT_VERSION}:driver_stats:3f2a9c1b:7:".encode()
    assert b"{" not in prefix  # data keys spread over all slots
    assert control_key("sfs", "driver_stats") == f"sfs:{LAYOUT_VERSION}:{{driver_stats}}:ctl"
    assert escape_glob(b"a*b[c]") == b"a\\*b\\[c\\]"


def test_unknown_value_format_is_an_online_store_error() -> None:
    with pytest.raises(OnlineStoreError, match="encoding"):
        ValueCodec(view_of(["int64"])).decode(b"\x09" + bytes(30))


def test_view_validation_lists_every_problem() -> None:
    with pytest.raises(DefinitionError) as info:
        OnlineView("bad:name", "v1", (Field("k", "double"),), (Field("k", "map"),), timedelta(0))
    text = str(info.value)
    for fragment in ("name must", "key 'k'", "feature 'k'", "duplicate", "ttl"):
        assert fragment in text


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(INT64, st.integers(10**12, 10**13 - 1), st.floats(allow_nan=False)),
                max_size=20))
def test_numpy_framing_equals_per_command_framing(rows: list[tuple[int, int, float]]) -> None:
    import numpy as np

    from sparkfs.online.frames import fresh_set_frames
    from sparkfs.online.resp import command

    values = np.zeros(len(rows), dtype=[("fmt", "u1"), ("x", "<f8")])
    values["fmt"], values["x"] = 1, [r[2] for r in rows]
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    exp = np.array([r[1] for r in rows], dtype=np.int64)
    expected = b"".join(
        command(b"SET", b"p:" + i.to_bytes(8, "little", signed=True), values[j : j + 1].tobytes(),
                b"PXAT", e)
        for j, (i, e, _) in enumerate(rows))
    assert fresh_set_frames(b"p:", ids, values, exp) == expected
