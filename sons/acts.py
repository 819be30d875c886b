"""The acts of the lifecycle that are not transitions of the object they start from, each with
its declared guards (core.guards): issuing a VA on an order, declaring its MOM, scheduling its
deployment. The services call `ACT.require(order, at=at)` under their locks; the portal reads
`ACT.refusals(order, at=at)` to say what is possible and why not. The transitions' own guards
live on the models (`conditions=`)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from catalogue.deadlines import DeadlineKind, format_deadline, format_paris
from catalogue.selectors import deadline_passed
from core.guards import Act, guard

from .models import (
    LIVE_VA_STATUSES,
    CompletionNotice,
    Deployment,
    MomDeclaration,
    OrderStatus,
    PurchaseOrder,
    VaStatus,
    VerificationAptitude,
)
from .models.acceptance import mssante_address_missing
from .rules import accepts


@guard("order_not_signed", field="order")
def order_signed(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """Delivery, acceptance and their acts concern a BDC signed firm."""
    if order.status == OrderStatus.SIGNED:
        return None
    return _("Le BDC n'est pas signé ferme (état actuel : %(state)s).") % {
        "state": order.get_status_display()
    }


@guard("va_not_applicable", field="order")
def va_applicable(order: PurchaseOrder, at: dt.datetime) -> str | None:
    if accepts(order.dispositif.acceptance, "va"):
        return None
    return _("Le dispositif %(code)s demande une MOM, pas une VA.") % {
        "code": order.dispositif.code
    }


@guard("mom_not_applicable", field="order")
def mom_applicable(order: PurchaseOrder, at: dt.datetime) -> str | None:
    if accepts(order.dispositif.acceptance, "mom"):
        return None
    return _("Le dispositif %(code)s exige une VA signée par le client, pas une MOM.") % {
        "code": order.dispositif.code
    }


@guard("va_already_open", field="order")
def no_live_va(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """One VA version at a time: a new one only after a refusal."""
    live = VerificationAptitude.objects.filter(order=order, status__in=LIVE_VA_STATUSES).first()
    if live is None:
        return None
    return _("La VA version %(version)s de ce BDC est déjà %(state)s.") % {
        "version": live.version,
        "state": str(live.get_status_display()).lower(),
    }


@guard("acceptance_already_given", field="order")
def no_mom_declared(order: PurchaseOrder, at: dt.datetime) -> str | None:
    if not MomDeclaration.objects.filter(order=order).exists():
        return None
    return _("La mise en ordre de marche de ce BDC est déjà déclarée : pas de VA en plus.")


@guard("acceptance_already_given", field="order")
def no_signed_va(order: PurchaseOrder, at: dt.datetime) -> str | None:
    if not VerificationAptitude.objects.filter(order=order, status=VaStatus.SIGNED).exists():
        return None
    return _("Le client a déjà signé la VA de ce BDC : pas de MOM en plus.")


@guard("mom_already_declared", field="order")
def mom_not_declared(order: PurchaseOrder, at: dt.datetime) -> str | None:
    if not MomDeclaration.objects.filter(order=order).exists():
        return None
    return _("La MOM de ce BDC est déjà déclarée.")


@guard("mssante_address_required", field="mssante_address")
def mssante_address_known(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """The VA and the MOM name the client's MSSanté address (the vendor's record of it)."""
    return None if order.contact.mssante_address else mssante_address_missing()


@guard("firm_date_deadline_passed", field="firm_date")
def firm_date_open(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """A firm date is confirmed before the deadline for confirming one."""
    confirm_by = deadline_passed(dispositif=order.dispositif, kind=DeadlineKind.FIRM_DATE, at=at)
    if confirm_by is None:
        return None
    return _("La date ferme devait être confirmée avant le %(deadline)s.") % {
        "deadline": format_deadline(confirm_by.at, zone=True)
    }


@guard("deployment_already_live", field="order")
def no_live_deployment(order: PurchaseOrder, at: dt.datetime) -> str | None:
    live = Deployment.objects.live().filter(order=order).first()
    if live is None:
        return None
    return _("Ce BDC a déjà un déploiement en cours (date ferme du %(date)s).") % {
        "date": live.firm_date.strftime("%d/%m/%Y")
    }


@guard("completion_already_notified", field="order")
def completion_not_notified(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """One notice of completion per order: given once, never changed."""
    notice = CompletionNotice.objects.filter(order=order).first()
    if notice is None:
        return None
    return _("L'achèvement de ce BDC a déjà été notifié à l'ASP le %(when)s.") % {
        "when": format_paris(notice.notified_at)
    }


@guard("realisation_deadline_passed", field="notified_at")
def realisation_open(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """The completion is notified before the end of réalisation in force (SONS.md, « End of
    réalisation, exactly »): after it, the notice no longer counts."""
    realisation = deadline_passed(dispositif=order.dispositif, kind=DeadlineKind.REALISATION, at=at)
    if realisation is None:
        return None
    return _(
        "L'achèvement devait être notifié à l'ASP avant la fin de réalisation, le %(deadline)s."
    ) % {"deadline": format_deadline(realisation.at, zone=True)}


CREATE_VA = Act(
    "create_va",
    _("Préparer une VA"),
    (order_signed, va_applicable, no_live_va, no_mom_declared),
)
# What the portal offers as one act: prepare and issue at once, so the address is needed now.
ISSUE_VA = Act(
    "issue_va",
    _("Émettre la VA"),
    (*CREATE_VA.guards, mssante_address_known),
)
DECLARE_MOM = Act(
    "declare_mom",
    _("Déclarer la mise en ordre de marche (MOM)"),
    (order_signed, mom_applicable, mssante_address_known, no_signed_va, mom_not_declared),
)
SCHEDULE_DEPLOYMENT = Act(
    "schedule_deployment",
    _("Confirmer une date ferme de réalisation"),
    (order_signed, firm_date_open, no_live_deployment),
)
# The vendor tells the ASP its prestation is complete (SONS.md, « End of réalisation, exactly »).
# A BDC signed firm only: a conditional one is not yet a Ségur prestation (its solution is not
# referenced, no avance nor solde may be claimed on it); once confirmed, it may be notified.
NOTIFY_COMPLETION = Act(
    "notify_completion",
    _("Notifier l'achèvement à l'ASP"),
    (order_signed, completion_not_notified, realisation_open),
)
