"""The calendar in force with its countdowns, and its history of moves, on the real catalogue."""

import pytest
from django.core.management import call_command

from tests.dashboard.conftest import URL
from tests.sons.factories import at_paris

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    call_command("load_dispositifs", verbosity=0)


def line(response, kind):
    return next(line for line in response.context["lines"] if line.kind == kind)


def test_mssante_before_the_move_counts_down_to_the_first_date(staff, catalogue, frozen):
    frozen(at_paris(2023, 3, 1, 12))
    response = staff.get(URL + "MSS-OPE-V1/")
    advances = line(response, "advances")
    assert advances.deadline.at == at_paris(2023, 3, 23, 14)
    assert advances.countdown.label == "J-22"
    assert advances.deadline.version.legal_reference.startswith("Arrêté du 9 septembre 2022")
    html = response.content.decode()
    assert "23/03/2023 à 14:00" in html and "J-22" in html


def test_mssante_after_the_move_shows_the_new_date_and_the_history(staff, catalogue, frozen):
    frozen(at_paris(2023, 7, 24, 9, 30))
    response = staff.get(URL + "MSS-OPE-V1/")
    advances = line(response, "advances")
    assert advances.deadline.at == at_paris(2023, 7, 26, 14)
    assert advances.deadline.version.legal_reference.startswith("Arrêté du 8 mars 2023")
    assert advances.countdown.label == "J-2"
    html = response.content.decode()
    # Both versions, oldest first, the second moving the first's deadline.
    first = html.index("Arrêté du 9 septembre 2022 relatif")
    second = html.index("Arrêté du 8 mars 2023 (modifiant")
    assert first < second
    assert "Publié le 18/09/2022" in html and "Publié le 08/03/2023" in html
    assert "déplacée du 23/03/2023 à 14:00 au 26/07/2023 à 14:00" in html
    # Kinds the calendar does not set are said so, never invented.
    assert line(response, "soldes").deadline is None
    assert "Date non publiée" in html


def test_under_two_days_the_countdown_shows_the_hours(staff, catalogue, frozen):
    frozen(at_paris(2023, 7, 25, 10))
    advances = line(staff.get(URL + "MSS-OPE-V1/"), "advances")
    assert advances.countdown.label == "J-1 · 28 h"


def test_a_passed_deadline_is_shown_as_passed(staff, catalogue, frozen):
    frozen(at_paris(2023, 7, 26, 14))  # the cut-off instant itself: too late
    response = staff.get(URL + "MSS-OPE-V1/")
    advances = line(response, "advances")
    assert advances.countdown.passed
    assert advances.countdown.label == "Échue"
    assert response.context["next"] is None


def test_a_pending_modification_is_shown_but_not_applied(staff, catalogue, frozen):
    frozen(at_paris(2023, 12, 1, 12))
    response = staff.get(URL + "ESMS-DUI-PDE-V1/")
    # The modification moving avances to 10/01/2024 has no publication date: not in force.
    assert line(response, "advances").deadline.at == at_paris(2023, 12, 31, 14)
    assert "affichée, non appliquée" in response.content.decode()


def test_the_index_lists_every_dispositif_with_its_next_deadline(staff, catalogue, frozen):
    frozen(at_paris(2023, 3, 1, 12))
    response = staff.get(URL)
    html = response.content.decode()
    rows = {row["dispositif"].code: row for row in response.context["rows"]}
    assert len(rows) == 15
    mss = rows["MSS-OPE-V1"]["next"]
    assert (mss.kind, mss.countdown.label) == ("advances", "J-22")
    assert "Fin des demandes d&#x27;avance : 23/03/2023 à 14:00" in html
    # LGC vague 1 at that instant: the next deadline is the firm date of 15/06/2023.
    assert rows["MDV-LGC-V1"]["next"].deadline.at == at_paris(2023, 6, 15, 14)


def test_another_instant_can_be_asked_in_paris_time(staff, catalogue):
    response = staff.get(URL + "MSS-OPE-V1/?at=2023-03-01T12:00")
    assert line(response, "advances").countdown.label == "J-22"
    assert "Situation calculée au 01/03/2023 à 12:00" in response.content.decode()


def test_an_unreadable_instant_is_said_and_now_is_used(staff, catalogue):
    response = staff.get(URL + "?at=demain")
    assert "Instant « demain » illisible" in response.content.decode()
