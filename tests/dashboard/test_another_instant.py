"""« Voir la situation à un autre instant »: everything judged at the instant chosen, what
existed then, conflicts and recoveries as they stood; and the dispositifs' table sorted by name
or by next deadline."""

import re

import pytest

from tests.dashboard.conftest import URL, World
from tests.sons.factories import at_paris

pytestmark = pytest.mark.django_db


def overview(staff, at: str) -> dict:
    response = staff.get(URL + f"?at={at}")
    (row,) = [r for r in response.context["rows"] if r["dispositif"].code == "DASH-LGC-V1"]
    return {k: row["figures"].get(k, 0) for k in ("orders", "conflicts", "recoveries")}


def test_counts_are_what_existed_at_the_instant_chosen(staff, world):
    world.order()  # signed 01/09/2022
    world.conflict()  # signed 01/09/2022 and 07/11/2022: a conflict, answers due in 10 days
    world.defaulted_with_recovery()  # signed 01/09/2022, recovery opened 12/10/2022

    assert overview(staff, "2022-08-01T12:00") == {"orders": 0, "conflicts": 0, "recoveries": 0}
    assert overview(staff, "2022-10-01T12:00") == {"orders": 3, "conflicts": 0, "recoveries": 0}
    assert overview(staff, "2022-10-20T12:00") == {"orders": 3, "conflicts": 0, "recoveries": 1}
    assert overview(staff, "2022-11-10T12:00") == {"orders": 4, "conflicts": 1, "recoveries": 1}
    # Every answer was due by the end of November: no longer « en cours », swept or not.
    assert overview(staff, "2022-12-15T12:00")["conflicts"] == 0


def test_the_dispositif_page_counts_and_lists_as_they_stood(staff, world):
    world.order()
    world.defaulted_with_recovery()
    page = URL + "DASH-LGC-V1/"

    before = staff.get(page + "?at=2022-10-01T12:00")
    counts = {b.key: b.total for b in before.context["figures"].counts}
    assert counts["orders"] == 2 and counts["recoveries"] == 0 and counts["claims"] == 1
    recoveries = {p["list"].slug: p["count"] for p in before.context["previews"]}
    assert recoveries["recouvrements"] == 0

    after = staff.get(page + "?at=2022-10-20T12:00")
    block = next(b for b in after.context["figures"].counts if b.key == "recoveries")
    assert dict((value, n) for value, _label, n in block.rows)["open"] == 1
    assert {p["list"].slug: p["count"] for p in after.context["previews"]}["recouvrements"] == 1


def test_an_expired_conflict_is_not_listed_as_running(staff, world):
    world.conflict()
    running = staff.get(URL + "DASH-LGC-V1/conflits/?at=2022-11-10T12:00")
    assert running.context["count"] == 1
    later = staff.get(URL + "DASH-LGC-V1/conflits/?at=2022-12-15T12:00")
    assert later.context["count"] == 0
    assert "Aucun conflit" in later.content.decode()


def test_the_figures_say_the_instant_chosen(staff, world):
    html = staff.get(URL + "?at=2022-11-10T12:00").content.decode()
    assert "Nombres calculés le 10/11/2022 à 12:00 (heure de Paris), instant choisi" in html
    html = staff.get(URL + "DASH-LGC-V1/?at=2022-11-10T12:00").content.decode()
    assert "Compteurs et graphiques calculés le 10/11/2022 à 12:00" in html


@pytest.fixture
def two_dispositifs(admin_user):
    """Two dispositifs with the same calendar (the test moves one's end of orders later); the
    one named last in alphabetical order is the first to close."""
    early = World(admin_user, code="DASH-B-EARLY")
    late = World(admin_user, code="DASH-A-LATE")
    return early.dispositif, late.dispositif


def codes(response) -> list[str]:
    return [row["dispositif"].code for row in response.context["rows"]]


def test_the_dispositifs_sort_by_name_and_by_next_deadline(staff, two_dispositifs, frozen):
    frozen(at_paris(2022, 11, 20, 12))
    _early, late = two_dispositifs
    from catalogue.models import Deadline

    Deadline.objects.filter(version__dispositif=late, kind__in=["orders", "advances"]).update(
        at=at_paris(2022, 12, 20, 14)
    )
    by_name = staff.get(URL)
    assert codes(by_name) == ["DASH-A-LATE", "DASH-B-EARLY"]
    assert codes(staff.get(URL + "?tri=-nom")) == ["DASH-B-EARLY", "DASH-A-LATE"]
    by_deadline = staff.get(URL + "?tri=echeance")
    assert codes(by_deadline) == ["DASH-B-EARLY", "DASH-A-LATE"]
    assert codes(staff.get(URL + "?tri=-echeance")) == ["DASH-A-LATE", "DASH-B-EARLY"]
    html = by_deadline.content.decode()
    # The sorted column says so to assistive technologies; its link reverses the order.
    th = re.search(
        r'<th scope="col" aria-sort="ascending"[^>]*>\s*<a class="db-sort" href="([^"]+)"', html
    )
    assert th and "tri=-echeance" in th.group(1)


def test_sorting_keeps_the_instant_chosen(staff, two_dispositifs):
    html = staff.get(URL + "?at=2022-11-20T12:00").content.decode()
    links = re.findall(r'class="db-sort" href="([^"]+)"', html)
    assert len(links) == 2
    assert all("at=2022-11-20T12%3A00" in link for link in links)


def test_a_va_counts_from_its_issue_and_a_draft_from_its_order(staff, world, admin_user):
    """A VA existed once issued (or decided); a draft never issued, once its order existed."""
    from sons.models import VerificationAptitude
    from sons.services import acceptance

    drafted = world.order(at=at_paris(2022, 9, 1, 10))
    acceptance.create_va(order=drafted, delivered_summary="Mise à jour livrée", actor=admin_user)
    issued = world.order(at=at_paris(2022, 9, 1, 10))
    va = acceptance.create_va(order=issued, delivered_summary="Mise à jour", actor=admin_user)
    VerificationAptitude.objects.filter(pk=va.pk).update(
        status="issued", issued_at=at_paris(2022, 10, 15, 9)
    )
    page = URL + "DASH-LGC-V1/"

    def vas(at: str) -> dict[str, int]:
        response = staff.get(page + f"?at={at}")
        block = next(b for b in response.context["figures"].counts if b.key == "vas")
        return {value: n for value, _label, n in block.rows if n}

    assert vas("2022-08-01T12:00") == {}
    assert vas("2022-10-01T12:00") == {"draft": 1}
    assert vas("2022-10-20T12:00") == {"draft": 1, "issued": 1}
