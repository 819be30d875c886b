"""Every referencing transition through its service, every refusal, and the journal it writes."""

import datetime as dt

import pytest

from catalogue import services
from catalogue.deadlines import PARIS
from catalogue.models import DistributionMandate, Referencing, ReferencingStatus, Vendor
from core.errors import RuleViolation, TransitionRefused
from core.models import JournalEntry
from tests.factories import (
    CalendarVersionFactory,
    DeadlineFactory,
    DispositifFactory,
    SolutionVersionFactory,
    VendorFactory,
    draft_referencing,
)

pytestmark = pytest.mark.django_db

DOSSIER_DEADLINE = dt.datetime(2022, 6, 15, 14, 0, tzinfo=PARIS)


@pytest.fixture
def dispositif():
    d = DispositifFactory()
    DeadlineFactory(
        version=CalendarVersionFactory(dispositif=d, founding=True),
        kind="referencing_dossier",
        at=DOSSIER_DEADLINE,
    )
    return d


@pytest.fixture
def draft(dispositif, admin_user):
    return draft_referencing(
        actor=admin_user, dispositif=dispositif, at=dt.datetime(2022, 5, 1, tzinfo=PARIS)
    )


def under_review(draft, admin_user):
    ref = services.submit_referencing(
        referencing=draft, actor=admin_user, at=DOSSIER_DEADLINE - dt.timedelta(days=1)
    )
    return services.start_review(referencing=ref, actor=admin_user)


def test_submit_one_second_before_the_deadline(draft, admin_user):
    at = DOSSIER_DEADLINE - dt.timedelta(seconds=1)
    ref = services.submit_referencing(referencing=draft, actor=admin_user, at=at)
    assert ref.status == ReferencingStatus.SUBMITTED
    assert ref.submitted_at == at
    entry = JournalEntry.objects.for_object(ref).last()
    assert entry.transition == "submit"
    assert entry.snapshot["deadline"]["deadline_at"] == DOSSIER_DEADLINE.isoformat()
    assert entry.snapshot["deadline"]["legal_reference"].startswith("arrêté de test")


def test_submit_at_the_deadline_is_refused_and_nothing_changes(draft, admin_user):
    entries_before = JournalEntry.objects.count()
    with pytest.raises(RuleViolation) as exc:
        services.submit_referencing(referencing=draft, actor=admin_user, at=DOSSIER_DEADLINE)
    assert exc.value.code == "referencing_dossier_deadline_passed"
    assert "15/06/2022 à 14:00:00" in exc.value.message
    draft.refresh_from_db()
    assert draft.status == ReferencingStatus.DRAFT
    assert draft.submitted_at is None
    assert JournalEntry.objects.count() == entries_before


def test_submit_after_a_calendar_move_uses_the_new_deadline(dispositif, draft, admin_user):
    DeadlineFactory(
        version=CalendarVersionFactory(
            dispositif=dispositif,
            legal_reference="arrêté du 10 juin 2022",
            published_on=dt.date(2022, 6, 10),
        ),
        kind="referencing_dossier",
        at=dt.datetime(2022, 6, 28, 14, 0, tzinfo=PARIS),
    )
    ref = services.submit_referencing(
        referencing=draft, actor=admin_user, at=dt.datetime(2022, 6, 20, 9, 0, tzinfo=PARIS)
    )
    assert ref.status == ReferencingStatus.SUBMITTED
    snapshot = JournalEntry.objects.for_object(ref).last().snapshot
    assert snapshot["deadline"]["legal_reference"] == "arrêté du 10 juin 2022"


def test_a_pending_modification_is_not_applied(dispositif, draft, admin_user):
    DeadlineFactory(
        version=CalendarVersionFactory(
            dispositif=dispositif, legal_reference="arrêté à paraître", published_on=None
        ),
        kind="referencing_dossier",
        at=dt.datetime(2022, 6, 28, 14, 0, tzinfo=PARIS),
    )
    with pytest.raises(RuleViolation):
        services.submit_referencing(
            referencing=draft, actor=admin_user, at=dt.datetime(2022, 6, 20, tzinfo=PARIS)
        )


def test_submit_without_a_published_deadline_is_accepted_and_says_so(admin_user):
    version = SolutionVersionFactory()
    ref = services.create_referencing(
        solution_version=version,
        dispositif=DispositifFactory(),
        vendor=version.solution.editor,
        actor=admin_user,
    )
    ref = services.submit_referencing(referencing=ref, actor=admin_user)
    assert ref.status == ReferencingStatus.SUBMITTED
    assert JournalEntry.objects.for_object(ref).last().snapshot["deadline"] is None


def test_full_path_to_referenced_then_withdrawn(draft, admin_user):
    ref = under_review(draft, admin_user)
    assert ref.status == ReferencingStatus.UNDER_REVIEW
    ref = services.reference_solution(
        referencing=ref,
        actor=admin_user,
        ans_number="ANS-2022-001",
        referenced_on=dt.date(2022, 7, 1),
    )
    assert ref.status == ReferencingStatus.REFERENCED
    assert (ref.ans_number, ref.referenced_on) == ("ANS-2022-001", dt.date(2022, 7, 1))
    ref = services.withdraw_referencing(referencing=ref, actor=admin_user, reason="Non-conformité")
    assert ref.status == ReferencingStatus.WITHDRAWN
    assert ref.withdrawal_reason == "Non-conformité"
    transitions = list(
        JournalEntry.objects.for_object(ref).values_list("transition", "target_state")
    )
    assert transitions == [
        ("create", "draft"),
        ("submit", "submitted"),
        ("start_review", "under_review"),
        ("reference", "referenced"),
        ("withdraw", "withdrawn"),
    ]
    assert JournalEntry.objects.for_object(ref).last().reason == "Non-conformité"


def test_reject_needs_reasons(draft, admin_user):
    ref = under_review(draft, admin_user)
    with pytest.raises(RuleViolation) as exc:
        services.reject_referencing(referencing=ref, actor=admin_user, reasons="  ")
    assert exc.value.field == "rejection_reasons"
    ref = services.reject_referencing(referencing=ref, actor=admin_user, reasons="Preuves absentes")
    assert ref.status == ReferencingStatus.REJECTED
    assert ref.rejection_reasons == "Preuves absentes"


def test_reference_needs_a_number_and_a_free_one(draft, dispositif, admin_user):
    ref = under_review(draft, admin_user)
    with pytest.raises(RuleViolation) as exc:
        services.reference_solution(referencing=ref, actor=admin_user, ans_number="")
    assert exc.value.code == "ans_number_required"

    other_version = SolutionVersionFactory()
    other = services.create_referencing(
        solution_version=other_version,
        dispositif=dispositif,
        vendor=other_version.solution.editor,
        actor=admin_user,
        at=dt.datetime(2022, 5, 1, tzinfo=PARIS),
    )
    other = under_review(other, admin_user)
    services.reference_solution(referencing=other, actor=admin_user, ans_number="ANS-1")
    with pytest.raises(RuleViolation) as exc:
        services.reference_solution(referencing=ref, actor=admin_user, ans_number="ANS-1")
    assert exc.value.code == "ans_number_taken"
    ref.refresh_from_db()
    assert ref.status == ReferencingStatus.UNDER_REVIEW


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        (services.start_review, {}),
        (services.reference_solution, {"ans_number": "X"}),
        (services.reject_referencing, {"reasons": "x"}),
        (services.withdraw_referencing, {"reason": "x"}),
    ],
)
def test_transitions_out_of_order_are_refused(draft, admin_user, call, kwargs):
    with pytest.raises(TransitionRefused) as exc:
        call(referencing=draft, actor=admin_user, **kwargs)
    assert exc.value.code == "transition_not_allowed"
    assert "Brouillon" in exc.value.message
    draft.refresh_from_db()
    assert draft.status == ReferencingStatus.DRAFT


def test_submitting_twice_is_refused(draft, admin_user):
    services.submit_referencing(
        referencing=draft, actor=admin_user, at=DOSSIER_DEADLINE.replace(day=1)
    )
    with pytest.raises(TransitionRefused):
        services.submit_referencing(
            referencing=draft, actor=admin_user, at=DOSSIER_DEADLINE.replace(day=2)
        )


def test_status_cannot_be_set_by_hand(draft):
    with pytest.raises(AttributeError):
        draft.status = ReferencingStatus.REFERENCED


def test_a_distributor_needs_a_mandate(dispositif, admin_user):
    version = SolutionVersionFactory()
    distributor = VendorFactory(kind=Vendor.Kind.DISTRIBUTEUR)
    with pytest.raises(RuleViolation) as exc:
        services.create_referencing(
            solution_version=version, dispositif=dispositif, vendor=distributor, actor=admin_user
        )
    assert exc.value.code == "vendor_not_mandated"
    DistributionMandate.objects.create(
        editor=version.solution.editor,
        distributor=distributor,
        reference="M-1",
        valid_from=dt.date(2020, 1, 1),
    )
    ref = services.create_referencing(
        solution_version=version, dispositif=dispositif, vendor=distributor, actor=admin_user
    )
    assert ref.vendor == distributor


def test_an_expired_mandate_does_not_count(dispositif, admin_user):
    version = SolutionVersionFactory()
    distributor = VendorFactory(kind=Vendor.Kind.DISTRIBUTEUR)
    DistributionMandate.objects.create(
        editor=version.solution.editor,
        distributor=distributor,
        reference="M-1",
        valid_from=dt.date(2020, 1, 1),
        valid_until=dt.date(2021, 12, 31),
    )
    with pytest.raises(RuleViolation):
        services.create_referencing(
            solution_version=version,
            dispositif=dispositif,
            vendor=distributor,
            actor=admin_user,
            at=dt.datetime(2022, 1, 1, tzinfo=PARIS),
        )


def test_one_live_dossier_per_version_and_dispositif_but_a_new_one_after_rejection(
    draft, dispositif, admin_user
):
    with pytest.raises(RuleViolation) as exc:
        services.create_referencing(
            solution_version=draft.solution_version,
            dispositif=dispositif,
            vendor=draft.vendor,
            actor=admin_user,
        )
    assert exc.value.code == "referencing_already_open"
    ref = under_review(draft, admin_user)
    services.reject_referencing(referencing=ref, actor=admin_user, reasons="Incomplet")
    again = services.create_referencing(
        solution_version=draft.solution_version,
        dispositif=dispositif,
        vendor=draft.vendor,
        actor=admin_user,
    )
    assert again.status == ReferencingStatus.DRAFT
    assert Referencing.objects.filter(solution_version=draft.solution_version).count() == 2


def test_dossier_deadline_on_the_daylight_saving_day(admin_user):
    """26 March 2023, clocks jump at 02:00: a 14:00 Paris deadline is 12:00 UTC."""
    dispositif = DispositifFactory()
    DeadlineFactory(
        version=CalendarVersionFactory(dispositif=dispositif, founding=True),
        kind="referencing_dossier",
        at=dt.datetime(2023, 3, 26, 14, 0, tzinfo=PARIS),
    )

    in_time = services.submit_referencing(
        referencing=draft_referencing(actor=admin_user, dispositif=dispositif),
        actor=admin_user,
        at=dt.datetime(2023, 3, 26, 11, 59, 59, tzinfo=dt.UTC),
    )
    assert in_time.status == ReferencingStatus.SUBMITTED
    with pytest.raises(RuleViolation):
        services.submit_referencing(
            referencing=draft_referencing(actor=admin_user, dispositif=dispositif),
            actor=admin_user,
            at=dt.datetime(2023, 3, 26, 12, 0, 0, tzinfo=dt.UTC),
        )
