"""The dashboard in a real browser: readable on a phone and a tablet, no accessibility
violation found by axe-core, no request leaving the server."""

import pytest

from tests.browser import TABLET, dsfr_ready
from tests.dashboard.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def logged_in(client, admin_user, live_server):
    """The session cookie of a programme administrator, for the browser."""
    client.force_login(admin_user)
    cookie = client.cookies["sessionid"]
    return [{"name": "sessionid", "value": cookie.value, "url": live_server.url}]


@pytest.fixture
def busy_dispositif(admin_user):
    world = World(admin_user)
    for _ in range(3):
        world.order()
    world.conflict()
    world.defaulted_with_recovery()
    return world.dispositif


def page_url(live_server, dispositif, rest=""):
    return f"{live_server.url}/admin/tableau-de-bord/{dispositif.code}/{rest}?at=2023-09-10T12:00"


def test_no_axe_violation_and_nothing_from_elsewhere(
    laptop_page,
    live_server,
    logged_in,
    busy_dispositif,
):
    from axe_playwright_python.sync_playwright import Axe

    laptop_page.context.add_cookies(logged_in)
    hosts = set()
    laptop_page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    for rest in ("", "bdc-a-risque/", "conflits/"):
        laptop_page.goto(page_url(live_server, busy_dispositif, rest))
        violations = Axe().run(dsfr_ready(laptop_page)).response["violations"]
        assert [v["id"] for v in violations] == [], rest
    assert hosts == {live_server.url.split("/")[2]}


@pytest.mark.parametrize("viewport", [{"width": 375, "height": 740}, TABLET])
def test_readable_on_a_phone_and_a_tablet(
    browser, live_server, logged_in, busy_dispositif, viewport
):
    context = browser.new_context(viewport=viewport, locale="fr-FR")
    context.add_cookies(logged_in)
    page = context.new_page()
    page.goto(page_url(live_server, busy_dispositif))
    assert "Calendrier en vigueur" in page.locator("h2#calendrier").inner_text()
    # No sideways scrolling: tables turn into cards, charts shrink to the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert page.locator("svg[role=img]").first.bounding_box()["width"] <= viewport["width"]
    context.close()


def test_the_chart_figures_open_for_the_keyboard(
    laptop_page,
    live_server,
    logged_in,
    busy_dispositif,
):
    laptop_page.context.add_cookies(logged_in)
    laptop_page.goto(page_url(live_server, busy_dispositif))
    summary = laptop_page.locator("figure.db-chart summary").first
    summary.focus()
    laptop_page.keyboard.press("Enter")
    table = laptop_page.locator("figure.db-chart table").first
    assert table.is_visible()
    # Orders signed on Thursday 01/09/2022: the week of Monday 29/08/2022.
    assert "29/08/2022" in table.inner_text()
