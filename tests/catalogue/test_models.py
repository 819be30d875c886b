import pytest
from django.core.exceptions import ValidationError

from catalogue.models import Vendor
from tests.factories import valid_siret

pytestmark = pytest.mark.django_db


def test_vendor_identifiers_are_stored_in_canonical_form():
    siret = valid_siret(42)
    vendor = Vendor(
        kind=Vendor.Kind.EDITEUR,
        name="Éditeur",
        siret=f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}",
        iban="fr76 3000 6000 0112 3456 7890 189",
        bic="bnpafrpp",
    )
    vendor.full_clean()
    vendor.save()
    vendor.refresh_from_db()
    assert vendor.siret == siret
    assert vendor.siren == siret[:9]
    assert vendor.iban == "FR7630006000011234567890189"
    assert vendor.bic == "BNPAFRPP"


def test_vendor_with_a_wrong_siret_names_the_field_and_the_rule():
    siret = valid_siret(42)
    wrong = siret[:-1] + str((int(siret[-1]) + 1) % 10)
    vendor = Vendor(kind=Vendor.Kind.EDITEUR, name="Éditeur", siret=wrong)
    with pytest.raises(ValidationError) as exc:
        vendor.full_clean()
    messages = exc.value.message_dict["siret"]
    assert any("Luhn" in m for m in messages)
