"""Every queryset the API serves, scoped to the caller's vendor: another vendor's ids are not
found (404), never refused by name."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from catalogue.deadlines import PARIS
from catalogue.models import Referencing, Solution, SolutionVersion, Vendor
from payments.models import AspFiling, PaymentClaim
from sons.models import (
    Client,
    ClientRelationship,
    Deployment,
    MomDeclaration,
    PurchaseOrder,
    VerificationAptitude,
)

from .models import WebhookSubscription


def orders_of(
    vendor: Vendor, among: QuerySet[PurchaseOrder] | None = None, **lookups
) -> QuerySet[PurchaseOrder]:
    """The vendor's orders, filtered by `lookups`; those of `among` when given (a queryset of
    orders prepared once, such as the list's columns: one filter on it, no second clone)."""
    return (PurchaseOrder.objects if among is None else among).filter(vendor=vendor, **lookups)


def clients_of(vendor: Vendor) -> QuerySet[Client]:
    """The clients the vendor keeps a record of: registered by it, or ordered for (an order
    creates the vendor's record)."""
    records = ClientRelationship.objects.filter(vendor=vendor, client=OuterRef("pk"))
    return Client.objects.filter(Exists(records))


def client_records_of(vendor: Vendor) -> QuerySet[ClientRelationship]:
    """The vendor's own records of its clients: what the API shows and changes as « a client »
    (the shared identity, with the vendor's contact details and figures; no other vendor's)."""
    return ClientRelationship.objects.filter(vendor=vendor).select_related("client")


def solutions_of(vendor: Vendor, at: dt.datetime | None = None) -> QuerySet[Solution]:
    """The vendor's own solutions, and those it distributes under a mandate valid today."""
    day = (at or timezone.now()).astimezone(PARIS).date()
    mandated = vendor.mandates_received.filter(valid_from__lte=day).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=day)
    )
    return Solution.objects.filter(
        Q(editor=vendor) | Q(editor_id__in=mandated.values("editor_id"))
    ).distinct()


def versions_of(vendor: Vendor, at: dt.datetime | None = None) -> QuerySet[SolutionVersion]:
    return SolutionVersion.objects.filter(solution__in=solutions_of(vendor, at))


def referencings_of(vendor: Vendor) -> QuerySet[Referencing]:
    return Referencing.objects.filter(vendor=vendor)


def deployments_of(vendor: Vendor) -> QuerySet[Deployment]:
    return Deployment.objects.filter(order__vendor=vendor)


def vas_of(vendor: Vendor) -> QuerySet[VerificationAptitude]:
    return VerificationAptitude.objects.filter(order__vendor=vendor)


def moms_of(vendor: Vendor) -> QuerySet[MomDeclaration]:
    return MomDeclaration.objects.filter(order__vendor=vendor)


def claims_of(vendor: Vendor) -> QuerySet[PaymentClaim]:
    return PaymentClaim.objects.filter(order__vendor=vendor)


def filings_of(vendor: Vendor) -> QuerySet[AspFiling]:
    return AspFiling.objects.filter(vendor=vendor)


def subscriptions_of(vendor: Vendor) -> QuerySet[WebhookSubscription]:
    return WebhookSubscription.objects.filter(vendor=vendor)


def feedback_known(content: bytes) -> bool:
    """Whether this exact feedback file was imported already (its second import is a no-op)."""
    import hashlib

    from payments.models import FeedbackImport

    return FeedbackImport.objects.filter(sha256=hashlib.sha256(content).hexdigest()).exists()
