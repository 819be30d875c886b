"""A vendor administrator manages its people: invitation by mail, the password chosen from the
link, roles, deactivation, a lost second factor; collaborators cannot."""

import re

import pytest
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice

from catalogue.models import VendorMember
from core.models import JournalEntry
from tests.portal.conftest import make_member, sign_in
from tests.responses import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, vendor_admin):
    return sign_in(client, vendor_admin)


def test_collaborators_do_not_manage_people(staff_client):
    assert staff_client.get("/portail/utilisateurs/").status_code == 403
    assert "Utilisateurs" not in text(staff_client.get("/portail/"))


def test_an_invitation_mails_a_link_where_the_person_chooses_a_password(
    admin_client, vendor, vendor_admin, mailoutbox, django_capture_on_commit_callbacks, client
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/portail/utilisateurs/",
            {
                "first_name": "Chloé",
                "last_name": "Durand",
                "email": "Chloe.Durand@Example.invalid",
                "role": "staff",
            },
        )
    assert response["Location"] == "/portail/utilisateurs/"
    member = VendorMember.objects.get(user__username="chloe.durand@example.invalid")
    assert (member.vendor, member.role) == (vendor, "staff")
    assert not member.user.has_usable_password()
    assert JournalEntry.objects.filter(transition="invite", actor=vendor_admin).count() == 1
    (mail,) = mailoutbox
    assert mail.to == ["chloe.durand@example.invalid"]
    link = re.search(r"http://testserver(/portail/mot-de-passe/\S+/)", mail.body).group(1)

    client.logout()
    page = client.get(link)
    assert "chloe.durand@example.invalid" in text(page)
    new = "Un-mot-de-passe-tout-neuf-42"
    response = client.post(link, {"new_password1": new, "new_password2": new})
    assert response["Location"] == "/portail/connexion/"
    assert client.get(link).status_code == 400  # the link served once
    response = client.post(
        "/portail/connexion/", {"username": "chloe.durand@example.invalid", "password": new}
    )
    assert response["Location"] == "/portail/"


def test_an_address_already_in_use_is_refused(admin_client, staff):
    response = admin_client.post(
        "/portail/utilisateurs/",
        {"first_name": "A", "last_name": "B", "email": staff.email, "role": "staff"},
    )
    assert "Un compte existe déjà" in text(response)
    assert get_user_model().objects.filter(email=staff.email).count() == 1


def test_roles_change_but_the_last_administrator_stays(admin_client, vendor_admin, staff):
    staff_member = staff.vendor_membership
    admin_client.post(f"/portail/utilisateurs/{staff_member.pk}/role/", {"role": "admin"})
    staff_member.refresh_from_db()
    assert staff_member.role == "admin"
    admin_client.post(f"/portail/utilisateurs/{staff_member.pk}/role/", {"role": "staff"})
    own = vendor_admin.vendor_membership
    response = admin_client.post(
        f"/portail/utilisateurs/{own.pk}/role/", {"role": "staff"}, follow=True
    )
    assert "dernier administrateur actif" in text(response)
    own.refresh_from_db()
    assert own.role == "admin"


def test_a_deactivated_person_is_signed_out_and_cannot_come_back(
    admin_client, vendor_admin, staff, client
):
    from django.test import Client

    their_session = sign_in(Client(), staff)
    assert their_session.get("/portail/").status_code == 200
    admin_client.post(f"/portail/utilisateurs/{staff.vendor_membership.pk}/desactiver/")
    staff.refresh_from_db()
    assert not staff.is_active
    assert their_session.get("/portail/").status_code == 302
    admin_client.post(f"/portail/utilisateurs/{staff.vendor_membership.pk}/reactiver/")
    staff.refresh_from_db()
    assert staff.is_active
    response = admin_client.post(
        f"/portail/utilisateurs/{vendor_admin.vendor_membership.pk}/desactiver/", follow=True
    )
    assert "votre propre compte" in text(response)


def test_a_lost_device_is_reset_by_an_administrator(admin_client, vendor):
    other_admin = make_member(vendor, role=VendorMember.Role.ADMIN)
    admin_client.post(
        f"/portail/utilisateurs/{other_admin.vendor_membership.pk}/double-authentification/"
    )
    assert not TOTPDevice.objects.filter(user=other_admin).exists()
    assert JournalEntry.objects.filter(transition="reset_second_factor").count() == 1
