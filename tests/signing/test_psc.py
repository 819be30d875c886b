"""Pro Santé Connect, once configured, replaces the mailed code: the whole OpenID Connect flow
runs against a real provider started by the tests on localhost (discovery, JWKS, authorize,
token, userinfo; ID tokens signed with a key generated for the run)."""

from urllib.parse import parse_qs, urlparse

import pytest
from joserfc.jwk import RSAKey

from signing.models import SigningLink
from sons.models import VaDecision, VaStatus
from tests.signing.helpers import PSC_RPPS as RPPS
from tests.signing.helpers import html, issue, mails_to, order_for, psc_sign_in, token_in
from tests.sons.factories import ClientFactory, SiteClientFactory, valid_rpps

pytestmark = pytest.mark.django_db


@pytest.fixture
def va(admin_user, django_capture_on_commit_callbacks):
    order = order_for(admin_user, client=ClientFactory(rpps=RPPS))
    return issue(order, admin_user, django_capture_on_commit_callbacks)


def token_of(va) -> str:
    return token_in(mails_to(va.order.contact.email)[-1])


def test_when_configured_the_page_offers_pro_sante_connect_instead_of_a_code(provider, va, client):
    page = html(client.get(f"/signature/{token_of(va)}/"))
    assert "Se connecter avec Pro Santé Connect" in page
    assert "Recevoir un code" not in page
    assert client.post(f"/signature/{token_of(va)}/", {"action": "send"}).status_code == 200
    assert not va.signing_links.get().codes.exists()


def test_the_mail_says_how_identity_will_be_checked(provider, admin_user, capture):
    va = issue(order_for(admin_user, client=ClientFactory(rpps=RPPS)), admin_user, capture)
    assert (
        "vous vous connecterez avec Pro Santé Connect" in mails_to(va.order.contact.email)[0].body
    )


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_signing_in_with_pro_sante_connect_then_signing_records_that_identity(
    provider, va, client, django_capture_on_commit_callbacks
):
    token = token_of(va)
    response = psc_sign_in(client, token)
    assert response.status_code == 302
    assert response["Location"] == f"/signature/{token}/document/"
    # Every endpoint served: discovery, authorize, token (which checks PKCE), keys, userinfo.
    assert {"/.well-known/openid-configuration", "/authorize", "/token", "/jwks", "/userinfo"} <= (
        set(provider.requests)
    )

    page = html(client.get(f"/signature/{token}/document/"))
    assert f"Identité confirmée : Pro Santé Connect (8{RPPS})" in page
    assert 'value="Marie Curie"' in page and "readonly" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/signature/{token}/signer/",
            {
                "signer_name": "Quelqu'un d'autre",  # the name vouched for by PSC wins
                "signer_role": "Médecin titulaire",
                "document_sha256": va.pdf_sha256,
                **{f"statement_{i}": "on" for i in range(len(va.statements))},
            },
        )
    assert response.status_code == 302
    decision = VaDecision.objects.get(va=va)
    assert decision.outcome == "signed"
    assert (decision.identity_method, decision.identity_subject, decision.signer_rpps) == (
        "pro_sante_connect",
        f"8{RPPS}",
        RPPS,
    )
    assert decision.signer_name == "Marie Curie"
    assert SigningLink.objects.get(va=va).signer_rpps == RPPS


def test_a_professional_other_than_the_one_named_is_refused(provider, va, client):
    other = valid_rpps(777002)
    provider.claims["SubjectNameID"] = f"8{other}"
    token = token_of(va)
    response = psc_sign_in(client, token)
    assert response["Location"] == f"/signature/{token}/"
    page = html(client.get(f"/signature/{token}/"))
    assert f"sous le RPPS {other}" in page
    assert f"titulaire du RPPS {RPPS}" in page
    assert client.get(f"/signature/{token}/document/").status_code == 302


def test_for_an_establishment_any_professional_may_sign_and_is_recorded(
    provider, admin_user, client, django_capture_on_commit_callbacks
):
    order = order_for(admin_user, client=SiteClientFactory())
    va = issue(order, admin_user, django_capture_on_commit_callbacks)
    token = token_of(va)
    assert psc_sign_in(client, token)["Location"] == f"/signature/{token}/document/"
    assert f"Pro Santé Connect (8{RPPS})" in html(client.get(f"/signature/{token}/document/"))


@pytest.mark.parametrize(
    "misbehave",
    [
        {"forging_key": RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)},
        {"audience": "un-autre-client"},
        {"nonce": "un-autre-nonce"},
    ],
    ids=["forged-signature", "wrong-audience", "wrong-nonce"],
)
def test_an_id_token_that_does_not_check_out_is_refused(provider, va, client, misbehave):
    for name, value in misbehave.items():
        setattr(provider, name, value)
    token = token_of(va)
    response = psc_sign_in(client, token)
    assert response["Location"] == f"/signature/{token}/"
    assert "La connexion avec Pro Santé Connect n'a pas abouti" in html(
        client.get(f"/signature/{token}/")
    )
    assert client.get(f"/signature/{token}/document/").status_code == 302
    va.refresh_from_db()
    assert va.status == VaStatus.ISSUED


def test_a_callback_that_matches_no_login_is_refused(provider, va, client):
    token = token_of(va)
    client.get(f"/signature/{token}/pro-sante-connect/")
    response = client.get("/signature/pro-sante-connect/retour/", {"code": "x", "state": "autre"})
    assert response.status_code == 400
    assert "Connexion interrompue" in html(response)
    assert client.get(f"/signature/{token}/document/").status_code == 302


def test_a_login_cancelled_at_the_provider_says_so(provider, va, client):
    token = token_of(va)
    start = client.get(f"/signature/{token}/pro-sante-connect/")
    state = parse_qs(urlparse(start["Location"]).query)["state"][0]
    response = client.get(
        "/signature/pro-sante-connect/retour/", {"error": "access_denied", "state": state}
    )
    assert response["Location"] == f"/signature/{token}/"
    assert "interrompue" in html(client.get(f"/signature/{token}/"))


def test_without_configuration_there_is_no_pro_sante_connect(va, client):
    assert client.get(f"/signature/{token_of(va)}/pro-sante-connect/").status_code == 404
