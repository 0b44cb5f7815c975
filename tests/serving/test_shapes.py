"""The HTTP routes leave event times to orjson; the text must be exactly ``iso_utc``'s."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from sparkfs.online.layout import datetime_to_us, us_to_datetime
from sparkfs.online.reader import Status, ViewValue
from sparkfs.pipeline.serving_catalog import FeatureColumn
from sparkfs.serving.lookup import LookupPlan, LookupResult
from sparkfs.serving.responses import json_response
from sparkfs.serving.shapes import feast_response, iso_utc, rows_response

MOMENTS = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59),
                       timezones=st.just(UTC))


@given(MOMENTS)
def test_orjson_prints_event_times_as_iso_utc(moment: datetime) -> None:
    # event times reach the shapes through the online layout's microsecond round trip
    stored = us_to_datetime(datetime_to_us(moment))
    assert json_response({"t": stored}).body == json.dumps({"t": iso_utc(stored)},
                                                            separators=(",", ":")).encode()


@given(st.lists(st.one_of(st.none(), MOMENTS), min_size=1, max_size=20))
def test_http_bodies_equal_the_iso_shapes(moments: list[datetime | None]) -> None:
    columns = (FeatureColumn("users", "age"), FeatureColumn("users", "score"))
    answers = [{"users": ViewValue(Status.PRESENT, m, {"age": i, "score": 0.5})
                if m is not None else ViewValue(Status.NOT_FOUND)}
               for i, m in enumerate(moments)]
    result = LookupResult(LookupPlan(columns, (), {"user_id": "int64"}),
                          {"user_id": list(range(len(moments)))}, answers)
    for shape in (lambda iso: rows_response(result, iso=iso),
                  lambda iso: feast_response(result, True, iso=iso)):
        assert json.loads(json_response(shape(False)).body) == shape(True)
