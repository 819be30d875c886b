"""Deployments: the firm date (its deadline, the end of réalisation), the walk to « vérifié »,
abandon, one live deployment per order, and the list of orders still missing a firm date."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from catalogue.models import CalendarVersion
from core.errors import RuleViolation, TransitionRefused
from core.models import JournalEntry
from sons import selectors
from sons.models import Deployment, DeploymentStatus
from sons.services import acceptance as acceptance_services
from sons.services import deployments as services
from tests.sons.factories import (
    at_paris,
    draft_order,
    lgc_dispositif,
    referenced,
    signed_order,
)

pytestmark = pytest.mark.django_db

FIRM_DATE_DEADLINE = at_paris(2023, 6, 15, 14, 0)
REALISATION_DAY = dt.date(2023, 9, 20)
CONFIRMED_AT = at_paris(2023, 1, 10, 9, 30)


@pytest.fixture
def referencing(admin_user):
    return referenced(dispositif=lgc_dispositif(), actor=admin_user)


@pytest.fixture
def order(referencing, admin_user):
    return signed_order(referencing=referencing, actor=admin_user)


def schedule(order, user, *, firm_date=dt.date(2023, 9, 1), at=CONFIRMED_AT):
    return services.schedule_deployment(order=order, firm_date=firm_date, actor=user, at=at)


def snapshot(order):
    """What a refusal must leave untouched: the order's deployments and the whole journal."""
    return (
        list(Deployment.objects.filter(order=order).order_by("pk").values_list("pk", "status")),
        JournalEntry.objects.count(),
    )


def deployment_state(deployment):
    deployment.refresh_from_db()
    return (
        deployment.status,
        deployment.started_at,
        deployment.installed_at,
        deployment.verified_at,
        deployment.abandoned_at,
        deployment.abandon_reason,
        JournalEntry.objects.for_object(deployment).count(),
    )


# --- Scheduling: the firm date --------------------------------------------------------------


def test_scheduling_records_the_firm_date_and_the_realisation_deadline_it_was_judged_by(
    order, admin_user
):
    deployment = schedule(order, admin_user, firm_date=dt.date(2023, 9, 1))

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.SCHEDULED
    assert deployment.firm_date == dt.date(2023, 9, 1)
    assert deployment.firm_date_confirmed_at == CONFIRMED_AT
    assert deployment.started_at is None
    entry = JournalEntry.objects.for_object(deployment).get()
    assert (entry.transition, entry.source_state, entry.target_state) == (
        "schedule",
        "",
        "scheduled",
    )
    assert entry.actor_label == admin_user.get_username()
    calendar = CalendarVersion.objects.get(dispositif=order.dispositif)
    realisation = entry.snapshot["realisation_deadline"]
    assert realisation["legal_reference"] == calendar.legal_reference
    assert realisation["deadline_at"] == "2023-09-20T14:00:00+02:00"
    assert entry.snapshot["firm_date_deadline"]["deadline_at"] == "2023-06-15T14:00:00+02:00"
    assert entry.snapshot["firm_date"] == "2023-09-01"


def test_a_firm_date_on_the_realisation_day_is_accepted(order, admin_user):
    # The day starts at 00:00, before the 14:00 cut-off of the end of réalisation.
    deployment = schedule(order, admin_user, firm_date=REALISATION_DAY)
    assert deployment.firm_date == REALISATION_DAY
    assert deployment.status == DeploymentStatus.SCHEDULED


def test_a_firm_date_the_day_after_the_realisation_is_refused(order, admin_user):
    before = snapshot(order)
    with pytest.raises(RuleViolation) as exc:
        schedule(order, admin_user, firm_date=REALISATION_DAY + dt.timedelta(days=1))
    assert exc.value.code == "firm_date_after_realisation"
    assert exc.value.field == "firm_date"
    assert "21/09/2023" in exc.value.message
    assert "20/09/2023 à 14:00" in exc.value.message
    assert snapshot(order) == before == ([], before[1])


def test_confirming_at_13_59_59_on_the_firm_date_deadline_is_accepted(order, admin_user):
    at = FIRM_DATE_DEADLINE - dt.timedelta(seconds=1)
    deployment = schedule(order, admin_user, at=at)
    assert deployment.firm_date_confirmed_at == at
    assert Deployment.objects.filter(order=order).count() == 1


def test_confirming_at_14_00_00_on_the_firm_date_deadline_is_refused(order, admin_user):
    before = snapshot(order)
    with pytest.raises(RuleViolation) as exc:
        schedule(order, admin_user, at=FIRM_DATE_DEADLINE)
    assert exc.value.code == "firm_date_deadline_passed"
    assert exc.value.field == "firm_date"
    assert "15/06/2023 à 14:00" in exc.value.message
    assert snapshot(order) == before == ([], before[1])


def test_a_draft_order_cannot_be_scheduled(referencing, admin_user):
    order = draft_order(referencing=referencing, actor=admin_user)
    before = snapshot(order)
    with pytest.raises(RuleViolation) as exc:
        schedule(order, admin_user)
    assert exc.value.code == "order_not_signed"
    assert "Brouillon" in exc.value.message
    assert snapshot(order) == before == ([], before[1])


# --- The walk: scheduled -> in_progress -> installed -> verified -----------------------------


def test_a_deployment_walks_to_verified_with_its_timestamps(order, admin_user):
    deployment = schedule(order, admin_user)
    started, installed, verified = (
        at_paris(2023, 2, 1, 9, 0),
        at_paris(2023, 2, 3, 17, 0),
        at_paris(2023, 2, 10, 11, 0),
    )

    deployment = services.start_deployment(deployment=deployment, actor=admin_user, at=started)
    assert (deployment.status, deployment.started_at) == (DeploymentStatus.IN_PROGRESS, started)
    deployment = services.install_deployment(deployment=deployment, actor=admin_user, at=installed)
    assert (deployment.status, deployment.installed_at) == (DeploymentStatus.INSTALLED, installed)
    deployment = services.verify_deployment(deployment=deployment, actor=admin_user, at=verified)

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.VERIFIED
    assert (deployment.started_at, deployment.installed_at, deployment.verified_at) == (
        started,
        installed,
        verified,
    )
    assert deployment.abandoned_at is None
    entries = list(JournalEntry.objects.for_object(deployment).order_by("sequence"))
    assert [(e.transition, e.source_state, e.target_state) for e in entries] == [
        ("schedule", "", "scheduled"),
        ("start", "scheduled", "in_progress"),
        ("install", "in_progress", "installed"),
        ("verify", "installed", "verified"),
    ]
    assert entries[2].snapshot["at"] == installed.isoformat()


@pytest.mark.parametrize(
    ("walked", "call"),
    [
        ([], services.install_deployment),
        ([], services.verify_deployment),
        (["start"], services.start_deployment),
        (["start"], services.verify_deployment),
        (["start", "install"], services.start_deployment),
        (["start", "install", "verify"], services.install_deployment),
        (["start", "install", "verify"], services.verify_deployment),
    ],
    ids=[
        "install-from-scheduled",
        "verify-from-scheduled",
        "start-twice",
        "verify-from-in-progress",
        "start-from-installed",
        "install-from-verified",
        "verify-twice",
    ],
)
def test_transitions_out_of_order_are_refused_and_nothing_changes(order, admin_user, walked, call):
    deployment = schedule(order, admin_user)
    steps = {
        "start": services.start_deployment,
        "install": services.install_deployment,
        "verify": services.verify_deployment,
    }
    for name in walked:
        deployment = steps[name](deployment=deployment, actor=admin_user)
    before = deployment_state(deployment)
    with pytest.raises(TransitionRefused) as exc:
        call(deployment=deployment, actor=admin_user)
    assert exc.value.code == "transition_not_allowed"
    assert exc.value.field == "status"
    assert deployment_state(deployment) == before


def test_a_verified_deployment_cannot_be_abandoned(order, admin_user):
    deployment = schedule(order, admin_user)
    for step in (
        services.start_deployment,
        services.install_deployment,
        services.verify_deployment,
    ):
        deployment = step(deployment=deployment, actor=admin_user)
    before = deployment_state(deployment)
    with pytest.raises(TransitionRefused) as exc:
        services.abandon_deployment(deployment=deployment, actor=admin_user, reason="Trop tard")
    assert exc.value.code == "transition_not_allowed"
    assert deployment_state(deployment) == before


# --- Abandon, and one live deployment per order ----------------------------------------------


def test_abandon_needs_a_reason(order, admin_user):
    deployment = schedule(order, admin_user)
    deployment = services.start_deployment(deployment=deployment, actor=admin_user)
    before = deployment_state(deployment)
    with pytest.raises(RuleViolation) as exc:
        services.abandon_deployment(deployment=deployment, actor=admin_user, reason="   ")
    assert exc.value.code == "abandon_reason_required"
    assert exc.value.field == "abandon_reason"
    assert deployment_state(deployment) == before
    assert before[0] == DeploymentStatus.IN_PROGRESS


def test_after_an_abandon_a_new_deployment_can_be_scheduled(order, admin_user):
    first = schedule(order, admin_user)
    abandoned_at = at_paris(2023, 3, 1, 9, 0)
    first = services.abandon_deployment(
        deployment=first,
        actor=admin_user,
        reason="  Le client déménage son cabinet.  ",
        at=abandoned_at,
    )
    first.refresh_from_db()
    assert first.status == DeploymentStatus.ABANDONED
    assert first.abandoned_at == abandoned_at
    assert first.abandon_reason == "Le client déménage son cabinet."
    entry = JournalEntry.objects.for_object(first).order_by("sequence").last()
    assert (entry.transition, entry.target_state) == ("abandon", "abandoned")
    assert "déménage" in entry.reason

    second = schedule(order, admin_user, firm_date=dt.date(2023, 9, 15))
    assert second.pk != first.pk
    assert second.status == DeploymentStatus.SCHEDULED
    assert list(
        Deployment.objects.filter(order=order).order_by("pk").values_list("status", flat=True)
    ) == [DeploymentStatus.ABANDONED, DeploymentStatus.SCHEDULED]


def test_a_second_live_deployment_is_refused_by_the_database(order, admin_user):
    first = schedule(order, admin_user)
    journal_before = JournalEntry.objects.count()
    # Through the service, a coded refusal...
    with pytest.raises(RuleViolation) as exc:
        schedule(order, admin_user, firm_date=dt.date(2023, 9, 2))
    assert exc.value.code == "deployment_already_live"
    # ... and through any other path that writes.
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(
            order=order, firm_date=dt.date(2023, 9, 3), firm_date_confirmed_at=CONFIRMED_AT
        )
    assert list(Deployment.objects.filter(order=order).values_list("pk", flat=True)) == [first.pk]
    assert JournalEntry.objects.count() == journal_before


def test_a_verified_deployment_is_still_the_live_one(order, admin_user):
    deployment = schedule(order, admin_user)
    for step in (
        services.start_deployment,
        services.install_deployment,
        services.verify_deployment,
    ):
        deployment = step(deployment=deployment, actor=admin_user)
    with pytest.raises(RuleViolation) as exc:
        schedule(order, admin_user)
    assert exc.value.code == "deployment_already_live"
    assert Deployment.objects.filter(order=order).count() == 1


# --- Orders still missing a firm date --------------------------------------------------------


def _signer():
    return acceptance_services.Signer(
        name="Dr Marie Curie", role="Médecin titulaire", identity_method="pro_sante_connect"
    )


def _signed_va(order, user, capture):
    va = acceptance_services.create_va(
        order=order, delivered_summary="Mise à jour installée, 2 utilisateurs formés.", actor=user
    )
    with capture(execute=True):
        acceptance_services.issue_va(va=va, actor=user)
    va.refresh_from_db()
    assert va.pdf_sha256, "the VA document was not rendered"
    return acceptance_services.sign_va(
        va=va,
        signer=_signer(),
        confirmed=list(va.statements),
        document_sha256=va.pdf_sha256,
    )


@pytest.fixture
def va_or_mom_referencing(admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return referenced(dispositif=lgc_dispositif(acceptance="va_or_mom"), actor=admin_user)


def missing(at):
    return set(selectors.orders_missing_firm_date(at=at).values_list("pk", flat=True))


def test_a_signed_order_without_deployment_is_listed_once_the_deadline_has_passed(
    va_or_mom_referencing, admin_user
):
    order = signed_order(referencing=va_or_mom_referencing, actor=admin_user)
    draft_order(referencing=va_or_mom_referencing, actor=admin_user)

    assert missing(FIRM_DATE_DEADLINE - dt.timedelta(seconds=1)) == set()
    assert missing(FIRM_DATE_DEADLINE) == {order.pk}
    assert missing(at_paris(2023, 7, 1, 9, 0)) == {order.pk}


def test_orders_with_a_deployment_a_signed_va_or_a_mom_are_not_listed(
    va_or_mom_referencing, admin_user, django_capture_on_commit_callbacks
):
    ref = va_or_mom_referencing
    bare = signed_order(referencing=ref, actor=admin_user)
    scheduled = signed_order(referencing=ref, actor=admin_user)
    schedule(scheduled, admin_user)
    with_va = signed_order(referencing=ref, actor=admin_user)
    _signed_va(with_va, admin_user, django_capture_on_commit_callbacks)
    with_mom = signed_order(referencing=ref, actor=admin_user)
    acceptance_services.declare_mom(
        order=with_mom,
        signer=_signer(),
        statement="Le logiciel est en ordre de marche.",
        actor=admin_user,
    )
    abandoned = signed_order(referencing=ref, actor=admin_user)
    services.abandon_deployment(
        deployment=schedule(abandoned, admin_user), actor=admin_user, reason="Client injoignable"
    )

    # An abandoned deployment leaves the order without a firm date again.
    assert missing(FIRM_DATE_DEADLINE) == {bare.pk, abandoned.pk}


def test_an_issued_but_unsigned_va_does_not_take_the_order_off_the_list(
    va_or_mom_referencing, admin_user
):
    order = signed_order(referencing=va_or_mom_referencing, actor=admin_user)
    va = acceptance_services.create_va(
        order=order, delivered_summary="Installation en cours.", actor=admin_user
    )
    acceptance_services.issue_va(va=va, actor=admin_user)
    assert missing(FIRM_DATE_DEADLINE) == {order.pk}


def test_a_firm_date_already_past_is_refused(order, admin_user):
    before = snapshot(order)
    with pytest.raises(RuleViolation) as exc:
        schedule(order, admin_user, firm_date=CONFIRMED_AT.date() - dt.timedelta(days=1))
    assert exc.value.code == "firm_date_in_past"
    assert snapshot(order) == before
