"""The demo world has a VA waiting for signature, and its link can be printed at any time."""

from urllib.parse import urlparse

import pytest
from django.core import mail
from django.core.management import call_command

from signing.demo import demo_links, waiting_demo_va
from sons.models import VaStatus
from sons.services import acceptance
from sons.services.acceptance import Signer
from tests.signing.helpers import html


# The demo world renders PDFs after commit: real commits are needed.
@pytest.mark.django_db(transaction=True)
def test_the_demo_va_waits_for_signature_and_its_link_opens(client, settings, capsys):
    call_command("load_dispositifs", verbosity=0)
    call_command("seed_demo", force=True)
    va = waiting_demo_va()
    assert va is not None and va.order.client.is_demo

    mail.outbox.clear()
    (url,) = demo_links()
    assert url.startswith(settings.SIGNING_BASE_URL + "/signature/")
    (message,) = mail.outbox  # the console shows this mail after `make run`
    assert url in message.body
    page = client.get(urlparse(url).path)
    assert page.status_code == 200
    assert va.order.reference in html(page)

    # Once the demo VA is signed, the next call issues one on another delivered demo order.
    acceptance.sign_va(
        va=va,
        signer=Signer(name="Dr Démo", role="Médecin", identity_method="code_courriel"),
        confirmed=list(va.statements),
        document_sha256=va.pdf_sha256,
    )
    call_command("signing_demo_links", force=True)
    printed = capsys.readouterr().out
    assert "VA de démonstration à signer : http" in printed
    fresh = waiting_demo_va()
    assert fresh.status == VaStatus.ISSUED and fresh.order != va.order
