"""Gates before the solde: the Ordonnance numérique pre-series, the pilot périmètre, usage."""

import datetime as dt

import pytest

from core.errors import RuleViolation, TransitionRefused
from core.models import JournalEntry
from sons.models import (
    OnPreseries,
    PilotPerimeter,
    PilotSite,
    PilotStatus,
    PreseriesStatus,
    UsageMeasurement,
)
from sons.services import gates as services
from tests.factories import SolutionVersionFactory
from tests.sons.factories import (
    at_paris,
    draft_order,
    lgc_dispositif,
    referenced,
    signed_order,
    valid_rpps,
)

pytestmark = pytest.mark.django_db

DOCTOR = {"name": "Dr Paul Pilote", "role": "medecin", "rpps": valid_rpps(101)}
PHARMACIST = {"name": "Ph. Anne Officine", "role": "pharmacien", "rpps": valid_rpps(202)}


def bad_checksum(rpps: str) -> str:
    return rpps[:-1] + str((int(rpps[-1]) + 1) % 10)


def journal(obj):
    return list(
        JournalEntry.objects.for_object(obj)
        .order_by("sequence")
        .values_list("transition", "source_state", "target_state")
    )


def steps(obj):
    """The journaled state changes, without the record's creation entry (if one is kept)."""
    return [entry for entry in journal(obj) if entry[0] != "create"]


def preseries_state(version):
    preseries = OnPreseries.objects.filter(solution_version=version).first()
    if preseries is None:
        return None, JournalEntry.objects.count()
    return (
        preseries.status,
        preseries.pilots,
        preseries.submitted_at,
        preseries.decided_at,
        preseries.rejection_reasons,
    ), JournalEntry.objects.count()


# --- Ordonnance numérique pre-series ---------------------------------------------------------


@pytest.fixture
def version():
    return SolutionVersionFactory()


def start(version, user, pilots=(DOCTOR, PHARMACIST)):
    return services.start_preseries(solution_version=version, pilots=list(pilots), actor=user)


@pytest.mark.parametrize(
    "pilots",
    [[DOCTOR], [PHARMACIST], [], [DOCTOR, {**PHARMACIST, "role": "infirmier"}]],
    ids=["doctor-only", "pharmacist-only", "nobody", "no-pharmacist-role"],
)
def test_preseries_needs_a_doctor_and_a_pharmacist(version, admin_user, pilots):
    before = preseries_state(version)
    with pytest.raises(RuleViolation) as exc:
        start(version, admin_user, pilots)
    assert exc.value.code == "preseries_pilots_incomplete"
    assert exc.value.field == "pilots"
    assert preseries_state(version) == before
    assert before[0] is None  # not even an empty pre-series is left behind


def test_an_invalid_pilot_rpps_is_refused_naming_the_pilot(version, admin_user):
    before = preseries_state(version)
    wrong = {**PHARMACIST, "rpps": bad_checksum(PHARMACIST["rpps"])}
    with pytest.raises(RuleViolation) as exc:
        start(version, admin_user, [DOCTOR, wrong])
    assert exc.value.code == "pilot_rpps_invalid"
    assert "Ph. Anne Officine" in exc.value.message
    assert "Dr Paul Pilote" not in exc.value.message
    assert "clé de contrôle" in exc.value.message
    assert preseries_state(version) == before

    with pytest.raises(RuleViolation) as exc:
        start(version, admin_user, [{"name": "Dr Sans Numéro", "role": "medecin"}, PHARMACIST])
    assert exc.value.code == "pilot_rpps_invalid"
    assert "Dr Sans Numéro" in exc.value.message
    assert preseries_state(version) == before


def test_preseries_start_submit_validate(version, admin_user):
    national_id = "8" + DOCTOR["rpps"]  # the CPx national id is reduced to the RPPS
    preseries = start(version, admin_user, [{**DOCTOR, "rpps": national_id}, PHARMACIST])
    assert preseries.status == PreseriesStatus.IN_PROGRESS
    assert preseries.pilots == [DOCTOR, PHARMACIST]

    submitted_at, decided_at = at_paris(2026, 3, 2, 10, 0), at_paris(2026, 4, 1, 15, 0)
    preseries = services.submit_preseries(preseries=preseries, actor=admin_user, at=submitted_at)
    assert (preseries.status, preseries.submitted_at) == (PreseriesStatus.SUBMITTED, submitted_at)
    preseries = services.validate_preseries(preseries=preseries, actor=admin_user, at=decided_at)

    preseries.refresh_from_db()
    assert preseries.status == PreseriesStatus.VALIDATED
    assert preseries.decided_at == decided_at
    assert steps(preseries) == [
        ("start", "not_started", "in_progress"),
        ("submit", "in_progress", "submitted"),
        ("validate", "submitted", "validated"),
    ]
    started = JournalEntry.objects.for_object(preseries).get(transition="start")
    assert started.snapshot["pilots"][0] == DOCTOR


def test_rejection_needs_reasons_and_a_rejected_preseries_starts_again(version, admin_user):
    preseries = start(version, admin_user)
    preseries = services.submit_preseries(preseries=preseries, actor=admin_user)
    before = preseries_state(version)
    with pytest.raises(RuleViolation) as exc:
        services.reject_preseries(preseries=preseries, actor=admin_user, reasons="  ")
    assert exc.value.code == "preseries_reasons_required"
    assert preseries_state(version) == before

    preseries = services.reject_preseries(
        preseries=preseries, actor=admin_user, reasons="  Ordonnance non lue en officine.  "
    )
    assert preseries.status == PreseriesStatus.REJECTED
    assert preseries.rejection_reasons == "Ordonnance non lue en officine."
    other_doctor = {"name": "Dr Nouveau", "role": "medecin", "rpps": valid_rpps(303)}
    preseries = start(version, admin_user, [other_doctor, PHARMACIST])

    preseries.refresh_from_db()
    assert preseries.status == PreseriesStatus.IN_PROGRESS
    assert preseries.pilots == [other_doctor, PHARMACIST]
    assert preseries.rejection_reasons == ""
    assert OnPreseries.objects.filter(solution_version=version).count() == 1
    entries = list(
        JournalEntry.objects.for_object(preseries).exclude(transition="create").order_by("sequence")
    )
    assert [(e.transition, e.source_state, e.target_state) for e in entries] == [
        ("start", "not_started", "in_progress"),
        ("submit", "in_progress", "submitted"),
        ("reject", "submitted", "rejected"),
        ("start", "rejected", "in_progress"),
    ]
    assert "Ordonnance non lue en officine." in entries[2].reason


@pytest.mark.parametrize(
    ("walked", "call"),
    [
        ([], "validate"),
        ([], "start"),
        ([], "submit_twice"),
        (["submit", "validate"], "start"),
        (["submit", "validate"], "reject"),
    ],
    ids=[
        "validate-in-progress",
        "start-twice",
        "submit-twice",
        "restart-validated",
        "reject-validated",
    ],
)
def test_preseries_transitions_out_of_order_are_refused(version, admin_user, walked, call):
    preseries = start(version, admin_user)
    for step in walked:
        preseries = getattr(services, f"{step}_preseries")(preseries=preseries, actor=admin_user)
    if call == "submit_twice":
        preseries = services.submit_preseries(preseries=preseries, actor=admin_user)
    before = preseries_state(version)
    with pytest.raises(TransitionRefused) as exc:
        if call == "start":
            start(version, admin_user)
        elif call == "reject":
            services.reject_preseries(preseries=preseries, actor=admin_user, reasons="Non")
        elif call == "validate":
            services.validate_preseries(preseries=preseries, actor=admin_user)
        else:
            services.submit_preseries(preseries=preseries, actor=admin_user)
    assert exc.value.code == "transition_not_allowed"
    assert preseries_state(version) == before


# --- Pilot périmètre -------------------------------------------------------------------------


@pytest.fixture
def pilot_referencing(admin_user):
    return referenced(dispositif=lgc_dispositif(pilot_size=3), actor=admin_user)


@pytest.fixture
def pilot_orders(pilot_referencing, admin_user):
    return [signed_order(referencing=pilot_referencing, actor=admin_user) for _ in range(4)]


def designate(order, user, at=None):
    return services.designate_pilot(order=order, actor=user, at=at)


def pv(order, user, day=dt.date(2026, 5, 4)):
    return services.record_pilot_pv(
        order=order, signed_on=day, pv_sha256=f"{order.pk:064x}", actor=user
    )


def pilot_state(referencing):
    perimeter = PilotPerimeter.objects.filter(referencing=referencing).first()
    return (
        perimeter and (perimeter.status, perimeter.published_at),
        list(PilotSite.objects.order_by("pk").values_list("order_id", "pv_signed_on", "pv_sha256")),
        JournalEntry.objects.count(),
    )


def test_three_pilot_sites_then_the_fourth_is_refused(pilot_referencing, pilot_orders, admin_user):
    designated_at = at_paris(2026, 1, 5, 9, 0)
    sites = [designate(o, admin_user, at=designated_at) for o in pilot_orders[:3]]
    perimeter = PilotPerimeter.objects.get(referencing=pilot_referencing)
    assert perimeter.status == PilotStatus.OPEN
    assert {s.perimeter_id for s in sites} == {perimeter.pk}
    assert [s.order for s in perimeter.sites.order_by("pk")] == pilot_orders[:3]
    assert all(s.designated_at == designated_at and s.pv_signed_on is None for s in sites)
    assert journal(sites[0]) == [("designate", "", "designated")]

    before = pilot_state(pilot_referencing)
    with pytest.raises(RuleViolation) as exc:
        designate(pilot_orders[3], admin_user)
    assert exc.value.code == "pilot_full"
    assert "3 sites" in exc.value.message
    assert pilot_state(pilot_referencing) == before


def test_each_referenced_solution_has_its_own_perimeter(pilot_referencing, admin_user):
    other = referenced(dispositif=pilot_referencing.dispositif, actor=admin_user)
    for _ in range(3):
        designate(signed_order(referencing=pilot_referencing, actor=admin_user), admin_user)
    site = designate(signed_order(referencing=other, actor=admin_user), admin_user)
    assert site.perimeter.referencing == other
    assert PilotPerimeter.objects.count() == 2


def test_a_dispositif_without_pilot_refuses_pilot_sites(admin_user):
    ref = referenced(dispositif=lgc_dispositif(), actor=admin_user)
    order = signed_order(referencing=ref, actor=admin_user)
    before = pilot_state(ref)
    with pytest.raises(RuleViolation) as exc:
        designate(order, admin_user)
    assert exc.value.code == "pilot_not_applicable"
    assert order.dispositif.code in exc.value.message
    assert pilot_state(ref) == before == (None, [], before[2])


def test_a_draft_order_cannot_be_a_pilot_site(pilot_referencing, admin_user):
    order = draft_order(referencing=pilot_referencing, actor=admin_user)
    before = pilot_state(pilot_referencing)
    with pytest.raises(RuleViolation) as exc:
        designate(order, admin_user)
    assert exc.value.code == "order_not_signed"
    assert pilot_state(pilot_referencing) == before


def test_publication_waits_for_the_three_pvs(pilot_referencing, pilot_orders, admin_user):
    # Nothing designated yet.
    with pytest.raises(RuleViolation) as exc:
        services.publish_pilot_success(referencing=pilot_referencing, actor=admin_user)
    assert exc.value.code == "pilot_incomplete"

    for order in pilot_orders[:3]:
        designate(order, admin_user)
    site = pv(pilot_orders[0], admin_user)
    assert (site.pv_signed_on, site.pv_sha256) == (
        dt.date(2026, 5, 4),
        f"{pilot_orders[0].pk:064x}",
    )
    assert journal(site)[-1] == ("record_pv", "designated", "pv_recorded")
    pv(pilot_orders[1], admin_user)

    before = pilot_state(pilot_referencing)
    with pytest.raises(RuleViolation) as exc:
        services.publish_pilot_success(referencing=pilot_referencing, actor=admin_user)
    assert exc.value.code == "pilot_incomplete"
    assert "3 sites pilotes" in exc.value.message
    assert "(2 à ce jour)" in exc.value.message
    assert pilot_state(pilot_referencing) == before
    assert before[0] == (PilotStatus.OPEN, None)

    pv(pilot_orders[2], admin_user)
    published_at = at_paris(2026, 6, 1, 12, 0)
    perimeter = services.publish_pilot_success(
        referencing=pilot_referencing, actor=admin_user, at=published_at
    )
    perimeter.refresh_from_db()
    assert (perimeter.status, perimeter.published_at) == (PilotStatus.PUBLISHED, published_at)
    assert journal(perimeter) == [("publish", "open", "published")]


def test_a_pv_on_an_order_that_is_not_a_pilot_is_refused(pilot_orders, admin_user):
    designate(pilot_orders[0], admin_user)
    before = pilot_state(pilot_orders[0].referencing)
    with pytest.raises(RuleViolation) as exc:
        pv(pilot_orders[1], admin_user)
    assert exc.value.code == "not_a_pilot"
    assert pilot_orders[1].reference in exc.value.message
    assert pilot_state(pilot_orders[0].referencing) == before


# --- Usage measurements ----------------------------------------------------------------------


@pytest.fixture
def order(admin_user):
    return signed_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=admin_user), actor=admin_user
    )


def usage(order):
    return list(
        UsageMeasurement.objects.filter(order=order)
        .order_by("month")
        .values_list("month", "produced", "sent")
    )


def test_record_usage_keeps_one_row_per_month(order):
    jan, feb = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
    services.record_usage(order=order, month=jan, produced=10, sent=5)
    services.record_usage(order=order, month=feb, produced=20, sent=20)
    measurement = services.record_usage(order=order, month=jan, produced=12, sent=8)
    assert (measurement.month, measurement.produced, measurement.sent) == (jan, 12, 8)
    assert usage(order) == [(jan, 12, 8), (feb, 20, 20)]


@pytest.mark.parametrize(
    ("month", "produced", "sent"),
    [
        (dt.date(2024, 1, 1), 10, 11),
        (dt.date(2024, 1, 15), 10, 5),
        (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), 10, 5),
        (dt.date(2024, 1, 1), -1, 0),
    ],
    ids=["sent-more-than-produced", "not-the-first", "a-datetime", "negative"],
)
def test_record_usage_refuses_invalid_figures(order, month, produced, sent):
    services.record_usage(order=order, month=dt.date(2024, 1, 1), produced=12, sent=8)
    before = usage(order)
    with pytest.raises(RuleViolation) as exc:
        services.record_usage(order=order, month=month, produced=produced, sent=sent)
    assert exc.value.code == "usage_invalid"
    assert exc.value.field == "usage"
    assert exc.value.message
    assert usage(order) == before == [(dt.date(2024, 1, 1), 12, 8)]


def test_an_order_is_designated_pilot_once(admin_user):
    from sons.services import gates as gate_services
    from tests.sons.factories import lgc_dispositif, referenced, signed_order

    ref = referenced(dispositif=lgc_dispositif(pilot_size=3), actor=admin_user)
    order = signed_order(referencing=ref, actor=admin_user)
    gate_services.designate_pilot(order=order, actor=admin_user)
    with pytest.raises(RuleViolation) as exc:
        gate_services.designate_pilot(order=order, actor=admin_user)
    assert exc.value.code == "already_a_pilot"
