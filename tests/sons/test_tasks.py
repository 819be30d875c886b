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
