"""The administrators in a real browser, on a laptop and on a phone: one signs in, sorts the
dashboard by next deadline, looks at the situation at another instant, opens a BDC in the admin,
its history and its PDF. axe-core finds nothing on the dashboard's pages, whatever the impact;
on Django's admin pages, nothing but the known exclusions below (markup of Django's own admin
that only rewriting it would change)."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser import dsfr_ready
from tests.dashboard.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

# What axe reports on Django's own admin markup (django/contrib/admin/templates), which our
# templates (templates/admin/, dashboard/templatetags/sons_admin.py) do not produce: per rule,
# the elements concerned (a pattern of axe's selector) and why it stays. Anything else fails.
ADMIN_KNOWN: dict[str, tuple[str, str]] = {
    "empty-table-header": (
        r"table > thead > tr > (\.original|th:nth-child)",
        "admin/edit_inline/tabular.html heads its row-link and last columns with an empty <th>",
    ),
    "link-in-text-block": (
        r"^\.breadcrumbs > a",
        "admin/css/base.css: the breadcrumbs' links told from the « › » by colour only",
    ),
}


def assert_accessible(page, *, known: dict[str, tuple[str, str]] | None = None) -> None:
    """axe-core on the page as shown: no violation of any impact, `known` ones excepted."""
    left = []
    for violation in Axe().run(dsfr_ready(page)).response["violations"]:
        pattern = (known or {}).get(violation["id"], (None, ""))[0]
        targets = [" ".join(map(str, n["target"])) for n in violation["nodes"]]
        unexpected = [t for t in targets if pattern is None or not re.search(pattern, t)]
        if unexpected:
            left.append(f"{violation['id']} ({violation['impact']}): {unexpected[:5]}")
    assert not left, f"{page.url}\n" + "\n".join(left)


@pytest.fixture
def order_with_pdf(admin_user):
    world = World(admin_user)
    order = world.order()
    world.order(vendor="b")
    world.conflict()
    World(admin_user, code="DASH-LGC-V2").order()
    order.refresh_from_db()
    assert order.pdf, "the BDC's PDF is rendered on commit"
    return order


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366px", "390px"])
def test_an_administrator_walks_the_dashboard_and_a_bdc_in_the_admin(
    browser, live_server, order_with_pdf, viewport
):
    order = order_with_pdf
    phone = viewport is PHONE
    context = browser.new_context(
        viewport=viewport, is_mobile=phone, has_touch=phone, locale="fr-FR", accept_downloads=True
    )
    page = context.new_page()

    # Signs in through the admin's own form, sent on to the dashboard.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/tableau-de-bord/")
    page.locator("#id_username").fill("ans-admin")
    page.locator("#id_password").fill("pw")
    page.locator("input[type=submit], button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/admin/tableau-de-bord/$"))
    assert_accessible(page)

    # Sorted by next deadline.
    page.get_by_role("link", name=re.compile(r"^Prochaine échéance")).click()
    expect(page).to_have_url(re.compile(r"tri=echeance"))
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Prochaine échéance")
    assert_accessible(page)

    # The situation at another instant: the sort is kept, the instant is shown.
    page.locator("summary", has_text="Voir la situation à un autre instant").click()
    page.get_by_label("Date et heure (Paris)").fill("2023-09-10T12:00")
    page.get_by_role("button", name="Afficher").click()
    expect(page).to_have_url(re.compile(r"at=2023-09-10T12%3A00"))
    expect(page).to_have_url(re.compile(r"tri=echeance"))
    expect(page.locator("main")).to_contain_text("Situation calculée au 10/09/2023 à 12:00")
    assert_accessible(page)
    page.goto(f"{live_server.url}/admin/tableau-de-bord/{order.dispositif.code}/")
    assert_accessible(page)

    # The admin's home and the BDC list, then the BDC, its history, its PDF.
    page.goto(f"{live_server.url}/admin/")
    assert_accessible(page, known=ADMIN_KNOWN)
    page.goto(f"{live_server.url}/admin/sons/purchaseorder/")
    assert_accessible(page, known=ADMIN_KNOWN)
    page.get_by_role("link", name=order.reference, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/purchaseorder/{order.pk}/change/$"))
    expect(page.locator("#content")).to_contain_text(order.reference)
    assert_accessible(page, known=ADMIN_KNOWN)
    # Its history: the journal of its whole life, in French, on its page.
    journal = page.locator(".field-journal")
    expect(journal).to_contain_text("Signer le BDC")
    expect(journal).to_contain_text("Brouillon → Signé")
    page.get_by_role("link", name="Historique").first.click()
    expect(page).to_have_url(re.compile(rf"/purchaseorder/{order.pk}/history/$"))
    assert_accessible(page, known=ADMIN_KNOWN)
    page.go_back()
    with page.expect_download() as download_info:
        page.get_by_role("link", name=order.reference, exact=True).click()
    download = download_info.value
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert download.suggested_filename.endswith(".pdf")
    context.close()
