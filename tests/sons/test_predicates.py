"""One rule, one answer: for every predicate, the set answer (a queryset filter) and the
per-object answer agree on every row of small random worlds judged at random instants.

The end of réalisation is judged as SONS.md « End of réalisation, exactly » says (COSUI of 5 April
2023): by it, the completion notified to the ASP or the solde filed; the VA may follow. Worlds
hold notices of completion and soldes filed at instants around the deadline.

Each world is a few dispositifs (acceptance kind, calendar), orders in every state, deployments,
VA / MOM / pilot PV at random instants, claims of each kind and state, conflicts open or closed,
live recoveries. Rows are written directly (no service, no journal): the predicates read states,
they do not care how a row got there. Each example runs in a transaction rolled back after it.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue.deadlines import DeadlineKind, is_in_time
from catalogue.models import Referencing, Tariff
from catalogue.models.referencing import ReferencingStatus
from catalogue.rules import TariffKind
from catalogue.selectors import calendar_in_force, deadline_for
from payments.acts import PREPARE_CLAIM
from payments.models import (
    FILED_CLAIM_STATUSES,
    LIVE_CLAIM_STATUSES,
    AspFiling,
    ClaimKind,
    ClaimStatus,
    FiledCompletion,
    FilingStatus,
    PaymentClaim,
    Recovery,
    RecoveryCause,
    RecoveryStatus,
)
from payments.services.claims import claim_problems
from payments.services.recovery import realisation_missed, recoveries_due
from sons.models import (
    ClientConflict,
    CompletionNotice,
    ConflictPosition,
    ConflictStatus,
    Decision,
    Deployment,
    DeploymentStatus,
    MomDeclaration,
    OrderStatus,
    PilotPerimeter,
    PilotSite,
    PurchaseOrder,
    VaDecision,
    VaStatus,
    VerificationAptitude,
)
from sons.selectors import (
    CONFLICT_UNRESOLVED,
    OWING_DELIVERY,
    acceptance_instant,
    accepted,
    claim_blockers,
    completed_in_time,
    completion_due,
    in_unresolved_conflict,
    orders_at_risk,
    orders_missing_firm_date,
    undelivered,
)
from tests.factories import (
    CalendarVersionFactory,
    DeadlineFactory,
    DispositifFactory,
    SolutionVersionFactory,
)
from tests.sons.factories import ClientFactory, at_paris

pytestmark = pytest.mark.django_db

T0 = at_paris(2023, 9, 20, 14, 0)
SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
# Offsets from T0 for deadlines, documents and the instant judged: the boundaries (equal, one
# second either side) and some distance, so that « strictly before » and « at most » differ.
OFFSETS = [-40 * DAY, -DAY, -SECOND, dt.timedelta(0), SECOND, DAY, 20 * DAY, 40 * DAY]
instants = st.sampled_from(OFFSETS).map(lambda d: T0 + d)
maybe_instant = st.none() | instants
# A deadline is mostly published: « not yet published » is one case among nine.
maybe_deadline = st.sampled_from([None, *(T0 + d for d in OFFSETS)])

ACCEPTANCES = ["", "va", "mom", "va_or_mom", "pilot_pv"]
DEADLINE_KINDS = [
    DeadlineKind.ADVANCES,
    DeadlineKind.FIRM_DATE,
    DeadlineKind.REALISATION,
    DeadlineKind.SOLDES,
]

dispositifs = st.fixed_dictionaries(
    {
        "acceptance": st.sampled_from(ACCEPTANCES),
        "allows_conditional": st.booleans(),
        "deadlines": st.fixed_dictionaries({kind: maybe_deadline for kind in DEADLINE_KINDS}),
    }
)

claims = st.dictionaries(
    st.sampled_from([ClaimKind.AVANCE, ClaimKind.SOLDE, ClaimKind.SECONDAIRE]),
    # (state, flagged late); a paid one more often than chance: it is what recovery needs.
    st.tuples(st.just(ClaimStatus.PAID) | st.sampled_from(ClaimStatus.values), st.booleans()),
    max_size=3,
)

orders = st.fixed_dictionaries(
    {
        "dispositif": st.integers(0, 2),
        # Signed and conditional (the states the deadlines concern) more often than chance.
        "status": st.sampled_from(
            [OrderStatus.SIGNED, OrderStatus.SIGNED, OrderStatus.CONDITIONAL, *OrderStatus.values]
        ),
        "conditional_until": maybe_instant,
        "va": st.none() | st.tuples(st.sampled_from(VaStatus.values), instants),
        "mom": maybe_instant,
        "pilot_pv": st.none() | instants,
        "deployment": st.none() | st.sampled_from(DeploymentStatus.values),
        "claims": claims,
        # When the ASP was told: the notice of completion, the solde's deposit (if filed).
        "notice": maybe_instant,
        "submitted": instants,
        "conflict": st.none()
        | st.tuples(
            st.sampled_from(ConflictStatus.values), instants, st.sampled_from(Decision.values)
        ),
        "recovery": st.sampled_from([None, None, None, *RecoveryStatus.values]),
    }
)

worlds = st.fixed_dictionaries(
    {
        "dispositifs": st.lists(dispositifs, min_size=1, max_size=3),
        "orders": st.lists(orders, min_size=1, max_size=7),
        "at": instants,
    }
)


def build(world):
    """The rows of a world; returns (vendor, dispositifs, orders)."""
    version = SolutionVersionFactory()
    vendor = version.solution.editor
    made = []
    for spec in world["dispositifs"]:
        dispositif = DispositifFactory(
            acceptance=spec["acceptance"],
            conditional_window_amount=4 if spec["allows_conditional"] else None,
            conditional_window_unit="months" if spec["allows_conditional"] else "",
        )
        calendar = CalendarVersionFactory(dispositif=dispositif, founding=True)
        for kind, at in spec["deadlines"].items():
            if at is not None:
                DeadlineFactory(version=calendar, kind=kind, at=at)
        Tariff.objects.create(
            dispositif=dispositif,
            kind=TariffKind.FLAT,
            flat_cents=100000,
            vat_rate=Decimal("0.20"),
        )
        referencing = Referencing.objects.create(
            solution_version=version,
            dispositif=dispositif,
            vendor=vendor,
            status=ReferencingStatus.REFERENCED,
        )
        perimeter = PilotPerimeter.objects.create(referencing=referencing)
        made.append((dispositif, referencing, perimeter))

    rows = []
    for spec in world["orders"]:
        dispositif, referencing, perimeter = made[spec["dispositif"] % len(made)]
        client = ClientFactory()
        order = PurchaseOrder.objects.create(
            vendor=vendor,
            client=client,
            dispositif=dispositif,
            solution_version=version,
            referencing=referencing,
            installation_scenario="Installation sur poste",
            status=spec["status"],
            signed_at=T0 - 100 * DAY,
            amount_ht_cents=100000,
            amount_ttc_cents=120000,
            conditional_until=spec["conditional_until"],
        )
        if spec["va"] is not None:
            status, at = spec["va"]
            va = VerificationAptitude.objects.create(
                order=order,
                version=1,
                status=status,
                delivered_summary="Mise à jour livrée",
                mssante_address="client@medecin.mssante.fr",
                issued_at=at - DAY,
            )
            if status in (VaStatus.SIGNED, VaStatus.REFUSED):
                VaDecision.objects.create(
                    va=va,
                    outcome=status,
                    decided_at=at,
                    document_sha256="0" * 64,
                    signer_name="Dr Test",
                    signer_role="Médecin",
                    identity_method="otp",
                )
        if spec["mom"] is not None:
            MomDeclaration.objects.create(
                order=order,
                declared_at=spec["mom"],
                mssante_address="client@medecin.mssante.fr",
                statement="En ordre de marche",
                signer_name="Éditeur",
                signer_role="Chef de projet",
                identity_method="compte",
            )
        if spec["pilot_pv"] is not None:
            PilotSite.objects.create(
                perimeter=perimeter,
                order=order,
                designated_at=T0 - 50 * DAY,
                pv_signed_on=spec["pilot_pv"].date(),
            )
        if spec["deployment"] is not None:
            Deployment.objects.create(
                order=order,
                status=spec["deployment"],
                firm_date=(T0 + 10 * DAY).date(),
                firm_date_confirmed_at=T0 - 30 * DAY,
            )
        for kind, (status, flagged) in spec["claims"].items():
            PaymentClaim.objects.create(
                order=order,
                kind=kind,
                status=status,
                amount_ht_cents=30000,
                amount_ttc_cents=36000,
                created_at=T0 - 60 * DAY,
                paid_amount_cents=36000 if status == ClaimStatus.PAID else None,
                deadline_missed_at=T0 - 2 * DAY if flagged else None,
                submitted_at=spec["submitted"] if status in FILED_CLAIM_STATUSES else None,
            )
        if spec["notice"] is not None:
            # Given a day earlier; what tells the ASP is its filing's deposit (SONS.md step 4).
            notice = CompletionNotice.objects.create(
                order=order,
                notified_at=spec["notice"] - DAY,
                notified_by="Éditeur",
                statement="Prestation achevée.",
            )
            filing = AspFiling.objects.create(
                vendor=vendor,
                dispositif=dispositif,
                kind="achevement",
                sequence=order.pk,
                name=f"SONS_achevement_{order.pk}",
                schema_version="1.0",
                created_at=spec["notice"] - DAY,
                status=FilingStatus.TRANSMITTED,
                transmitted_at=spec["notice"],
            )
            FiledCompletion.objects.create(filing=filing, notice=notice, line_number=1)
        if spec["conflict"] is not None:
            status, respond_by, decision = spec["conflict"]
            conflict = ClientConflict.objects.create(
                client=client,
                dispositif=dispositif,
                status=status,
                opened_at=respond_by - 14 * DAY,
                respond_by=respond_by,
            )
            ConflictPosition.objects.create(
                conflict=conflict, order=order, respond_by=respond_by, decision=decision
            )
        if spec["recovery"] is not None:
            Recovery.objects.create(
                order=order,
                cause=RecoveryCause.CONTROL,
                status=spec["recovery"],
                received_cents=36000,
                offset_cents=0,
                amount_cents=36000,
                opened_at=T0 - 10 * DAY,
                reason="Contrôle",
            )
        rows.append(order)
    return vendor, [d for d, _r, _p in made], rows


# -- the per-object answers, read one order at a time ------------------------------------------


def ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def deadline_passed(order, kind, at) -> bool:
    deadline = deadline_for(dispositif=order.dispositif, kind=kind, at=at)
    return deadline is not None and not is_in_time(at, deadline.at)


def has_paid_advance(order) -> bool:
    return order.claims.filter(kind=ClaimKind.AVANCE, status=ClaimStatus.PAID).exists()


def live_recovery(order) -> bool:
    return order.recoveries.filter(
        status__in=[RecoveryStatus.OPEN, RecoveryStatus.NOTIFIED]
    ).exists()


def live_claim(order, kind) -> bool:
    return order.claims.filter(
        kind=kind, status__in=LIVE_CLAIM_STATUSES, amends__isnull=True
    ).exists()


def told_in_time_one(order, at) -> bool:
    """SONS.md « End of réalisation, exactly »: the completion notified (its filing deposited,
    step 4), or the solde filed,
    strictly before the end of réalisation in force at `at` (at any instant when none is
    published). A VA alone does not tell the ASP."""
    deadline = deadline_for(dispositif=order.dispositif, kind=DeadlineKind.REALISATION, at=at)
    told = [
        line.filing.transmitted_at
        for line in FiledCompletion.objects.filter(notice__order=order).select_related("filing")
        if line.filing.status in (FilingStatus.TRANSMITTED, FilingStatus.ACKNOWLEDGED)
    ]
    told += [
        c.submitted_at
        for c in order.claims.filter(kind=ClaimKind.SOLDE, status__in=FILED_CLAIM_STATUSES)
    ]
    return any(deadline is None or is_in_time(instant, deadline.at) for instant in told)


def completion_due_one(order, at) -> bool:
    return order.status in OWING_DELIVERY and not told_in_time_one(order, at)


def realisation_missed_one(order, at) -> bool:
    """The prestation still owed, the end of réalisation passed, neither the completion
    notified nor the solde filed in time."""
    return deadline_passed(order, DeadlineKind.REALISATION, at) and completion_due_one(order, at)


def due_for_recovery_one(order, at) -> str | None:
    if not has_paid_advance(order) or live_recovery(order):
        return None
    if order.status == OrderStatus.DEFAULTED:
        return RecoveryCause.DEFAULT
    if order.status == OrderStatus.CANCELLED:  # cancelled or set aside after a paid avance
        return RecoveryCause.CANCELLED
    if realisation_missed_one(order, at):
        return RecoveryCause.REALISATION
    return None


def at_risk_one(order, at) -> bool:
    if order.status not in (OrderStatus.CONDITIONAL, OrderStatus.SIGNED):
        return False
    deadline = deadline_for(dispositif=order.dispositif, kind=DeadlineKind.REALISATION, at=at)
    if deadline is None or not is_in_time(at, deadline.at):
        return False
    close = deadline.at <= at + dt.timedelta(days=django_settings.ORDERS_AT_RISK_DAYS)
    return close and completion_due_one(order, at)


def missing_firm_date_one(order, at) -> bool:
    return (
        order.status == OrderStatus.SIGNED
        and deadline_passed(order, DeadlineKind.FIRM_DATE, at)
        and acceptance_instant(order) is None
        and not order.deployments.exclude(status=DeploymentStatus.ABANDONED).exists()
    )


def blocker_codes(order, at) -> set[str]:
    return {u.code for u in claim_blockers(order=order, at=at)}


def advance_admitted_one(order, at) -> bool:
    problems, _checks = claim_problems(PaymentClaim(order=order, kind=ClaimKind.AVANCE), at)
    return "order_not_signed" not in {p["code"] for p in problems}


# -- the checks ---------------------------------------------------------------------------------


def check_world(world):
    from payments.obligations import orders_concerned
    from payments.selectors import due_for_recovery
    from payments.sweep import plan
    from portal.selectors import orders_to_claim

    vendor, made, rows = build(world)
    at = world["at"]
    everything = PurchaseOrder.objects.all()
    disagreements = []

    def expect(rule, set_answer, one_answer):
        if set_answer != one_answer:
            disagreements.append(
                f"{rule}: set only {sorted(set_answer - one_answer)}, "
                f"per object only {sorted(one_answer - set_answer)}"
            )

    orders = {o.pk: PurchaseOrder.objects.select_related("dispositif").get(pk=o.pk) for o in rows}

    # Delivered: an acceptance the dispositif admits.
    not_accepted = {pk for pk, o in orders.items() if acceptance_instant(o) is None}
    expect("accepted (undelivered)", ids(undelivered(everything)), not_accepted)
    expect("accepted", ids(accepted(everything)), set(orders) - not_accepted)

    # In an unresolved conflict (open or awaiting the administration's decision): the set,
    # the solde's blockers, the avance's guard, and the rows read one by one.
    unresolved = ids(in_unresolved_conflict(everything))
    expect(
        "in unresolved conflict (claim_blockers)",
        unresolved,
        {pk for pk, o in orders.items() if CONFLICT_UNRESOLVED in blocker_codes(o, at)},
    )
    expect(
        "in unresolved conflict (avance guard)",
        unresolved,
        {
            pk
            for pk, o in orders.items()
            if CONFLICT_UNRESOLVED
            in {r.code for r in PREPARE_CLAIM[ClaimKind.AVANCE].refusals(o, at=at)}
        },
    )
    expect(
        "in unresolved conflict (rows)",
        unresolved,
        {
            p.order_id
            for p in ConflictPosition.objects.select_related("conflict")
            if p.conflict.status in (ConflictStatus.OPEN, ConflictStatus.AWAITING_DECISION)
        },
    )

    # Live deployment.
    expect(
        "live deployment",
        ids(Deployment.objects.live()),
        {d.pk for d in Deployment.objects.all() if d.status != DeploymentStatus.ABANDONED},
    )

    # At risk.
    expect(
        "at risk",
        ids(orders_at_risk(at=at)),
        {pk for pk, o in orders.items() if at_risk_one(o, at)},
    )

    # Told the ASP by the end of réalisation (completion notified or solde filed), and the
    # claim rules' reading of it on the orders signed firm.
    expect(
        "completed in time",
        ids(completed_in_time(everything, at=at)),
        {pk for pk, o in orders.items() if told_in_time_one(o, at)},
    )
    expect(
        "completion due",
        ids(completion_due(everything, at=at)),
        {pk for pk, o in orders.items() if completion_due_one(o, at)},
    )
    expect(
        "end of réalisation passed untold (claim rules)",
        {
            pk
            for pk, o in orders.items()
            if o.status == OrderStatus.SIGNED
            and "realisation_deadline_passed" in blocker_codes(o, at)
        },
        {
            pk
            for pk, o in orders.items()
            if o.status == OrderStatus.SIGNED and realisation_missed_one(o, at)
        },
    )

    # Firm date missing.
    expect(
        "firm date missing",
        ids(orders_missing_firm_date(at=at)),
        {pk for pk, o in orders.items() if missing_firm_date_one(o, at)},
    )

    # Due for recovery: the selector, the sweep's plan, the service's selection and its check
    # of one order, against the rule read on each order.
    expect(
        "realisation missed (service, one order)",
        {pk for pk, o in orders.items() if realisation_missed(o, at)},
        {pk for pk, o in orders.items() if realisation_missed_one(o, at)},
    )
    due_one = {pk: c for pk, o in orders.items() if (c := due_for_recovery_one(o, at))}
    expect(
        "due for recovery (selector)",
        {(o.pk, str(o.cause)) for o in due_for_recovery(everything, at=at)},
        {(pk, str(c)) for pk, c in due_one.items()},
    )
    moves = plan(at)
    expect(
        "due for recovery (sweep)",
        {m.object_id for m in moves if m.step == "open_recovery"},
        set(due_one),
    )
    expect("due for recovery (service)", {o.pk for o, _c in recoveries_due(at=at)}, set(due_one))
    expect(
        "recovery cause",
        {(o.pk, str(c)) for o, c in recoveries_due(at=at)},
        {(pk, str(c)) for pk, c in due_one.items()},
    )

    # Conditional orders lapse, conflicts expire, open claims go late: the deadline passed,
    # judged by `is_in_time` on each row.
    expect(
        "lapsing",
        {m.object_id for m in moves if m.step == "lapse"},
        {
            pk
            for pk, o in orders.items()
            if o.status == OrderStatus.CONDITIONAL
            and o.conditional_until is not None
            and not is_in_time(at, o.conditional_until)
        },
    )
    # A conflict's window ends when every position's own has; then it expires, or awaits a
    # decision when more than one order is kept. Each silent position is judged on its own.
    expect(
        "conflict window over",
        {m.object_id for m in moves if m.step in ("expire_conflict", "await_decision")},
        {
            c.pk
            for c in ClientConflict.objects.filter(status=ConflictStatus.OPEN)
            if all(not is_in_time(at, p.respond_by) for p in c.positions.all())
        },
    )
    expect(
        "vendor silent in its own window",
        {m.object_id for m in moves if m.step == "lose_client"},
        {
            p.order_id
            for p in ConflictPosition.objects.select_related("conflict", "order")
            if p.conflict.status == ConflictStatus.OPEN
            and p.decision == Decision.PENDING
            and not is_in_time(at, p.respond_by)
            and p.order.status in (OrderStatus.CONDITIONAL, OrderStatus.SIGNED)
        },
    )
    filing_kind = {
        ClaimKind.AVANCE: DeadlineKind.ADVANCES,
        ClaimKind.SOLDE: DeadlineKind.SOLDES,
        ClaimKind.SECONDAIRE: DeadlineKind.SOLDES,
    }
    late_claims = {
        c.pk
        for c in PaymentClaim.objects.select_related("order__dispositif")
        if c.status in (ClaimStatus.DRAFT, ClaimStatus.READY)
        and c.deadline_missed_at is None
        and deadline_passed(c.order, filing_kind[c.kind], at)
    }
    expect(
        "claim filing deadline passed (sweep)",
        {m.object_id for m in moves if m.step == "claim_deadline_missed"},
        late_claims,
    )
    # Late at the deposit instant (SONS.md, life of a Prestation, step 4): what a filing built
    # or transmitted at `at` leaves out, the `submit` guard's answer on each claim, and the
    # sweep's selection, against the deadline read on each claim; whatever its state or mark.
    from payments.selectors import filing_deadline_missed, past_filing_deadline, unfiled_claims

    late_at_deposit = {
        c.pk
        for c in PaymentClaim.objects.select_related("order__dispositif")
        if deadline_passed(c.order, filing_kind[c.kind], at)
    }
    expect(
        "claim late at the deposit instant (filing, set)",
        ids(past_filing_deadline(PaymentClaim.objects.all(), at)),
        late_at_deposit,
    )
    expect(
        "claim late at the deposit instant (submit guard, per claim)",
        {c.pk for c in PaymentClaim.objects.all() if filing_deadline_missed(c, at) is not None},
        late_at_deposit,
    )
    expect(
        "claim late: the sweep selects the unfiled among them",
        late_claims,
        late_at_deposit & ids(unfiled_claims()),
    )
    from dashboard.selectors import claims_to_file

    to_file = set()
    for dispositif in made:
        to_file |= ids(
            claims_to_file(dispositif, at, calendar_in_force(dispositif=dispositif, at=at))
        )
    expect(
        "claim still to file (dashboard)",
        to_file,
        {
            c.pk
            for c in PaymentClaim.objects.select_related("order__dispositif")
            if c.status in (ClaimStatus.DRAFT, ClaimStatus.READY)
            and c.filing_id is None
            and c.deadline_missed_at is None
            and not deadline_passed(c.order, filing_kind[c.kind], at)
        },
    )

    # Claimable: the portal's lists and the claim rules read on each order.
    expect(
        "admits an avance (portal)",
        ids(orders_to_claim(vendor, ClaimKind.AVANCE)),
        {
            pk
            for pk, o in orders.items()
            if not live_claim(o, ClaimKind.AVANCE) and advance_admitted_one(o, at)
        },
    )
    expect(
        "claimable solde (portal)",
        ids(orders_to_claim(vendor, ClaimKind.SOLDE)),
        {
            pk
            for pk, o in orders.items()
            if not live_claim(o, ClaimKind.SOLDE)
            and not blocker_codes(o, at) & {"order_not_signed", "acceptance_missing"}
        },
    )

    # Concerned by a deadline: the orders the reminders and the portal name.
    expect(
        "concerned by the firm date",
        ids(orders_concerned(DeadlineKind.FIRM_DATE)),
        {
            pk
            for pk, o in orders.items()
            if o.status == OrderStatus.SIGNED
            and pk in not_accepted
            and not o.deployments.exclude(status=DeploymentStatus.ABANDONED).exists()
        },
    )
    now = timezone.now()
    expect(
        "concerned by the end of réalisation",
        ids(orders_concerned(DeadlineKind.REALISATION, at=now)),
        {pk for pk, o in orders.items() if completion_due_one(o, now)},
    )
    expect(
        "concerned by the end of avances",
        ids(orders_concerned(DeadlineKind.ADVANCES)),
        {
            pk
            for pk, o in orders.items()
            if advance_admitted_one(o, at)
            and not o.claims.filter(
                kind=ClaimKind.AVANCE,
                status__in=[ClaimStatus.SUBMITTED, ClaimStatus.VALIDATED, ClaimStatus.PAID],
            ).exists()
        },
    )
    return disagreements


@given(world=worlds)
@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_set_and_per_object_answers_agree(world):
    with transaction.atomic():
        disagreements = check_world(world)
        transaction.set_rollback(True)
    assert not disagreements, "\n".join(disagreements)
