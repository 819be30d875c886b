"""Only the programme's administrators see the dashboard."""

import pytest

from tests.dashboard.conftest import URL

pytestmark = pytest.mark.django_db

PAGES = ["", "DASH-LGC-V1/", "DASH-LGC-V1/bdc-a-risque/", "DASH-LGC-V1/recouvrements/?format=csv"]


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_the_admin_login(client, world, page):
    response = client.get(URL + page)
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/?next=/admin/tableau-de-bord/")


@pytest.mark.parametrize("page", PAGES)
def test_a_vendor_member_is_refused(vendor_member, world, page):
    assert vendor_member.get(URL + page).status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_staff_sees_every_page(staff, world, page):
    response = staff.get(URL + page)
    assert response.status_code == 200


def test_unknown_dispositif_or_list_is_not_found(staff, world):
    assert staff.get(URL + "NOPE/").status_code == 404
    assert staff.get(URL + "DASH-LGC-V1/nope/").status_code == 404


def test_pages_are_french_and_served_by_the_project(staff, world):
    html = staff.get(URL + "DASH-LGC-V1/").content.decode()
    assert '<html lang="fr"' in html
    assert "Calendrier en vigueur" in html
    # No stylesheet, script or font from another host.
    for marker in ('src="http', 'href="http', "@import", "fonts.googleapis"):
        assert marker not in html
