"""Readers of the lifecycle; `claim_blockers` is the one answer to « may this be claimed now? »."""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import SimpleNamespace

from django.conf import settings
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    BooleanField,
    Exists,
    Expression,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.sql.compiler import SQLCompiler
from django.utils.translation import gettext as _

from catalogue.deadlines import DeadlineKind, format_deadline, start_of_day_paris
from catalogue.models import Acceptance, Dispositif, Prestation, Tariff, UsageGate
from catalogue.selectors import (
    AppliedDeadline,
    deadline_for,
    deadline_in_force_at,
    is_past,
    is_upcoming,
    judged_day,
    passed_deadlines,
    upcoming_deadlines,
)

from .models import (
    UNRESOLVED_CONFLICT_STATUSES,
    ClientConflict,
    CompletionNotice,
    ConflictPosition,
    ConflictStatus,
    Decision,
    Deployment,
    MomDeclaration,
    OnPreseries,
    OrderStatus,
    PilotPerimeter,
    PilotSite,
    PilotStatus,
    PreseriesStatus,
    PurchaseOrder,
    UsageMeasurement,
    VaStatus,
    VerificationAptitude,
)
from .rules import (
    ACCEPTED_KINDS,
    GateOutcome,
    MonthUsage,
    accepts,
    describe_months,
    earliest_acceptance,
    evaluate_usage_gate,
    percent_fr,
)

# Orders whose prestation is still owed: the end of réalisation concerns them, they can be at
# risk, and missing it with nothing told to the ASP (`completion_due`) is the « réalisation »
# cause of a recovery.
OWING_DELIVERY = [OrderStatus.CONDITIONAL, OrderStatus.SIGNED]


@dataclass(frozen=True)
class Unmet:
    """A condition that stops a claim: a stable code for machines, a French sentence for people."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


# -- usage gates: the outcome and the monthly figures beside it ------------------------------


def usage_gate_outcomes(
    order: PurchaseOrder, *, prestation: str | None = None, measured: bool = True
) -> list[tuple[UsageGate, GateOutcome]]:
    """Each usage gate of the order's dispositif (of one prestation, or all) judged on the
    order's monthly measurements: what `claim_blockers`, the portal and the admin show.
    `measured=False`: the caller knows the order has no measurement (none is read)."""
    gates = order.dispositif.usage_gates.order_by("prestation", "pk")
    if prestation is not None:
        gates = gates.filter(prestation=prestation)
    gates = list(gates)
    if not gates:
        return []
    rows = order.usage.all() if measured else ()
    months = [MonthUsage(month=m.month, produced=m.produced, sent=m.sent) for m in rows]
    return [
        (
            gate,
            evaluate_usage_gate(
                indicator=gate.indicator,
                comparison=gate.comparison,
                threshold=gate.threshold,
                observation_months=gate.observation_months,
                months=months,
                reading=gate.reading,
            ),
        )
        for gate in gates
    ]


def usage_gate_report(order: PurchaseOrder) -> list[dict]:
    """The usage gates of an order for a page: outcome, sentence and one row per month."""
    return [
        {
            "label": gate.label,
            "prestation": gate.get_prestation_display(),
            "reading": gate.get_reading_display(),
            "met": outcome.met,
            "observed": outcome.observed,
            "months": [
                {
                    "month": usage.month,
                    "produced": usage.produced,
                    "sent": usage.sent,
                    "rate": percent_fr(usage.rate) if usage.rate is not None else "—",
                }
                for usage in outcome.months
            ],
        }
        for gate, outcome in usage_gate_outcomes(order)
    ]


def usage_gate_sentence(gate: UsageGate, outcome: GateOutcome) -> str:
    """« label : what was observed. Mois : 01/2026 : 61 envoyés / 100 produits (61 %) ; … »"""
    sentence = _("%(label)s : %(observed)s.") % {"label": gate.label, "observed": outcome.observed}
    if outcome.months:
        sentence += " " + _("Mois : %(months)s.") % {"months": describe_months(outcome.months)}
    return sentence


# -- delivered: an acceptance the order's dispositif admits -----------------------------------


def _acceptances_on_file() -> dict[str, QuerySet]:
    """Per kind of acceptance document, those on file for the outer order (at most one each:
    one live VA, one MOM, one pilot site per order)."""
    return {
        "va": VerificationAptitude.objects.filter(order=OuterRef("pk"), status=VaStatus.SIGNED),
        "mom": MomDeclaration.objects.filter(order=OuterRef("pk")),
        "pilot_pv": PilotSite.objects.filter(order=OuterRef("pk"), pv_signed_on__isnull=False),
    }


_ACCEPTANCE_FIELD = {"va": "decision__decided_at", "mom": "declared_at", "pilot_pv": "pv_signed_on"}


def requirements_accepting(kind: str) -> list[str]:
    """The dispositif acceptance codes under which a document of `kind` accepts a delivery."""
    return [code for code in ACCEPTED_KINDS if accepts(code, kind)]


def accepted_condition() -> Q:
    """« Delivered », as a condition on orders: an acceptance document is on file of a kind its
    dispositif admits (`sons.rules.accepts`). `accepted` and `undelivered` filter on it;
    `with_acceptance` annotates the same documents for `acceptance_of`, which applies the same
    `accepts` (tests/sons/test_predicates.py checks that both answers agree)."""
    return functools.reduce(
        operator.or_,
        (
            Q(dispositif__acceptance__in=requirements_accepting(kind)) & Exists(documents)
            for kind, documents in _acceptances_on_file().items()
        ),
    )


def accepted(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """Those of `orders` whose delivery is accepted as their dispositif requires."""
    return orders.filter(accepted_condition())


def undelivered(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """Those of `orders` with no acceptance on file that their dispositif admits."""
    return orders.exclude(accepted_condition())


def with_acceptance(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """`orders` annotated with what `acceptance_of` reads: the instant of each kind of
    acceptance document on file and what the dispositif requires (one query for any number)."""
    return orders.annotate(
        acceptance_required=F("dispositif__acceptance"),
        **{
            f"acceptance_{kind}": Subquery(documents.values(_ACCEPTANCE_FIELD[kind])[:1])
            for kind, documents in _acceptances_on_file().items()
        },
    )


def acceptance_of(order: PurchaseOrder) -> tuple[str, dt.datetime] | None:
    """The acceptance that counts (kind, instant) on an order read through `with_acceptance`;
    None exactly when `accepted_condition` does not hold for it."""
    pilot_pv = order.acceptance_pilot_pv
    return earliest_acceptance(
        order.acceptance_required,
        {
            "va": order.acceptance_va,
            "mom": order.acceptance_mom,
            "pilot_pv": start_of_day_paris(pilot_pv) if pilot_pv is not None else None,
        },
    )


def acceptance_instant(order: PurchaseOrder) -> tuple[str, dt.datetime] | None:
    """The acceptance on file for the order (kind, instant), as its dispositif requires it."""
    return acceptance_of(with_acceptance(PurchaseOrder.objects.filter(pk=order.pk)).get())


def _acceptance_missing_message(dispositif: Dispositif) -> str:
    return {
        Acceptance.VA: _("La VA signée par le client est requise."),
        Acceptance.MOM: _("La déclaration de mise en ordre de marche (MOM) est requise."),
        Acceptance.PILOT_PV: _(
            "La VA signée par le client (ou, pour un site pilote, son PV d'installation) "
            "est requise."
        ),
    }.get(dispositif.acceptance, _("La VA signée par le client ou la MOM est requise."))


def with_claim_facts(
    orders: QuerySet[PurchaseOrder],
    *,
    day: dt.date | Expression,
    prestation: str = Prestation.MAIN,
) -> QuerySet[PurchaseOrder]:
    """`orders` annotated with every fact `claim_blockers` judges, in one query for any number:
    the end of réalisation and of soldes in force on `day` for the order's dispositif (the Paris
    day of the instant judged, `judged_day`: `deadline_in_force_at`, NULL when none is
    published), the acceptance on file (`with_acceptance`), an unresolved conflict
    (`unresolved_conflict_exists`), completion told before that end of réalisation
    (`_told_before`, what `completed_in_time` applies), the validated preseries, the pilot's
    site and published perimeter, the usage gates of the dispositif and the order's
    measurements, the secondary tariff of the dispositif."""
    return with_acceptance(orders).annotate(
        claim_realisation_at=deadline_in_force_at(kind=DeadlineKind.REALISATION, day=day),
        claim_soldes_at=deadline_in_force_at(kind=DeadlineKind.SOLDES, day=day),
        claim_in_conflict=unresolved_conflict_exists(),
        claim_told_in_time=ExpressionWrapper(
            _told_before(OuterRef("claim_realisation_at")), output_field=BooleanField()
        ),
        claim_preseries_validated=Exists(
            OnPreseries.objects.filter(
                solution_version=OuterRef("solution_version"), status=PreseriesStatus.VALIDATED
            )
        ),
        claim_pilot_site=Exists(PilotSite.objects.filter(order=OuterRef("pk"))),
        claim_pilot_published=Exists(
            PilotPerimeter.objects.filter(
                referencing_id=OuterRef("referencing_id"), status=PilotStatus.PUBLISHED
            )
        ),
        claim_has_gates=Exists(
            UsageGate.objects.filter(dispositif=OuterRef("dispositif"), prestation=prestation)
        ),
        claim_usage_measured=Exists(UsageMeasurement.objects.filter(order=OuterRef("pk"))),
        claim_secondary_tariff=Exists(
            Tariff.objects.filter(
                dispositif=OuterRef("dispositif"), prestation=Prestation.SECONDARY
            )
        ),
    )


def _order_param(order_id: int, connection: BaseDatabaseWrapper) -> object:
    return PurchaseOrder._meta.pk.get_db_prep_value(order_id, connection)


def _day_param(day: dt.date, connection: BaseDatabaseWrapper) -> object:
    return connection.ops.adapt_datefield_value(day)


@dataclass(frozen=True)
class _FactsStatement:
    """`with_claim_facts` of one order on one day, compiled: its SQL, its parameters, where the
    order's id and the day go among them, and the compiler that converts the row it returns."""

    sql: str
    params: tuple
    order_slots: tuple[int, ...]
    day_slots: tuple[int, ...]
    names: tuple[str, ...]
    compiler: SQLCompiler

    def read(self, order_id: int, day: dt.date) -> dict:
        """The facts of the order `order_id` judged on Paris day `day`, by name."""
        connection = connections[self.compiler.using]
        params = list(self.params)
        for slot in self.order_slots:
            params[slot] = _order_param(order_id, connection)
        for slot in self.day_slots:
            params[slot] = _day_param(day, connection)
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if len(rows) != 1:
            raise PurchaseOrder.DoesNotExist(order_id)
        (row,) = self.compiler.results_iter(results=[rows])
        return dict(zip(self.names, row, strict=True))


@functools.lru_cache(maxsize=8)
def _claim_facts(prestation: str, using: str) -> _FactsStatement:
    """`with_claim_facts` of one order, compiled once per prestation and database: building
    and compiling its sub-queries costs more than running them (the deadlines in force are
    sub-queries of the day, never values kept). The order's id and the day are parameters:
    those that change between compilations with another order, or another day."""

    def compiled(order_id: int, day: dt.date) -> tuple[str, tuple, tuple[str, ...], SQLCompiler]:
        annotated = with_claim_facts(
            PurchaseOrder.objects.filter(pk=order_id), day=day, prestation=prestation
        )
        names = tuple(annotated.query.annotations)
        compiler = annotated.values(*names).order_by().query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        return sql, tuple(params), names, compiler

    order_id, day = 1, dt.date(2000, 1, 1)
    sql, params, names, compiler = compiled(order_id, day)
    other_order, other_day = compiled(2, day), compiled(order_id, dt.date(2001, 2, 2))

    def slots(other: tuple[str, tuple, tuple[str, ...], SQLCompiler], value: object) -> tuple:
        if other[0] != sql or len(other[1]) != len(params):
            raise RuntimeError("with_claim_facts must compile to the same statement.")
        found = tuple(i for i, (a, b) in enumerate(zip(params, other[1], strict=True)) if a != b)
        if not found or any(params[i] != value for i in found):
            raise RuntimeError("with_claim_facts: a parameter not found in its SQL.")
        return found

    connection = connections[using]
    return _FactsStatement(
        sql,
        params,
        slots(other_order, _order_param(order_id, connection)),
        slots(other_day, _day_param(day, connection)),
        names,
        compiler,
    )


def claim_blockers(
    *, order: PurchaseOrder, at: dt.datetime, prestation: str = Prestation.MAIN
) -> list[Unmet]:
    """Every condition that stops claiming the solde (or the secondary prestation) at `at`.

    An empty list means the claim may be filed. Payments call this and nothing else. The
    dispositif's two deadlines in force and the order's facts are read in one statement
    (`with_claim_facts`, compiled once per process and prestation: `_claim_facts`); the usage
    gates only when the dispositif has some, the order's months only when it has measurements.
    """
    dispositif = order.dispositif
    unmet: list[Unmet] = []
    statement = _claim_facts(prestation, router.db_for_read(PurchaseOrder))
    facts = SimpleNamespace(**statement.read(order.pk, judged_day(at)))

    if order.status != OrderStatus.SIGNED:
        unmet.append(
            Unmet(
                "order_not_signed",
                _("Le BDC n'est pas signé ferme (état : %(state)s).")
                % {"state": order.get_status_display()},
            )
        )
    if facts.claim_in_conflict:
        unmet.append(Unmet(CONFLICT_UNRESOLVED, conflict_unresolved_message()))

    if acceptance_of(facts) is None:
        unmet.append(Unmet("acceptance_missing", _acceptance_missing_message(dispositif)))
    # SONS.md « End of réalisation, exactly » (COSUI of 5 April 2023): by the end of réalisation
    # the vendor has filed its solde or notified the completion; the VA may follow it.
    if is_past(facts.claim_realisation_at, at) and not facts.claim_told_in_time:
        unmet.append(
            Unmet(
                "realisation_deadline_passed",
                _(
                    "Ni l'achèvement de la prestation notifié à l'ASP, ni la demande de solde "
                    "déposée avant la fin de réalisation (%(deadline)s)."
                )
                % {"deadline": format_deadline(facts.claim_realisation_at)},
            )
        )

    if dispositif.requires_on_preseries and not facts.claim_preseries_validated:
        unmet.append(
            Unmet(
                "on_preseries_not_validated",
                _("La présérie Ordonnance numérique de %(version)s n'est pas validée.")
                % {"version": order.solution_version},
            )
        )

    if dispositif.pilot_size and not facts.claim_pilot_site and not facts.claim_pilot_published:
        unmet.append(
            Unmet(
                "pilot_not_published",
                _("Le succès du pilote de cette solution n'est pas encore publié par l'ANS."),
            )
        )

    gates = (
        usage_gate_outcomes(order, prestation=prestation, measured=facts.claim_usage_measured)
        if facts.claim_has_gates
        else []
    )
    if gates:
        for gate, outcome in gates:
            if not outcome.met:
                unmet.append(Unmet("usage_gate_unmet", usage_gate_sentence(gate, outcome)))
    elif prestation == Prestation.SECONDARY and not facts.claim_secondary_tariff:
        unmet.append(
            Unmet(
                "no_secondary_prestation",
                _("Le dispositif %(code)s n'a pas de prestation secondaire.")
                % {"code": dispositif.code},
            )
        )

    if is_past(facts.claim_soldes_at, at):
        unmet.append(
            Unmet(
                "soldes_deadline_passed",
                _("Les demandes de solde devaient être déposées avant le %(deadline)s.")
                % {"deadline": format_deadline(facts.claim_soldes_at)},
            )
        )
    return unmet


def orders_missing_firm_date(*, at: dt.datetime) -> QuerySet[PurchaseOrder]:
    """Undelivered signed orders with no confirmed firm date, past the firm-date deadline."""
    late_dispositifs = [
        d.pk
        for d, _deadline in passed_deadlines(
            dispositifs=with_orders_in([OrderStatus.SIGNED]),
            kind=DeadlineKind.FIRM_DATE,
            at=at,
        )
    ]
    return without_firm_date(PurchaseOrder.objects.filter(dispositif__in=late_dispositifs))


def without_firm_date(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """Those of `orders` signed, not delivered, with no live deployment (so no firm date
    confirmed to the client): what the firm-date deadline concerns."""
    return undelivered(orders.filter(status=OrderStatus.SIGNED)).exclude(
        Exists(Deployment.objects.live().filter(order=OuterRef("pk")))
    )


# -- completed by the end of réalisation --------------------------------------------------------
#
# SONS.md, « End of réalisation, exactly » (seed 003, COSUI of 5 April 2023): by the end of
# réalisation the vendor must have filed its demande de solde or notified the ASP of the
# completion of its prestation; the client's checks and the VA may follow. What tells the ASP is
# a registry of « evidence »: sons' own completion notice below, and the solde filed, which
# payments (an app above sons) registers at start-up (payments/history.py's `register`).


@dataclass(frozen=True)
class CompletionEvidence:
    """A kind of row that tells the ASP a prestation is complete: `rows()` are those of the
    outer order (`OuterRef("pk")`), `instant` the field saying when the ASP was told,
    `dispositif` the path to the order's dispositif on such a row: `_evidence_before` matches
    it to the outer order's, so that rows indexed by (dispositif, order) are read from the part
    of their index of the dispositifs judged."""

    rows: Callable[[], QuerySet]
    instant: str
    dispositif: str


_COMPLETION_EVIDENCE: dict[str, CompletionEvidence] = {}


def register_completion_evidence(
    name: str, *, rows: Callable[[], QuerySet], instant: str, dispositif: str = "dispositif"
) -> None:
    """Adds a kind of evidence of completion (once per name; called at start-up)."""
    _COMPLETION_EVIDENCE[name] = CompletionEvidence(rows, instant, dispositif)


register_completion_evidence(
    "completion_notice",
    rows=lambda: CompletionNotice.objects.filter(order=OuterRef("pk")),
    instant="notified_at",
    dispositif="order__dispositif",
)


# Later than any instant on file: what an evidence's instant is compared with when no end of
# réalisation is published (any evidence then counts, as with `deadline_at=None`).
NO_END = dt.datetime.max.replace(tzinfo=dt.UTC)


def _evidence_before(
    deadline_at: dt.datetime | F | Expression | None, dispositifs: list[int] | None = None
) -> list[Exists]:
    """Each kind of evidence of completion of the outer order on file, given strictly before
    `deadline_at` (`is_in_time`); any when no end of réalisation is published (None, or an
    expression giving NULL: the deadline in force read in the same query). `dispositifs`: those
    of the outer orders, when the caller knows them (the evidence read is only theirs)."""
    if deadline_at is not None and not isinstance(deadline_at, dt.datetime):
        deadline_at = Coalesce(deadline_at, Value(NO_END))
    found = []
    for evidence in _COMPLETION_EVIDENCE.values():
        rows = evidence.rows().filter(**{evidence.dispositif: OuterRef("dispositif")})
        if deadline_at is not None:
            rows = rows.filter(**{f"{evidence.instant}__lt": deadline_at})
        if dispositifs is not None:
            rows = rows.filter(**{f"{evidence.dispositif}__in": dispositifs})
        found.append(Exists(rows))
    return found


def _told_before(
    deadline_at: dt.datetime | F | Expression | None, dispositifs: list[int] | None = None
) -> Q:
    """Some evidence of completion of the outer order is on file, given strictly before
    `deadline_at` (`is_in_time`); any when no end of réalisation is published."""
    return functools.reduce(
        operator.or_, (Q(e) for e in _evidence_before(deadline_at, dispositifs))
    )


# The end of réalisation in force of each dispositif concerned, as a caller that has just read
# them passes them on (`upcoming_deadlines`, `passed_deadlines`): not read a second time.
Realisations = list[tuple[Dispositif, AppliedDeadline | None]]


def completed_in_time(
    orders: QuerySet[PurchaseOrder], *, at: dt.datetime, realisations: Realisations | None = None
) -> QuerySet[PurchaseOrder]:
    """Those of `orders` whose completion was notified to the ASP, or whose solde was filed,
    before the end of réalisation in force at `at` (when none is published, at any instant).
    One deadline lookup per dispositif concerned, unless the caller gives them."""
    condition = _completed_in_time_condition(_realisation_deadlines(orders, at, realisations))
    return orders.none() if condition is None else orders.filter(condition)


def _realisation_deadlines(
    orders: QuerySet[PurchaseOrder], at: dt.datetime, realisations: Realisations | None
) -> dict[dt.datetime | None, list[int]]:
    """The dispositifs of `orders` by the end of réalisation in force at `at` (None: none
    published): as given, or one deadline lookup per dispositif concerned."""
    if realisations is None:
        realisations = [
            (d, deadline_for(dispositif=d, kind=DeadlineKind.REALISATION, at=at))
            for d in Dispositif.objects.filter(
                Exists(orders.filter(dispositif=OuterRef("pk")))
            ).only("pk")
        ]
    by_deadline: dict[dt.datetime | None, list[int]] = defaultdict(list)
    for dispositif, deadline in realisations:
        by_deadline[deadline.at if deadline is not None else None].append(dispositif.pk)
    return by_deadline


def _completed_in_time_condition(
    by_deadline: dict[dt.datetime | None, list[int]],
) -> Q | None:
    """`completed_in_time` as a condition on the rows themselves (None: no order concerned), so
    that `completion_due` excludes on it row by row instead of through a NOT IN of every key."""
    if not by_deadline:
        return None
    return functools.reduce(
        operator.or_,
        (
            Q(dispositif__in=pks) & _told_before(deadline_at, pks)
            for deadline_at, pks in by_deadline.items()
        ),
    )


def order_completed_in_time(order: PurchaseOrder, *, at: dt.datetime) -> bool:
    """`completed_in_time` read on one order."""
    return completed_in_time(PurchaseOrder.objects.filter(pk=order.pk), at=at).exists()


def completion_due(
    orders: QuerySet[PurchaseOrder], *, at: dt.datetime, realisations: Realisations | None = None
) -> QuerySet[PurchaseOrder]:
    """Those of `orders` that still owe the prestation and have told the ASP nothing in time:
    no completion notified, no solde filed before the end of réalisation in force at `at`.
    What the end of réalisation concerns (reminders, the portal's to-do), what is at risk when
    it is near (`orders_at_risk`), and, once it has passed, the « réalisation » cause of a
    recovery (`realisation_missed`). A signed VA alone does not count: the ASP must be told.
    `realisations`: the ends of réalisation of the dispositifs of `orders`, when the caller
    has read them."""
    owing = orders.filter(status__in=OWING_DELIVERY)
    by_deadline = _realisation_deadlines(owing, at, realisations)
    if len(by_deadline) == 1:
        # Every order concerned answers to one deadline (always so for one dispositif): no
        # evidence of any kind, each a NOT EXISTS of its own, which PostgreSQL runs as an
        # anti-join probing the order's evidence (a NOT over an OR of EXISTS never becomes one:
        # it hashes every piece of evidence on file first, 0.3–1 s at 300,000 orders).
        ((deadline_at, pks),) = by_deadline.items()
        return owing.filter(*(~evidence for evidence in _evidence_before(deadline_at, pks)))
    told = _completed_in_time_condition(by_deadline)
    return owing if told is None else owing.exclude(told)


def orders_at_risk(
    *,
    at: dt.datetime,
    dispositifs: QuerySet[Dispositif] | None = None,
    realisations: Realisations | None = None,
) -> QuerySet[PurchaseOrder]:
    """Orders whose completion is still due (`completion_due`: neither notified nor soldée)
    when the end of réalisation in force is less than `settings.ORDERS_AT_RISK_DAYS` days
    ahead: the ones administrators must chase. Of `dispositifs` (every one when None), their
    ends of réalisation read here; or of the dispositifs of `realisations`, when the caller has
    their calendar in hand (the dashboard's page of a dispositif)."""
    within = dt.timedelta(days=settings.ORDERS_AT_RISK_DAYS)
    if realisations is not None:
        close = [(d, end) for d, end in realisations if is_upcoming(end, at=at, within=within)]
    else:
        if dispositifs is None:
            dispositifs = Dispositif.objects.all()
        close = upcoming_deadlines(
            dispositifs=dispositifs.filter(pk__in=with_orders_in(OWING_DELIVERY).values("pk")),
            kind=DeadlineKind.REALISATION,
            at=at,
            within=within,
        )
    return completion_due(
        PurchaseOrder.objects.filter(dispositif__in=[d.pk for d, _deadline in close]),
        at=at,
        realisations=close,
    )


@dataclass(frozen=True)
class RealisationJudged:
    """The orders an end of réalisation concerns, as judged at an instant: those that told the
    ASP in time (completion notified, or solde filed) and those whose completion is due."""

    dispositif: Dispositif
    deadline: AppliedDeadline
    passed: bool
    told: QuerySet[PurchaseOrder]
    due: QuerySet[PurchaseOrder]


def realisation_judged(*, at: dt.datetime, within: dt.timedelta) -> list[RealisationJudged]:
    """Per dispositif whose end of réalisation in force at `at` has passed or comes within
    `within`, its orders still owing the prestation split by `completed_in_time` and
    `completion_due` (the sweep's dry run says it; the same predicates as everywhere)."""
    dispositifs = with_orders_in(OWING_DELIVERY)
    found = [
        (d, deadline, True)
        for d, deadline in passed_deadlines(
            dispositifs=dispositifs, kind=DeadlineKind.REALISATION, at=at
        )
    ]
    found += [
        (d, deadline, False)
        for d, deadline in upcoming_deadlines(
            dispositifs=dispositifs, kind=DeadlineKind.REALISATION, at=at, within=within
        )
    ]
    judged = []
    for dispositif, deadline, passed in sorted(found, key=lambda f: f[0].code):
        owing = PurchaseOrder.objects.filter(dispositif=dispositif, status__in=OWING_DELIVERY)
        judged.append(
            RealisationJudged(
                dispositif,
                deadline,
                passed,
                completed_in_time(owing, at=at, realisations=[(dispositif, deadline)]),
                completion_due(owing, at=at, realisations=[(dispositif, deadline)]),
            )
        )
    return judged


def realisation_missed(
    orders: QuerySet[PurchaseOrder], *, at: dt.datetime
) -> QuerySet[PurchaseOrder]:
    """Those of `orders` whose end of réalisation in force has passed at `at` with their
    completion still due (`completion_due`: neither notified nor soldée in time): the
    « réalisation » cause of a recovery. One deadline lookup per dispositif concerned."""
    owing = orders.filter(status__in=OWING_DELIVERY)
    late = passed_deadlines(
        dispositifs=Dispositif.objects.filter(Exists(owing.filter(dispositif=OuterRef("pk")))),
        kind=DeadlineKind.REALISATION,
        at=at,
    )
    return completion_due(
        orders.filter(dispositif__in=[d.pk for d, _deadline in late]), at=at, realisations=late
    )


# -- in an unresolved conflict ------------------------------------------------------------------

CONFLICT_UNRESOLVED = "conflict_unresolved"


def conflict_unresolved_message() -> str:
    """The one sentence every claim path gives for `CONFLICT_UNRESOLVED`."""
    return _(
        "Un autre fournisseur revendique ce client sur ce dispositif : aucune demande de "
        "paiement tant que le conflit n'est pas réglé ou tranché par l'administration (ASP)."
    )


def order_in_unresolved_conflict(order: PurchaseOrder) -> bool:
    """`in_unresolved_conflict` read on one order."""
    return in_unresolved_conflict(PurchaseOrder.objects.filter(pk=order.pk)).exists()


# -- deadlines passed on a row's own instant (`is_in_time` as a condition: passed when the
# deadline is at or before the instant judged) ---------------------------------------------------


def expired_conflicts(*, at: dt.datetime) -> QuerySet[ClientConflict]:
    """Open conflicts whose window is over at `at`: every position's own 10 working days are
    (`not is_in_time(at, position.respond_by)` for each)."""
    running = ConflictPosition.objects.filter(conflict=OuterRef("pk"), respond_by__gt=at)
    return ClientConflict.objects.filter(status=ConflictStatus.OPEN).exclude(Exists(running))


def silent_positions(*, at: dt.datetime) -> QuerySet[ConflictPosition]:
    """Positions in open conflicts whose vendor did not answer within its own 10 working days
    and whose order can still be withdrawn: the sweep withdraws them (the vendor loses the
    client), each judged against its own deadline."""
    return ConflictPosition.objects.filter(
        conflict__status=ConflictStatus.OPEN,
        decision=Decision.PENDING,
        respond_by__lte=at,
        order__status__in=[OrderStatus.CONDITIONAL, OrderStatus.SIGNED],
    )


def conflicts_awaiting_decision() -> QuerySet[ClientConflict]:
    """Conflicts where more than one vendor kept its order: an administration's decision is
    due (the dashboard lists them, `decide_conflict` ends them)."""
    return ClientConflict.objects.filter(status=ConflictStatus.AWAITING_DECISION)


def lapsing_orders(*, at: dt.datetime) -> QuerySet[PurchaseOrder]:
    """Conditional orders whose referencing was due by `at` and did not come
    (`not is_in_time(at, conditional_until)`)."""
    return PurchaseOrder.objects.filter(status=OrderStatus.CONDITIONAL, conditional_until__lte=at)


def with_orders_in(statuses: list[str]) -> QuerySet[Dispositif]:
    """The dispositifs with at least one order in one of `statuses` (a semi-join: one probe
    per dispositif, never a join over every order)."""
    return Dispositif.objects.filter(
        Exists(PurchaseOrder.objects.filter(dispositif=OuterRef("pk"), status__in=statuses))
    )


def order_by_reference(reference: str) -> PurchaseOrder | None:
    """The order named « BDC-00000012 » (its reference is derived from its id)."""
    prefix, _sep, number = reference.strip().upper().partition("-")
    if prefix != "BDC" or not number.isdigit():
        return None
    return PurchaseOrder.objects.filter(pk=int(number)).first()


def in_unresolved_conflict(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """Those of `orders` that hold a position in a conflict not yet resolved (open, or awaiting
    the administration's decision): another vendor claims the client in the same dispositif,
    and no claim may be made ready or filed until it is settled or decided (SONS.md, step 3)."""
    return orders.filter(unresolved_conflict_exists())


def unresolved_conflict_exists() -> Exists:
    """The outer order (`OuterRef("pk")`) holds a position in a conflict not yet resolved."""
    return Exists(
        ConflictPosition.objects.filter(
            order=OuterRef("pk"), conflict__status__in=UNRESOLVED_CONFLICT_STATUSES
        )
    )
