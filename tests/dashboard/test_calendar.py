"""The calendar in force with its countdowns, and its history of moves, on the real catalogue.

Since issue 14 (SONS.md « Calendar and deadlines »), a deadline whose source gives a day and no
hour runs to the end of that day: the MSSanté founding avances of 23/03/2023 (seed 003, no hour)
end at 24:00, i.e. 24/03/2023 00:00, where this file used to expect a conventional 14:00.
"""

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
    assert advances.deadline.at == at_paris(2023, 3, 24, 0)
    assert advances.countdown.label == "J-23"
    assert advances.deadline.version.legal_reference.startswith("Arrêté du 9 septembre 2022")
    html = response.content.decode()
    assert "23/03/2023 (fin de journée)" in html and "J-23" in html


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
    # The founding arrêté is in force the day after its publication (JORF n°0217, 18/09/2022);
    # the arrêté du 8 mars 2023 is known by its signature date, its publication date is not.
    assert "Publié le 18/09/2022" in html and "En vigueur à partir du 19/09/2022" in html
    assert "Signé le 08/03/2023 ; date de publication inconnue" in html
    assert "déplacée du 23/03/2023 (fin de journée) au 26/07/2023 à 14:00" in html
    # Kinds the calendar does not set are said so, never invented.
    assert line(response, "soldes").deadline is None
    assert "Non publiée : rien ne s'applique" in html


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
    # 31/12/2023 has no hour in seed 003: the end of that day.
    assert line(response, "advances").deadline.at == at_paris(2024, 1, 1, 0)
    html = response.content.decode()
    assert "affichée, non appliquée" in html
    assert "annoncée : 10/01/2024 (fin de journée) (à paraître, non appliquée)" in html


def test_the_index_lists_every_dispositif_with_its_next_deadline(staff, catalogue, frozen):
    frozen(at_paris(2023, 3, 1, 12))
    response = staff.get(URL)
    html = response.content.decode()
    rows = {row["dispositif"].code: row for row in response.context["rows"]}
    assert len(rows) == 16  # the DUI PA/PH/Domicile dispositif was added by issue 14
    mss = rows["MSS-OPE-V1"]["next"]
    # Orders close with the avances for MSSanté (seed 003, « demandes d'avance (commandes) »).
    assert mss.kind in ("orders", "advances") and mss.countdown.label == "J-23"
    assert "23/03/2023 (fin de journée)" in html
    # LGC vague 1 at that instant: the next deadline is the firm date of 15/06/2023 (no hour).
    assert rows["MDV-LGC-V1"]["next"].deadline.at == at_paris(2023, 6, 16, 0)
    # A dispositif without any published deadline says so.
    assert "Échéances non publiées" in html
    assert rows["ESMS-DUI-PA-PH-DOM-V1"]["next"] is None


def test_another_instant_can_be_asked_in_paris_time(staff, catalogue):
    response = staff.get(URL + "MSS-OPE-V1/?at=2023-03-01T12:00")
    assert line(response, "advances").countdown.label == "J-23"
    assert "Situation calculée au 01/03/2023 à 12:00" in response.content.decode()


def test_an_unreadable_instant_is_said_and_now_is_used(staff, catalogue):
    response = staff.get(URL + "?at=demain")
    assert "Instant « demain » illisible" in response.content.decode()
