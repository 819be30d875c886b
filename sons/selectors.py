"""Readers of the lifecycle; `claim_blockers` is the one answer to « may this be claimed now? »."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from catalogue.deadlines import DeadlineKind, format_paris, is_in_time, start_of_day_paris
from catalogue.models import Acceptance, Dispositif, Prestation
from catalogue.selectors import deadline_for, passed_deadlines, upcoming_deadlines

from .models import (
    ConflictPosition,
    ConflictStatus,
    Deployment,
    DeploymentStatus,
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
from .rules import MonthUsage, earliest_acceptance, evaluate_usage_gate


@dataclass(frozen=True)
class Unmet:
    """A condition that stops a claim: a stable code for machines, a French sentence for people."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def acceptance_instant(order: PurchaseOrder) -> tuple[str, dt.datetime] | None:
    """The acceptance on file for the order (kind, instant), as its dispositif requires it."""
    required = order.dispositif.acceptance
    va = (
        VerificationAptitude.objects.filter(order=order, status=VaStatus.SIGNED)
        .select_related("decision")
        .first()
    )
    mom = MomDeclaration.objects.filter(order=order).first()
    pilot = PilotSite.objects.filter(order=order, pv_signed_on__isnull=False).first()
    return earliest_acceptance(
        required,
        {
            "va": va.decision.decided_at if va is not None else None,
            "mom": mom.declared_at if mom is not None else None,
            "pilot_pv": start_of_day_paris(pilot.pv_signed_on) if pilot is not None else None,
        },
    )


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
    if ConflictPosition.objects.filter(order=order, conflict__status=ConflictStatus.OPEN).exists():
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

    soldes = deadline_for(dispositif=dispositif, kind=DeadlineKind.SOLDES, at=at)
    if soldes is not None and not is_in_time(at, soldes.at):
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
    live_deployment = Deployment.objects.filter(order=OuterRef("pk")).exclude(
        status=DeploymentStatus.ABANDONED
    )
    return undelivered(
        PurchaseOrder.objects.filter(status=OrderStatus.SIGNED, dispositif__in=late_dispositifs)
    ).exclude(Exists(live_deployment))


def undelivered(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """Those of `orders` with no acceptance on file yet (no signed VA, MOM nor pilot PV)."""
    accepted = VerificationAptitude.objects.filter(order=OuterRef("pk"), status=VaStatus.SIGNED)
    declared = MomDeclaration.objects.filter(order=OuterRef("pk"))
    pilot_pv = PilotSite.objects.filter(order=OuterRef("pk"), pv_signed_on__isnull=False)
    return orders.exclude(Exists(accepted)).exclude(Exists(declared)).exclude(Exists(pilot_pv))


def orders_at_risk(
    *, at: dt.datetime, dispositifs: QuerySet[Dispositif] | None = None
) -> QuerySet[PurchaseOrder]:
    """Live orders not yet delivered when the end of réalisation in force is less than
    `settings.ORDERS_AT_RISK_DAYS` days ahead: the ones administrators must chase."""
    if dispositifs is None:
        dispositifs = Dispositif.objects.all()
    live = [OrderStatus.CONDITIONAL, OrderStatus.SIGNED]
    close = [
        d.pk
        for d, _deadline in upcoming_deadlines(
            dispositifs=dispositifs.filter(pk__in=with_orders_in(live).values("pk")),
            kind=DeadlineKind.REALISATION,
            at=at,
            within=dt.timedelta(days=settings.ORDERS_AT_RISK_DAYS),
        )
    ]
    return undelivered(PurchaseOrder.objects.filter(status__in=live, dispositif__in=close))


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
