"""Lifecycle side effects through a real Celery worker on the configured broker (Redis in CI)."""

import io
import time

import pytest
from pypdf import PdfReader

from sons.models import PurchaseOrder
from tests.conftest import real_broker
from tests.sons.factories import lgc_dispositif, referenced, signed_order


@real_broker
@pytest.mark.django_db(transaction=True)
def test_the_bdc_pdf_is_rendered_by_the_worker_after_commit(
    worker, django_user_model, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    user = django_user_model.objects.create_user("agent")
    order = signed_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=user), actor=user
    )

    for _ in range(100):  # the worker renders it in the background, after the commit
        order.refresh_from_db()
        if order.pdf_sha256:
            break
        time.sleep(0.2)
    assert order.pdf_sha256
    with order.pdf.open("rb") as handle:
        text = " ".join(PdfReader(io.BytesIO(handle.read())).pages[0].extract_text().split())
    assert order.reference in text
    assert PurchaseOrder.objects.get(pk=order.pk).status == "signed"


def _wait_for(instance, field: str) -> None:
    for _ in range(150):  # the worker renders in the background, after the commit
        instance.refresh_from_db()
        if getattr(instance, field):
            return
        time.sleep(0.2)
    raise AssertionError(f"{field} never set by the worker")


@real_broker
@pytest.mark.django_db(transaction=True)
def test_a_signed_va_gets_its_signed_pdf_through_the_worker(
    worker, django_user_model, settings, tmp_path
):
    from sons.services import acceptance
    from sons.services.acceptance import Signer

    settings.MEDIA_ROOT = tmp_path
    user = django_user_model.objects.create_user("agent")
    order = signed_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=user), actor=user
    )
    va = acceptance.create_va(order=order, delivered_summary="Mise à jour livrée", actor=user)
    va = acceptance.issue_va(va=va, actor=user)
    _wait_for(va, "pdf_sha256")
    acceptance.sign_va(
        va=va,
        signer=Signer(name="Dr Marie Curie", role="Médecin", identity_method="otp"),
        confirmed=list(va.statements),
        document_sha256=va.pdf_sha256,
    )
    _wait_for(va, "signed_pdf_sha256")
    with va.signed_pdf.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    last = " ".join(reader.pages[-1].extract_text().split())
    assert "Dr Marie Curie" in last
    assert va.pdf_sha256 in last.replace(" ", "")
