"""The demo world of `make run`: believable, labelled, built through the real rules."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from catalogue.models import Referencing, ReferencingStatus, Tariff, Vendor
from core.journal import verify_chain
from sons.models import (
    ClientConflict,
    ClientKind,
    OrderStatus,
    PurchaseOrder,
    VaStatus,
    VerificationAptitude,
)


# The demo world signs VA, whose PDFs render after commit: real commits are needed.
@pytest.mark.django_db(transaction=True)
def test_the_demo_world(client, admin_user):
    call_command("load_dispositifs")
    call_command("seed_demo", force=True)
    orders_before = PurchaseOrder.objects.count()
    call_command("seed_demo", force=True)  # a second run changes nothing
    assert PurchaseOrder.objects.count() == orders_before

    assert set(PurchaseOrder.objects.values_list("status", flat=True)) == set(OrderStatus.values)
    assert set(VerificationAptitude.objects.values_list("status", flat=True)) >= {
        VaStatus.SIGNED,
        VaStatus.REFUSED,
        VaStatus.ISSUED,
    }
    assert ClientConflict.objects.exists()
    kinds = set(PurchaseOrder.objects.values_list("client__kind", flat=True))
    assert {ClientKind.MEDECIN_LIBERAL, ClientKind.OFFICINE, ClientKind.OPERATEUR_MSSANTE} <= kinds
    assert all(o.pdf_sha256 for o in PurchaseOrder.objects.exclude(status=OrderStatus.DRAFT))
    mss = PurchaseOrder.objects.get(client__kind=ClientKind.OPERATEUR_MSSANTE)
    assert mss.amount_ht_cents == 916657  # the real MSSanté formula, not a demo tariff
    assert set(Referencing.objects.values_list("status", flat=True)) >= {
        ReferencingStatus.REFERENCED,
        ReferencingStatus.UNDER_REVIEW,
        ReferencingStatus.SUBMITTED,
        ReferencingStatus.REJECTED,
    }
    assert verify_chain()[1] is None
    for vendor in Vendor.objects.all():
        vendor.full_clean()
    assert all("[DÉMO]" in str(t) for t in Tariff.objects.filter(is_demo=True))
    assert not Tariff.objects.filter(dispositif__code="MSS-OPE-V1", is_demo=True).exists()
    assert "MédiCabinet Démo" in client.get("/referencements/").content.decode()

    client.force_login(admin_user)
    for model in admin.site._registry:
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
        for row in model._default_manager.all()[:3]:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
            assert client.get(change).status_code == 200, change


def test_demo_is_refused_on_a_production_configuration():
    with pytest.raises(CommandError):
        call_command("seed_demo")
