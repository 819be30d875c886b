"""Issue 14, « Done when »: the dashboard shows the PDE announced version as announced (not
applied), and its publication recorded by an administrator in the admin moves the deadlines in
force. Source: SONS.md « Calendar and deadlines » (PDE: « arrêté à paraître » in April 2023,
moves to 28/06/2023 14:00, 10/01/2024, 10/07/2024 [seed 003]; a move announced but not yet
published is shown as announced; an administrator records its publication, from which it
applies)."""

import datetime as dt

import pytest
from django.core.management import call_command

from catalogue.deadlines import DeadlineKind
from catalogue.models import CalendarVersion, Dispositif
from catalogue.selectors import deadline_for
from core.models import JournalEntry
from tests.dashboard.conftest import URL
from tests.sons.factories import at_paris

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    call_command("load_dispositifs", verbosity=0)


def line(response, kind):
    return next(line for line in response.context["lines"] if line.kind == kind)


def test_the_pde_announced_version_is_shown_then_published_through_the_admin(
    staff, catalogue, frozen
):
    frozen(at_paris(2023, 6, 1, 12))
    page = URL + "ESMS-DUI-PDE-V1/"
    response = staff.get(page)
    html = response.content.decode()
    referencing = line(response, "referencing_dossier")
    # In force: the founding 28/04/2023, a day without an hour (end of that day).
    assert referencing.deadline.at == at_paris(2023, 4, 29, 0)
    assert referencing.countdown.passed
    # Announced beside it, never applied.
    assert referencing.announced.at == at_paris(2023, 6, 28, 14)
    assert "annoncée : 28/06/2023 à 14:00 (à paraître, non appliquée)" in html
    assert "annoncée : 10/07/2024 (fin de journée) (à paraître, non appliquée)" in html
    assert "Modification annoncée (arrêté à paraître)" in html
    index = staff.get(URL).content.decode()
    assert "Modification annoncée (à paraître), non appliquée" in index

    # The administrator records the publication in the admin (a journaled act).
    announced = CalendarVersion.objects.get(dispositif__code="ESMS-DUI-PDE-V1", founding=False)
    change = staff.get(f"/admin/catalogue/calendarversion/{announced.pk}/change/").content.decode()
    assert "Enregistrer la publication" in change
    publish_url = f"/admin/catalogue/calendarversion/{announced.pk}/publier/"
    assert staff.get(publish_url).status_code == 200
    refused = staff.post(publish_url, {"published_on": "2999-01-01"})
    assert refused.status_code == 200 and "postérieure à aujourd" in refused.content.decode()
    done = staff.post(publish_url, {"published_on": "2023-05-10", "nor": ""})
    assert done.status_code == 302
    entry = JournalEntry.objects.for_object(announced).get()
    assert entry.transition == "publish" and entry.snapshot["published_on"] == "2023-05-10"

    # From the recorded publication, the deadlines in force move.
    pde = Dispositif.objects.get(code="ESMS-DUI-PDE-V1")
    moved = deadline_for(
        dispositif=pde, kind=DeadlineKind.REFERENCING_DOSSIER, at=at_paris(2023, 6, 1, 12)
    )
    assert moved.at == at_paris(2023, 6, 28, 14)
    response = staff.get(page)
    referencing = line(response, "referencing_dossier")
    assert referencing.deadline.at == at_paris(2023, 6, 28, 14)
    assert referencing.announced is None and not referencing.countdown.passed
    assert line(response, "soldes").deadline.at == at_paris(2024, 7, 11, 0)
    html = response.content.decode()
    assert "Publié le 10/05/2023" in html
    assert "déplacée du 28/04/2023 (fin de journée) au 28/06/2023 à 14:00" in html
    # Judged before the publication, the founding calendar still applies.
    assert deadline_for(
        dispositif=pde, kind=DeadlineKind.SOLDES, at=at_paris(2023, 5, 9, 12)
    ).version.founding
    # A second recording is refused (the version is no longer announced).
    again = staff.post(publish_url, {"published_on": "2023-05-11"})
    assert "pas une version annoncée" in again.content.decode()
    assert JournalEntry.objects.for_object(announced).count() == 1


def test_a_dispositif_without_published_deadlines_says_non_publiee(staff, catalogue, frozen):
    """SONS.md: where a dispositif has no published deadline of a kind, nothing is enforced
    and every screen says « not yet published »."""
    frozen(at_paris(2024, 1, 1, 12))
    response = staff.get(URL + "ESMS-DUI-PA-PH-DOM-V1/")
    html = response.content.decode()
    assert all(line.deadline is None for line in response.context["lines"])
    assert html.count("Non publiée : rien ne s'applique.") == len(DeadlineKind.values)
    assert "aucune échéance" not in html.lower()


def test_the_admin_calendar_shows_end_of_day_and_sourced_hours(staff, catalogue):
    """Issue 14 point 4 in the catalogue admin: « fin de journée » for a day without an hour."""
    lgc = Dispositif.objects.get(code="MDV-LGC-V1")
    html = staff.get(f"/admin/catalogue/dispositif/{lgc.pk}/change/").content.decode()
    assert "30/11/2022 (fin de journée)" in html and "14/12/2023 à 14:00" in html
    assert dt.date(2022, 11, 30).strftime("%d/%m/%Y") + " à 14:00" not in html


def test_an_administrator_enters_a_day_without_an_hour(staff, catalogue):
    """SONS.md: « The engine must never invent an earlier hour; each deadline records whether
    its hour is sourced »: the admin asks a day and, only if the source gives one, an hour."""
    version = CalendarVersion.objects.get(dispositif__code="ESMS-DUI-PDE-V1", founding=False)
    url = f"/admin/catalogue/calendarversion/{version.pk}/change/"
    page = staff.get(url)
    formset = page.context["inline_admin_formsets"][0].formset
    data = {
        "legal_reference": version.legal_reference,
        "dispositif": version.dispositif_id,
        "signed_on": "",
        "nor": "",
        "source": version.source,
        f"{formset.prefix}-TOTAL_FORMS": str(len(formset.forms) + 1),
        f"{formset.prefix}-INITIAL_FORMS": str(len(formset.forms)),
        f"{formset.prefix}-MIN_NUM_FORMS": "0",
        f"{formset.prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, form in enumerate(formset.forms):
        data[f"{formset.prefix}-{i}-id"] = form.instance.pk
        data[f"{formset.prefix}-{i}-version"] = version.pk
        data[f"{formset.prefix}-{i}-kind"] = form.instance.kind
        data[f"{formset.prefix}-{i}-day"] = form.initial["day"].isoformat()
        data[f"{formset.prefix}-{i}-hour"] = (
            form.initial["hour"].strftime("%H:%M") if form.initial.get("hour") else ""
        )
    n = len(formset.forms)
    data[f"{formset.prefix}-{n}-version"] = version.pk
    data[f"{formset.prefix}-{n}-kind"] = "orders"
    data[f"{formset.prefix}-{n}-day"] = "2024-01-10"
    data[f"{formset.prefix}-{n}-hour"] = ""
    response = staff.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    rows = {d.kind: d for d in version.deadlines.all()}
    assert rows["orders"].at == at_paris(2024, 1, 11, 0) and not rows["orders"].hour_sourced
    # Saving again leaves the other rows where they were (no day shift, no invented hour).
    assert rows["referencing_dossier"].at == at_paris(2023, 6, 28, 14)
    assert rows["referencing_dossier"].hour_sourced
    assert rows["soldes"].at == at_paris(2024, 7, 11, 0) and not rows["soldes"].hour_sourced


def test_the_hop_vague2_page_shows_its_prestations_and_asp_opening(staff, catalogue):
    """SONS.md: HOP « vague 1 + vague 2 » prestation [esante.gouv.fr FAQ SONS]; HOP avance
    portal opened 12/09/2024 14:00 [ASP vague 2 page]."""
    html = staff.get(URL + "HOP-DPI-V2/").content.decode()
    assert "Prestation Ségur vague 1 + vague 2" in html
    assert "ni par HOP-DPI-V1 ni par HOP-PFI-V1" in html
    assert "12/09/2024 à 14:00" in html
