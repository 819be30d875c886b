"""The code page on a phone (issue 16): the code field comes first, « Recevoir un nouveau code »
second with a warning that it replaces the code sent, and a code that is not six digits is
refused under the field before it costs an attempt. The VA page shows the VA's version."""

import re
from html import unescape

import pytest

from signing.models import SigningLink
from signing.tokens import link_token
from tests.signing.helpers import html, identify, issue, last_code_for, order_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(admin_user, django_capture_on_commit_callbacks):
    va = issue(order_for(admin_user), admin_user, django_capture_on_commit_callbacks)
    return SigningLink.objects.get(va=va)


@pytest.fixture
def url(link, client, django_capture_on_commit_callbacks):
    """The link's page, a code already mailed."""
    url = f"/signature/{link_token(link.public_id)}/"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"action": "send"}).status_code == 302
    return url


def attempts(link) -> int:
    return SigningLink.objects.values_list("failed_attempts", flat=True).get(pk=link.pk)


def test_the_code_field_comes_before_asking_for_a_new_code(client, url):
    page = client.get(url).content.decode()
    field = page.index('id="id_code"')
    resend = page.index('value="send"')
    assert field < resend
    text = html(client.get(url))
    assert "Recevoir un nouveau code" in text
    assert "Un nouveau code remplace celui déjà envoyé : le précédent ne sera plus accepté." in text


@pytest.mark.parametrize("typed", ["12345", "1234567", "12a456", "１２３４５６"])
def test_a_code_that_is_not_six_digits_costs_no_attempt(client, link, url, typed):
    response = client.post(url, {"action": "verify", "code": typed})

    assert response.status_code == 400
    page = response.content.decode()
    error = re.search(r'<p [^>]*id="id_code-erreur"[^>]*>(.*?)</p>', page, re.S)
    assert error, page
    assert "Le code compte exactement 6 chiffres" in unescape(error[1])
    assert "Cet essai n'est pas décompté." in unescape(error[1])
    # Right under the field, in its DSFR group, tied to the input, which is marked invalid.
    group = re.search(r'<div class="fr-input-group fr-input-group--error">(.*?)</div>', page, re.S)
    assert group and group[1].index('id="id_code"') < group[1].index('class="fr-error-text"')
    assert re.search(
        r'<input[^>]*id="id_code"[^>]*aria-invalid="true" aria-describedby="id_code-erreur"', page
    )
    assert "Code incorrect" not in page
    assert attempts(link) == 0


def test_a_wrong_six_digit_code_still_counts_and_is_shown_under_the_field(client, link, url):
    code = last_code_for(link.sent_to)
    client.post(url, {"action": "verify", "code": "12345"})  # a typo first: free
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = client.post(url, {"action": "verify", "code": wrong})

    assert response.status_code == 400
    page = response.content.decode()
    error = re.search(r'id="id_code-erreur"[^>]*>(.*?)</p>', page, re.S)
    assert "Code incorrect. Il vous reste 4 essais" in error[1]
    assert attempts(link) == 1
    # Spaces typed in the right code are forgiven.
    right = client.post(url, {"action": "verify", "code": f"{code[:3]} {code[3:]}"})
    assert right.status_code == 302


def test_the_va_page_shows_the_va_version(client, link, django_capture_on_commit_callbacks):
    token = link_token(link.public_id)
    identify(client, token, link.sent_to, django_capture_on_commit_callbacks)
    text = html(client.get(f"/signature/{token}/document/"))
    assert re.search(r"VA émise le</dt> ?<dd>\S+ à \S+ \(heure de Paris\), version 1</dd>", text)
