"""The catalogue's admin: transitions are buttons calling the services, never a status field."""

import datetime as dt

import pytest

from catalogue.catalogue import load_catalogue
from catalogue.deadlines import PARIS
from catalogue.models import Dispositif, Referencing, ReferencingStatus
from core.models import JournalEntry
from tests.factories import (
    CalendarVersionFactory,
    DeadlineFactory,
    DispositifFactory,
    SolutionVersionFactory,
    draft_referencing,
    referencing_in_state,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_creating_a_referencing_in_the_admin_goes_through_the_service(admin_client, admin_user):
    version = SolutionVersionFactory()
    dispositif = DispositifFactory()
    response = admin_client.post(
        "/admin/catalogue/referencing/add/",
        {
            "solution_version": version.pk,
            "dispositif": dispositif.pk,
            "vendor": version.solution.editor.pk,
        },
    )
    assert response.status_code == 302
    ref = Referencing.objects.get()
    assert ref.status == ReferencingStatus.DRAFT
    entry = JournalEntry.objects.for_object(ref).get()
    assert (entry.transition, entry.actor_label) == ("create", admin_user.username)


def test_the_change_page_has_no_status_input_but_the_possible_actions(admin_client, admin_user):
    ref = draft_referencing(actor=admin_user)
    html = admin_client.get(f"/admin/catalogue/referencing/{ref.pk}/change/").content.decode()
    assert 'name="status"' not in html
    assert f"/admin/catalogue/referencing/{ref.pk}/transition/submit/" in html
    assert "Déposer le dossier" in html
    assert "/transition/reference/" not in html


def test_a_late_submission_in_the_admin_shows_the_rule_and_changes_nothing(
    admin_client, admin_user
):
    dispositif = DispositifFactory()
    DeadlineFactory(
        version=CalendarVersionFactory(dispositif=dispositif, founding=True),
        kind="referencing_dossier",
        at=dt.datetime(2022, 6, 15, 14, 0, tzinfo=PARIS),
    )
    ref = draft_referencing(actor=admin_user, dispositif=dispositif)
    url = f"/admin/catalogue/referencing/{ref.pk}/transition/submit/"
    response = admin_client.post(url, {})
    assert response.status_code == 200
    html = response.content.decode()
    assert "devait être déposé avant le 15/06/2022 à 14:00:00" in html
    ref.refresh_from_db()
    assert ref.status == ReferencingStatus.DRAFT


def test_referencing_through_the_admin_form(admin_client, admin_user):
    ref = referencing_in_state("under_review", actor=admin_user)
    url = f"/admin/catalogue/referencing/{ref.pk}/transition/reference/"
    form = admin_client.get(url).content.decode()
    assert 'name="ans_number"' in form
    assert (
        admin_client.post(url, {"ans_number": "", "referenced_on": "2022-07-01"}).status_code == 200
    )
    response = admin_client.post(url, {"ans_number": "ANS-9", "referenced_on": "2022-07-01"})
    assert response.status_code == 302
    ref.refresh_from_db()
    assert (ref.status, ref.ans_number) == (ReferencingStatus.REFERENCED, "ANS-9")


def test_unknown_transition_is_404(admin_client, admin_user):
    ref = draft_referencing(actor=admin_user)
    assert (
        admin_client.get(f"/admin/catalogue/referencing/{ref.pk}/transition/delete/").status_code
        == 404
    )


def test_dispositif_page_shows_history_calendar_and_missing_figures(admin_client):
    load_catalogue()
    mss = Dispositif.objects.get(code="MSS-OPE-V1")
    html = admin_client.get(f"/admin/catalogue/dispositif/{mss.pk}/change/").content.decode()
    assert "Arrêté du 9 septembre 2022" in html
    assert "Arrêté du 8 mars 2023" in html
    # The real catalogue (issue 14, point 4): the move of the 8 March 2023 arrêté keeps its
    # sourced hour, the founding avances (a day, no hour: seed 003) run to the end of the day.
    assert "26/07/2023 à 14:00" in html and "23/03/2023 (fin de journée)" in html
    assert "signée le 08/03/2023" in html and "date de publication inconnue" in html
    lgo = Dispositif.objects.get(code="OFF-LGO-V1")
    changelist = admin_client.get("/admin/catalogue/dispositif/").content.decode()
    assert "données manquantes" in changelist.lower()
    html = admin_client.get(f"/admin/catalogue/dispositif/{lgo.pk}/change/").content.decode()
    assert "barème" in html


def test_referencing_cannot_be_deleted_in_the_admin(admin_client, admin_user):
    ref = draft_referencing(actor=admin_user)
    assert (
        admin_client.post(
            f"/admin/catalogue/referencing/{ref.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert Referencing.objects.filter(pk=ref.pk).exists()
