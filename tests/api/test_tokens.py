"""Tokens: stored hashed, shown once, expiring, revocable, each call recorded with its token."""

import datetime as dt
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from api import calls as api_calls
from api.models import ApiCall, ApiToken
from api.tokens import hash_token, issue_token, revoke_token
from catalogue.models import VendorMember
from tests.api.conftest import Api, make_member
from tests.factories import VendorFactory

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_as_its_hash_and_never_in_clear(side_a):
    token = ApiToken.objects.get(user=side_a.user)
    assert side_a.secret.startswith(f"sons_{token.prefix}_")
    assert token.key_hash == hash_token(side_a.secret)
    assert side_a.secret not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.vendor == side_a.vendor


def test_a_valid_token_says_who_calls_and_for_which_vendor(side_a):
    response = side_a.api.get("/api/v1/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["vendor"]["siret"] == side_a.vendor.siret
    assert body["username"] == side_a.user.username
    assert body["programme_admin"] is False


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer sons_00000000_inconnu", "token_invalid"),
        ("Basic dXNlcjpwdw==", "token_invalid"),
        ("Bearer ", "token_invalid"),
    ],
)
def test_without_a_known_token_the_answer_is_401_with_a_problem(side_a, header, code):
    api = Api()
    if header:
        api.client.credentials(HTTP_AUTHORIZATION=header)
    response = api.get("/api/v1/orders/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == code


def test_an_expired_token_is_refused(side_a):
    ApiToken.objects.filter(user=side_a.user).update(expires_at=timezone.now())
    response = side_a.api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_a_revoked_token_is_refused_at_once(side_a):
    token = ApiToken.objects.get(user=side_a.user)
    assert side_a.api.get("/api/v1/me/").status_code == 200
    revoke_token(token=token, by=side_a.user)
    response = side_a.api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_a_member_who_leaves_the_vendor_loses_the_api(side_a):
    VendorMember.objects.filter(user=side_a.user).update(vendor=VendorFactory())
    response = side_a.api.get("/api/v1/orders/")
    assert response.status_code == 403


def test_a_deactivated_account_cannot_call(side_a):
    side_a.user.is_active = False
    side_a.user.save()
    assert side_a.api.get("/api/v1/me/").status_code == 401


def test_each_call_is_recorded_with_its_token(side_a):
    side_a.api.get("/api/v1/orders/")
    side_a.api.get("/api/v1/orders/999999/")
    api_calls.flush()
    calls = list(ApiCall.objects.order_by("at"))
    token = ApiToken.objects.get(user=side_a.user)
    assert [(c.token_id, c.method, c.path, c.status_code) for c in calls] == [
        (token.pk, "GET", "/api/v1/orders/", 200),
        (token.pk, "GET", "/api/v1/orders/999999/", 404),
    ]
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_calls_are_written_by_batch_and_logged_at_once(side_a, settings, caplog):
    settings.API_CALL_BATCH = 3
    settings.API_CALL_FLUSH_SECONDS = 3600
    caplog.set_level(logging.INFO, logger="api.calls")
    with CaptureQueriesContext(connection) as first:
        side_a.api.get("/api/v1/orders/")
    side_a.api.get("/api/v1/orders/999999/")
    # Not in the table yet, but each already in the log.
    assert ApiCall.objects.count() == 0
    assert api_calls.pending() == 2
    assert not [q for q in first.captured_queries if "api_apicall" in q["sql"]]
    logged = [r.getMessage() for r in caplog.records if r.name == "api.calls"]
    assert len(logged) == 2 and "path=/api/v1/orders/999999/ status=404" in logged[1]
    side_a.api.get("/api/v1/me/")  # the third: the batch is written
    assert api_calls.pending() == 0
    assert list(ApiCall.objects.order_by("at").values_list("path", flat=True)) == [
        "/api/v1/orders/",
        "/api/v1/orders/999999/",
        "/api/v1/me/",
    ]


def test_calls_kept_are_written_when_the_process_exits(side_a, settings):
    settings.API_CALL_BATCH = 1000
    settings.API_CALL_FLUSH_SECONDS = 3600
    side_a.api.get("/api/v1/orders/")
    assert ApiCall.objects.count() == 0
    api_calls._flush_at_exit()
    assert ApiCall.objects.get().path == "/api/v1/orders/"


def test_calls_are_written_once_the_oldest_has_waited(side_a, settings):
    settings.API_CALL_BATCH = 1000
    settings.API_CALL_FLUSH_SECONDS = 0
    side_a.api.get("/api/v1/orders/")
    assert ApiCall.objects.count() == 1


def test_a_batch_the_database_refuses_is_logged_call_by_call(side_a, settings, caplog):
    settings.API_CALL_BATCH = 1000
    settings.API_CALL_FLUSH_SECONDS = 3600
    side_a.api.get("/api/v1/orders/")
    side_a.api.get("/api/v1/me/")
    token = ApiToken.objects.get(user=side_a.user)
    # A row the database refuses (a negative status breaks its CHECK): the whole batch is.
    api_calls.record(ApiCall(token=token, method="GET", path="/x/", status_code=-1, duration_ms=1))
    caplog.set_level(logging.INFO, logger="api.calls")
    assert api_calls.flush() == 0
    lost = [r.getMessage() for r in caplog.records if "api_call_lost" in r.getMessage()]
    assert len(lost) == 3
    assert "path=/api/v1/orders/ status=200" in lost[0]
    assert "path=/api/v1/me/ status=200" in lost[1]
    assert ApiCall.objects.count() == 0
    # The next call is served and written as usual.
    assert side_a.api.get("/api/v1/me/").status_code == 200
    assert api_calls.flush() == 1


@pytest.mark.parametrize(
    ("name", "days", "code"),
    [
        ("", 30, "token_name_required"),
        ("CRM", 0, "token_lifetime_invalid"),
        ("CRM", 10_000, "token_lifetime_invalid"),
    ],
)
def test_a_token_needs_a_name_and_a_bounded_lifetime(side_a, name, days, code):
    from core.errors import RuleViolation

    with pytest.raises(RuleViolation) as exc:
        issue_token(user=side_a.user, name=name, days=days)
    assert exc.value.code == code


def test_only_vendor_members_and_administrators_get_tokens(django_user_model):
    from core.errors import RuleViolation

    nobody = django_user_model.objects.create_user("personne", "p@example.invalid", "pw")
    with pytest.raises(RuleViolation) as exc:
        issue_token(user=nobody, name="CRM")
    assert exc.value.code == "token_owner_invalid"


def test_a_token_expires_after_its_lifetime(side_a):
    at = timezone.now()
    token = issue_token(user=side_a.user, name="Court", days=2, at=at).token
    assert token.expires_at == at + dt.timedelta(days=2)


# -- the token page of the portal --------------------------------------------------------


def sign_in(client, user):
    """A portal session: signed in, second factor (TOTP) verified as the portal requires."""
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def member_client(client, side_a):
    return sign_in(client, side_a.user)


def test_the_page_creates_a_token_and_shows_it_once(member_client, side_a):
    response = member_client.post("/portail/jetons/", {"name": "Facturation", "days": 30})
    assert response.status_code == 302
    page = member_client.get("/portail/jetons/")
    secret = page.context["issued"]["secret"]
    assert secret.startswith("sons_")
    assert secret in page.content.decode()
    assert "no-cache" in page["Cache-Control"] or "no-store" in page["Cache-Control"]
    again = member_client.get("/portail/jetons/")
    assert secret not in again.content.decode()
    assert Api(secret).get("/api/v1/me/").status_code == 200
    assert "Facturation" in again.content.decode()


def test_the_page_explains_a_wrong_lifetime(member_client):
    response = member_client.post("/portail/jetons/", {"name": "CRM", "days": 100_000})
    assert response.status_code == 400
    assert "inférieure ou égale à 365" in response.content.decode()
    assert ApiToken.objects.filter(name="CRM").count() == 0


def test_the_page_revokes_a_token(member_client, side_a):
    token = ApiToken.objects.get(user=side_a.user)
    response = member_client.post(f"/portail/jetons/{token.pk}/revoquer/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert side_a.api.get("/api/v1/me/").status_code == 401


def test_another_vendors_token_cannot_be_revoked_from_the_page(member_client, side_b):
    token = ApiToken.objects.get(user=side_b.user)
    assert member_client.post(f"/portail/jetons/{token.pk}/revoquer/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_staff_member_sees_only_their_own_tokens(client, side_a, django_user_model):
    colleague = make_member(
        django_user_model, side_a.vendor, "collegue", role=VendorMember.Role.STAFF
    )
    issue_token(user=colleague, name="Script du collègue")
    sign_in(client, colleague)
    page = client.get("/portail/jetons/").content.decode()
    assert "Script du collègue" in page
    assert "CRM A" not in page
    admin_token = ApiToken.objects.get(user=side_a.user)
    assert client.post(f"/portail/jetons/{admin_token.pk}/revoquer/").status_code == 404


def test_the_vendor_administrator_sees_every_token_of_its_vendor(
    member_client, side_a, django_user_model
):
    colleague = make_member(
        django_user_model, side_a.vendor, "collegue", role=VendorMember.Role.STAFF
    )
    issue_token(user=colleague, name="Script du collègue")
    page = member_client.get("/portail/jetons/").content.decode()
    assert "Script du collègue" in page and "CRM A" in page


def test_the_page_needs_a_signed_in_vendor_member(client):
    response = client.get("/portail/jetons/")
    assert response.status_code == 302
    assert "/portail/connexion/" in response["Location"]


def test_the_admin_issues_a_token_and_shows_it_once(client, admin_user, side_a):
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    response = client.post(
        "/admin/api/apitoken/add/",
        {"user": side_a.user.pk, "name": "Jeton depuis l'admin", "days": 10},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="Jeton depuis l'admin")
    shown = [str(m) for m in response.context["messages"]]
    secret = next(m for m in shown if "sons_" in m).split(" : ")[-1]
    assert hash_token(secret) == token.key_hash
    assert token.created_by == admin_user and token.vendor == side_a.vendor
    assert client.get(f"/admin/api/apitoken/{token.pk}/change/").status_code == 200
    assert client.get("/admin/api/apicall/").status_code == 200


def test_the_command_prints_a_new_token_once(side_a, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("api_token", side_a.user.username, "--name", "Script", "--days", "3")
    out, err = capsys.readouterr()
    secret = out.strip()
    assert Api(secret).get("/api/v1/me/").status_code == 200
    assert "il ne sera plus affiché" in err
    with pytest.raises(CommandError):
        call_command("api_token", "inconnu", "--name", "Script")
    with pytest.raises(CommandError, match="1 à 365 jours"):
        call_command("api_token", side_a.user.username, "--name", "Script", "--days", "0")
