"""A list's query parameters are validated by fields built once per class, with the answer a
serializer instantiated for the request would give: the same data, the same errors."""

import pytest
from rest_framework import serializers

from api.views.base import StrictQuery
from api.views.orders import OrderQuery

CASES = [
    {},
    {"status": "signed", "dispositif": "BIO-V1"},
    {"signed_after": "2024-03-31T01:30:00", "ordering": "-created_at", "client": "12"},
    {"status": "inconnu"},
    {"signed_after": "hier", "client": "99999999999999999999999", "ordering": "montant"},
    {"dispositif": "a b", "vendor_reference": "x" * 65},
    {"filtre": "x", "autre": "", "status": "inconnu"},
]


def through_a_serializer(data):
    serializer = OrderQuery(data=data)
    if serializer.is_valid():
        return "valid", dict(serializer.validated_data)
    return "invalid", serializer.errors


def through_validated(data):
    try:
        return "valid", OrderQuery.validated(data)
    except serializers.ValidationError as exc:
        return "invalid", exc.detail


@pytest.mark.parametrize("data", CASES)
def test_the_same_data_and_errors_as_a_serializer(data):
    expected, got = through_a_serializer(data), through_validated(data)
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    if got[0] == "invalid":  # codes too, field by field and in the same order
        assert list(got[1]) == list(expected[1])
        assert {k: [e.code for e in v] for k, v in got[1].items()} == {
            k: [e.code for e in v] for k, v in expected[1].items()
        }


def test_validating_twice_shares_nothing_between_calls():
    assert OrderQuery.validated({"status": "signed"}) == {"status": "signed"}
    assert OrderQuery.validated({}) == {}


def test_a_query_class_with_a_validate_method_is_refused_when_defined():
    with pytest.raises(TypeError):

        class CrossChecked(StrictQuery):
            start = serializers.DateField(required=False)

            def validate(self, attrs):
                return attrs

    with pytest.raises(TypeError):

        class FieldChecked(StrictQuery):
            start = serializers.DateField(required=False)

            def validate_start(self, value):
                return value
