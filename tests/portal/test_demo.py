"""The demo vendor's portal users: an administrator with a known password and a TOTP secret
printed, a collaborator; signing in as the administrator works with that secret."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.models import Vendor, VendorMember
from portal.demo import DEMO_ADMIN, DEMO_PASSWORD, DEMO_STAFF, create_demo_vendor_users
from tests.factories import VendorFactory
from tests.portal.conftest import code_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_vendor():
    from portal.demo import DEMO_VENDOR_SIRET

    return VendorFactory(siret=DEMO_VENDOR_SIRET, is_demo=True, name="Démo Logiciels Médicaux SAS")


def test_demo_users_are_created_once_and_the_secret_printed(demo_vendor):
    out = io.StringIO()
    created = create_demo_vendor_users(stdout=out)
    printed = out.getvalue()
    assert created["secret"] in printed
    assert DEMO_ADMIN in printed and DEMO_PASSWORD in printed and DEMO_STAFF in printed
    roles = dict(VendorMember.objects.values_list("user__username", "role"))
    assert roles == {DEMO_ADMIN: "admin", DEMO_STAFF: "staff"}
    again = create_demo_vendor_users(stdout=io.StringIO())
    assert again["secret"] == created["secret"]
    assert VendorMember.objects.count() == 2


def test_the_demo_administrator_signs_in_with_the_printed_secret(client, demo_vendor):
    create_demo_vendor_users()
    response = client.post(
        "/portail/connexion/", {"username": DEMO_ADMIN, "password": DEMO_PASSWORD}
    )
    assert response["Location"] == "/portail/connexion/code/"
    admin = VendorMember.objects.get(role="admin").user
    response = client.post("/portail/connexion/code/", {"code": code_for(admin)})
    assert response["Location"] == "/portail/"


def test_nothing_without_the_demo_world_and_never_without_debug(settings):
    assert create_demo_vendor_users() == {}
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("portal_demo_users")
    settings.DEBUG = True
    with pytest.raises(CommandError):
        call_command("portal_demo_users")
    assert not Vendor.objects.exists()


def test_the_command_prints_the_current_code(demo_vendor, settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("portal_demo_users", "--code", stdout=out)
    admin = VendorMember.objects.get(role="admin").user
    # The code of this 30-second step, or of the previous one if a step turned meanwhile.
    assert out.getvalue().strip() in {code_for(admin), code_for(admin, steps_ahead=-1)}


# The demo world signs VA, whose PDFs render after commit: real commits are needed.
@pytest.mark.django_db(transaction=True)
def test_the_demo_portal_shows_a_living_programme_labelled_as_demo(client):
    """Issue 18 point 4: on the day `seed_demo` runs, the demo vendor's home shows the demo
    dispositif's calendar ahead of that day, labelled as a fictitious demo calendar (never
    taken for an arrêté), and its orders at risk (SONS.md « End of réalisation, exactly »)."""
    from portal.demo import DEMO_STAFF
    from tests.portal.conftest import sign_in
    from tests.responses import text

    call_command("load_dispositifs")
    call_command("seed_demo", force=True)
    create_demo_vendor_users()
    staff = VendorMember.objects.get(user__username=DEMO_STAFF).user
    page = text(sign_in(client, staff).get("/portail/"))
    assert "DEMO-MDV-LGC-VIVANT" in page
    assert "[DÉMO] Calendrier fictif de démonstration" in page
    at_risk = page.split("Commandes à risque", 1)[1]
    assert "DEMO-MDV-LGC-VIVANT" in at_risk


@pytest.mark.django_db(transaction=True)
def test_the_screenshots_command_writes_the_three_pages(live_server, tmp_path, settings):
    """`manage.py screenshots` opens the demo's portal home, a VA signing page and the
    dashboard in Debian's Chromium (tests/browser.py's) and writes each as a PNG."""
    settings.DEBUG = True
    call_command("load_dispositifs")
    call_command("seed_demo", force=True)
    shots = tmp_path / "captures"
    call_command("screenshots", url=live_server.url, out=str(shots), stdout=io.StringIO())
    written = sorted(p.name for p in shots.iterdir())
    assert written == ["portail-accueil.png", "signature-va.png", "tableau-de-bord.png"]
    for name in written:
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
