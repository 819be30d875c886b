"""The State's design system (DSFR) pages in a real browser, on a 390 px phone: its CSS, fonts
and icons served by the project itself and allowed by the Content-Security-Policy, no sideways
scrolling, no axe-core violation of any impact; the dashboard's table sorted from the keyboard."""

import pytest

from tests.browser import csp_violations, dsfr_ready
from tests.dashboard.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_390 = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server):
    """A 390 px wide page that records failed requests; fails on any CSP violation."""
    context = browser.new_context(
        viewport=PHONE_390, is_mobile=True, has_touch=True, locale="fr-FR"
    )
    violations = csp_violations(context)
    page = context.new_page()
    page.failed = []
    page.on("requestfailed", lambda request: page.failed.append(request.url))
    page.on("response", lambda r: r.status >= 400 and page.failed.append(r.url))
    yield page
    context.close()
    assert violations == [], "Content-Security-Policy violated"


@pytest.fixture
def signed_in(client, admin_user, live_server):
    client.force_login(admin_user)
    return [
        {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}
    ]


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    return [v["id"] for v in Axe().run(dsfr_ready(page)).response["violations"]]


def assert_fits(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_390["width"]


def test_the_public_list_is_a_dsfr_page_with_its_fonts_and_icons(phone, live_server):
    phone.goto(f"{live_server.url}/referencements/")
    phone.evaluate("document.fonts.ready")
    loaded = phone.evaluate(
        "[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)"
    )
    assert any("Marianne" in family for family in loaded)
    assert "Ségur numérique — SONS" in phone.locator(".fr-header").inner_text()
    # The DSFR's icons are masks drawn from its own SVG files: the menu button has one.
    mask = phone.locator("#bouton-menu").evaluate(
        "e => { const s = getComputedStyle(e, '::before');"
        " return s.maskImage || s.webkitMaskImage; }"
    )
    assert "/static/dsfr/" in mask
    assert_fits(phone)
    assert axe_violations(phone) == []
    assert phone.failed == []


def test_the_dashboard_pages_fit_a_phone_without_violation(
    phone, live_server, signed_in, admin_user
):
    world = World(admin_user)
    world.order()
    world.conflict()
    world.defaulted_with_recovery()
    phone.context.add_cookies(signed_in)
    at = "?at=2022-11-10T12:00"
    for path in ("", "DASH-LGC-V1/", "DASH-LGC-V1/conflits/", "DASH-LGC-V1/recouvrements/"):
        phone.goto(f"{live_server.url}/admin/tableau-de-bord/{path}{at}")
        assert_fits(phone)
        assert axe_violations(phone) == [], path
    assert phone.failed == []


def test_the_reminders_preferences_fit_a_phone_without_violation(phone, live_server, signed_in):
    phone.context.add_cookies(signed_in)
    phone.goto(f"{live_server.url}/rappels/preferences/")
    assert_fits(phone)
    assert axe_violations(phone) == []
    phone.get_by_role("button", name="Enregistrer").click()
    assert "enregistrées" in phone.locator(".fr-alert").inner_text()
    assert axe_violations(phone) == []


def test_the_dispositifs_sort_from_the_keyboard(browser, live_server, signed_in, admin_user):
    World(admin_user, code="DASH-A")
    World(admin_user, code="DASH-B")
    context = browser.new_context(viewport=PHONE_390, locale="fr-FR")
    context.add_cookies(signed_in)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/tableau-de-bord/")

    def codes():
        return page.locator("#dispositifs tbody th").all_inner_texts()

    assert codes() == ["DASH-A", "DASH-B"]
    link = page.locator("th[aria-sort] a.db-sort")
    for _ in range(60):  # Tab until the sorted column's link has the focus
        page.keyboard.press("Tab")
        if link.evaluate("e => e === document.activeElement"):
            break
    else:
        pytest.fail("the sort link is not reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**tri=-nom**")
    assert codes() == ["DASH-B", "DASH-A"]
    assert page.locator("th[aria-sort]").get_attribute("aria-sort") == "descending"
    context.close()


def test_no_axis_label_is_clipped(browser, live_server, signed_in, admin_user):
    from tests.sons.factories import at_paris

    world = World(admin_user)
    for day in (5, 12, 19, 26):
        world.order(at=at_paris(2022, 9, day, 10))
    for day in (3, 10, 17, 24, 31):
        world.order(at=at_paris(2022, 10, day, 10))
    for day in (7, 14, 21, 28):
        world.order(at=at_paris(2022, 11, day, 10))  # 13 weeks: a label under the last bar
    context = browser.new_context(viewport=PHONE_390, locale="fr-FR")
    context.add_cookies(signed_in)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/tableau-de-bord/DASH-LGC-V1/?at=2022-12-05T12:00")
    outside = page.evaluate(
        """[...document.querySelectorAll('figure.db-chart svg')].flatMap(svg => {
             const width = svg.viewBox.baseVal.width;
             return [...svg.querySelectorAll('text')].map(t => t.getBBox())
               .filter(b => b.x < 0 || b.x + b.width > width).map(b => b.x + b.width);
           })"""
    )
    assert page.locator("figure.db-chart svg text").count() > 0
    assert outside == []
    context.close()
