"""Clients: the identifiers each kind requires, validated by the one identifiers module."""

import pytest
from django.core.exceptions import ValidationError

from core.identifiers import build_siret
from sons.models import Client, ClientKind, ClientRelationship
from tests.sons.factories import valid_finess, valid_rpps

pytestmark = pytest.mark.django_db


def errors(**fields) -> dict:
    client = Client(legal_name="Client", **fields)
    with pytest.raises(ValidationError) as exc:
        client.full_clean()
    return exc.value.message_dict


def test_a_doctor_needs_an_rpps():
    assert "Médecin libéral" in errors(kind=ClientKind.MEDECIN_LIBERAL)["rpps"][0]


def test_the_cpx_national_id_is_stored_as_the_rpps():
    rpps = valid_rpps(7)
    client = Client(kind=ClientKind.MEDECIN_LIBERAL, legal_name="Dr X", rpps="8" + rpps)
    client.full_clean()
    assert client.rpps == rpps


def test_a_wrong_rpps_key_is_refused_with_the_rule():
    rpps = valid_rpps(7)
    wrong = rpps[:-1] + str((int(rpps[-1]) + 1) % 10)
    assert any("Luhn" in m for m in errors(kind=ClientKind.MEDECIN_LIBERAL, rpps=wrong)["rpps"])


def test_a_site_needs_a_finess_or_a_siret():
    assert "FINESS ou SIRET" in errors(kind=ClientKind.OFFICINE)["finess"][0]
    Client(kind=ClientKind.OFFICINE, legal_name="Pharmacie", finess=valid_finess(3)).full_clean()
    Client(
        kind=ClientKind.MSP, legal_name="MSP", siret=build_siret("12345678", "0001")
    ).full_clean()


def test_siren_must_match_the_siret():
    siret = build_siret("12345678", "0001")
    other_siren = build_siret("87654321", "0001")[:9]
    assert (
        "ne correspond pas"
        in errors(kind=ClientKind.MSP, siret=siret, siren=other_siren)["siren"][0]
    )


@pytest.mark.parametrize(
    ("characteristics", "needle"),
    [
        ({"doctors": 2.5}, "entier"),
        ({"doctors": -1}, "négative"),
        ({"doctors": "beaucoup"}, "nombre"),
        (["doctors"], "objet"),
    ],
)
def test_characteristics_are_non_negative_numbers_never_floats(characteristics, needle):
    record = ClientRelationship(characteristics=characteristics)
    with pytest.raises(ValidationError) as exc:
        record.full_clean(exclude=["vendor", "client"])
    assert needle in exc.value.message_dict["characteristics"][0]


def test_decimal_text_characteristics_are_accepted():
    ClientRelationship(
        characteristics={"reimbursed_turnover_eur": "812345.50", "doctors": 3}
    ).full_clean(exclude=["vendor", "client"])
