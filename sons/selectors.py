"""Readers of the lifecycle; `claim_blockers` is the one answer to « may this be claimed now? »."""

from __future__ import annotations

import datetime as dt
import functools
import operator
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from catalogue.deadlines import DeadlineKind, format_paris, is_in_time, start_of_day_paris
from catalogue.models import Acceptance, Dispositif, Prestation
from catalogue.selectors import (
    deadline_for,
    deadline_passed,
    passed_deadlines,
    upcoming_deadlines,
)

from .models import (
    ClientConflict,
    ConflictPosition,
    ConflictStatus,
    Deployment,
    MomDeclaration,
    OnPreseries,
    OrderStatus,
    PilotPerimeter,
    PilotSite,
    PilotStatus,
    PreseriesStatus,
    PurchaseOrder,
    VaStatus,
    VerificationAptitude,
)
from .rules import ACCEPTED_KINDS, MonthUsage, accepts, earliest_acceptance, evaluate_usage_gate

# Orders whose prestation is still owed: the end of réalisation concerns them, they can be at
# risk, and missing it with no acceptance is the « réalisation » cause of a recovery.
OWING_DELIVERY = [OrderStatus.CONDITIONAL, OrderStatus.SIGNED]


@dataclass(frozen=True)
class Unmet:
    """A condition that stops a claim: a stable code for machines, a French sentence for people."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


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


def claim_blockers(
    *, order: PurchaseOrder, at: dt.datetime, prestation: str = Prestation.MAIN
) -> list[Unmet]:
    """Every condition that stops claiming the solde (or the secondary prestation) at `at`.

    An empty list means the claim may be filed. Payments call this and nothing else.
    """
    dispositif = order.dispositif
    unmet: list[Unmet] = []

    if order.status != OrderStatus.SIGNED:
        unmet.append(
            Unmet(
                "order_not_signed",
                _("Le BDC n'est pas signé ferme (état : %(state)s).")
                % {"state": order.get_status_display()},
            )
        )
    if order_in_open_conflict(order):
        unmet.append(
            Unmet(
                "conflict_open",
                _("Un autre fournisseur revendique ce client : le conflit doit être réglé."),
            )
        )

    accepted = acceptance_instant(order)
    realisation = deadline_for(dispositif=dispositif, kind=DeadlineKind.REALISATION, at=at)
    if accepted is None:
        unmet.append(Unmet("acceptance_missing", _acceptance_missing_message(dispositif)))
        if realisation is not None and not is_in_time(at, realisation.at):
            unmet.append(
                Unmet(
                    "realisation_deadline_passed",
                    _("La réalisation devait être achevée avant le %(deadline)s.")
                    % {"deadline": format_paris(realisation.at)},
                )
            )
    elif realisation is not None and not is_in_time(accepted[1], realisation.at):
        unmet.append(
            Unmet(
                "acceptance_after_realisation",
                _("La recette (%(when)s) est postérieure à la fin de réalisation (%(deadline)s).")
                % {"when": format_paris(accepted[1]), "deadline": format_paris(realisation.at)},
            )
        )

    if (
        dispositif.requires_on_preseries
        and not OnPreseries.objects.filter(
            solution_version=order.solution_version, status=PreseriesStatus.VALIDATED
        ).exists()
    ):
        unmet.append(
            Unmet(
                "on_preseries_not_validated",
                _("La présérie Ordonnance numérique de %(version)s n'est pas validée.")
                % {"version": order.solution_version},
            )
        )

    if dispositif.pilot_size and not PilotSite.objects.filter(order=order).exists():
        published = PilotPerimeter.objects.filter(
            referencing_id=order.referencing_id, status=PilotStatus.PUBLISHED
        ).exists()
        if not published:
            unmet.append(
                Unmet(
                    "pilot_not_published",
                    _("Le succès du pilote de cette solution n'est pas encore publié par l'ANS."),
                )
            )

    gates = list(dispositif.usage_gates.filter(prestation=prestation))
    if gates:
        months = [
            MonthUsage(month=m.month, produced=m.produced, sent=m.sent) for m in order.usage.all()
        ]
        for gate in gates:
            outcome = evaluate_usage_gate(
                indicator=gate.indicator,
                comparison=gate.comparison,
                threshold=gate.threshold,
                observation_months=gate.observation_months,
                months=months,
            )
            if not outcome.met:
                unmet.append(
                    Unmet(
                        "usage_gate_unmet",
                        _("%(label)s : %(observed)s.")
                        % {"label": gate.label, "observed": outcome.observed},
                    )
                )
    elif (
        prestation == Prestation.SECONDARY
        and not dispositif.tariffs.filter(prestation=Prestation.SECONDARY).exists()
    ):
        unmet.append(
            Unmet(
                "no_secondary_prestation",
                _("Le dispositif %(code)s n'a pas de prestation secondaire.")
                % {"code": dispositif.code},
            )
        )

    soldes = deadline_passed(dispositif=dispositif, kind=DeadlineKind.SOLDES, at=at)
    if soldes is not None:
        unmet.append(
            Unmet(
                "soldes_deadline_passed",
                _("Les demandes de solde devaient être déposées avant le %(deadline)s.")
                % {"deadline": format_paris(soldes.at)},
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


def awaiting_delivery(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """Those of `orders` that still owe the prestation and have no acceptance on file: what
    the end of réalisation concerns."""
    return undelivered(orders.filter(status__in=OWING_DELIVERY))


def orders_at_risk(
    *, at: dt.datetime, dispositifs: QuerySet[Dispositif] | None = None
) -> QuerySet[PurchaseOrder]:
    """Orders awaiting delivery when the end of réalisation in force is less than
    `settings.ORDERS_AT_RISK_DAYS` days ahead: the ones administrators must chase."""
    if dispositifs is None:
        dispositifs = Dispositif.objects.all()
    close = [
        d.pk
        for d, _deadline in upcoming_deadlines(
            dispositifs=dispositifs.filter(pk__in=with_orders_in(OWING_DELIVERY).values("pk")),
            kind=DeadlineKind.REALISATION,
            at=at,
            within=dt.timedelta(days=settings.ORDERS_AT_RISK_DAYS),
        )
    ]
    return awaiting_delivery(PurchaseOrder.objects.filter(dispositif__in=close))


def realisation_missed(
    orders: QuerySet[PurchaseOrder], *, at: dt.datetime
) -> QuerySet[PurchaseOrder]:
    """Those of `orders` awaiting delivery whose end of réalisation in force has passed at `at`
    (the « réalisation » cause of a recovery). One deadline lookup per dispositif concerned.
    The place where a completion notified in time (achèvement) will also count as delivered."""
    owing = orders.filter(status__in=OWING_DELIVERY)
    late = [
        d.pk
        for d, _deadline in passed_deadlines(
            dispositifs=Dispositif.objects.filter(Exists(owing.filter(dispositif=OuterRef("pk")))),
            kind=DeadlineKind.REALISATION,
            at=at,
        )
    ]
    return awaiting_delivery(orders.filter(dispositif__in=late))


# -- in open conflict ---------------------------------------------------------------------------


def order_in_open_conflict(order: PurchaseOrder) -> bool:
    """`in_open_conflict` read on one order."""
    return in_open_conflict(PurchaseOrder.objects.filter(pk=order.pk)).exists()


# -- deadlines passed on a row's own instant (`is_in_time` as a condition: passed when the
# deadline is at or before the instant judged) ---------------------------------------------------


def expired_conflicts(*, at: dt.datetime) -> QuerySet[ClientConflict]:
    """Open conflicts whose 10 working days are over at `at` (`not is_in_time(at, respond_by)`)."""
    return ClientConflict.objects.filter(status=ConflictStatus.OPEN, respond_by__lte=at)


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


def in_open_conflict(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """Those of `orders` that hold a position in a conflict still open: another vendor claims
    the client in the same dispositif, and no claim may be filed until it is settled."""
    return orders.filter(
        Exists(
            ConflictPosition.objects.filter(
                order=OuterRef("pk"), conflict__status=ConflictStatus.OPEN
            )
        )
    )
