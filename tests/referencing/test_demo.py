import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.journal import verify_chain
from referencing.models import Referencing, ReferencingStatus, Tariff

pytestmark = pytest.mark.django_db


def test_demo_data_walks_the_real_rules_and_is_labelled(client):
    call_command("load_dispositifs")
    call_command("load_demo", force=True)
    call_command("load_demo", force=True)  # idempotent
    assert Referencing.objects.filter(status=ReferencingStatus.REFERENCED).count() == 4
    assert set(Referencing.objects.values_list("status", flat=True)) >= {
        "referenced",
        "under_review",
        "submitted",
        "rejected",
    }
    assert verify_chain()[1] is None
    # Real tariffs stay real; every invented one says it is a demo.
    assert not Tariff.objects.filter(dispositif__code="MSS-OPE-V1", is_demo=True).exists()
    assert Tariff.objects.filter(is_demo=True).exists()
    assert all("[DÉMO]" in str(t) for t in Tariff.objects.filter(is_demo=True))
    html = client.get("/referencements/").content.decode()
    assert "MédiCabinet Démo" in html


def test_demo_is_refused_on_a_production_configuration():
    with pytest.raises(CommandError):
        call_command("load_demo")


def test_demo_vendors_have_valid_identifiers():
    from referencing.models import Vendor

    call_command("load_dispositifs")
    call_command("load_demo", force=True)
    for vendor in Vendor.objects.all():
        vendor.full_clean()
