"""The API's renderer writes DRF's JSON byte for byte, orjson or not."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer as DrfJSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from api.renderers import JSONRenderer


@dataclasses.dataclass
class Point:
    x: int


def both(data, accepted="application/json"):
    return JSONRenderer().render(data, accepted, {}), DrfJSONRenderer().render(data, accepted, {})


PARIS = ZoneInfo("Europe/Paris")
NAIVE = dt.datetime(2026, 1, 1, 12, 30, tzinfo=dt.UTC).replace(tzinfo=None)


def nested(depth: int) -> list:
    value: list = [1]
    for _level in range(depth):
        value = [value]
    return value


CASES = [
    None,
    {},
    [],
    {"results": [], "next": None, "previous": None},
    {"a": 'é\u2028x\u2029y\x00\x1f\x7f"\\\n\t/</script>', "emoji": "😀", "n": -(2**63)},
    {"big": 2**64},  # past orjson's 64 bits
    {1: "a", None: "b", 2.5: "c"},  # keys that are not strings
    {"when": dt.datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=dt.UTC)},
    {"when": dt.datetime(2026, 3, 29, 3, 0, tzinfo=PARIS), "naive": NAIVE},
    {"day": dt.date(2026, 2, 28), "at": dt.time(14, 0), "long": dt.timedelta(days=1, seconds=1)},
    {"amount": Decimal("12.34"), "rate": Decimal("0.00001"), "tiny": 1.5e-6, "small": 1e-5},
    {"floats": [0.1, 100.0, 1e16, 1e-4, 123456.789, -0.0]},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "lazy": gettext_lazy("Jeton")},
    {"detail": ErrorDetail("Paramètre inconnu.", code="unknown_parameter")},
    ReturnDict({"a": ReturnList([1, (2, 3)], serializer=None)}, serializer=None),
    {"bytes": b"abc", "set": frozenset()},
    {"text": "Île-de-France e-5 0.00001"},  # the float guard's false alarm: still DRF's bytes
    {"deep": nested(300)},  # past orjson's 254 levels
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_the_answer_is_drf_s_byte_for_byte(data):
    ours, drf = both(data)
    assert ours == drf


def test_an_indent_asked_for_is_drf_s():
    ours, drf = both({"a": [1, 2]}, "application/json; indent=4")
    assert ours == drf and b"\n" in ours


@pytest.mark.parametrize("value", [object(), Point(1)])
def test_what_json_cannot_write_fails_as_with_drf(value):
    with pytest.raises(TypeError):
        DrfJSONRenderer().render({"x": value})
    with pytest.raises(TypeError):
        JSONRenderer().render({"x": value})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.sampled_from([None, dt.UTC, PARIS])),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_any_value_is_written_as_drf_writes_it(data):
    ours, drf = both(data)
    assert ours == drf
