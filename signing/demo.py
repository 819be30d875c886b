"""The demo world's online signature: a VA of a demo client waiting to be signed, and its link.

`demo_links()` is called after `manage.py seed_demo` (and by `manage.py signing_demo_links`):
it keeps one demo VA issued (issuing a new one on a delivered demo order if none waits) and
mails a fresh link for it, printed by the console mail backend and returned here.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from sons.models import (
    LIVE_VA_STATUSES,
    ClientRelationship,
    MomDeclaration,
    OrderStatus,
    PurchaseOrder,
    VaStatus,
    VerificationAptitude,
)
from sons.rules import accepts
from sons.services import acceptance

from .services import send_va_link
from .tasks import link_url

DEMO_ACTOR = "système:démonstration"
DEMO_DELIVERY = (
    "Mise à jour vers la version référencée installée, paramétrée ; utilisateurs formés."
)


def demo_links() -> list[str]:
    """The addresses of the demo's signing links (one VA), each freshly mailed."""
    va = waiting_demo_va() or _issue_demo_va()
    if va is None:
        return []
    return [link_url(send_va_link(va=va, actor=DEMO_ACTOR))]


def waiting_demo_va() -> VerificationAptitude | None:
    return (
        VerificationAptitude.objects.filter(
            status=VaStatus.ISSUED,
            order__status=OrderStatus.SIGNED,
            order__client__is_demo=True,
        )
        .exclude(pdf_sha256="")
        .order_by("-issued_at", "-pk")
        .first()
    )


def _issue_demo_va() -> VerificationAptitude | None:
    """A new VA on a signed demo order that has no acceptance yet (after the demo one is signed)."""
    candidates = (
        PurchaseOrder.objects.filter(status=OrderStatus.SIGNED, client__is_demo=True)
        .exclude(
            Exists(
                VerificationAptitude.objects.filter(
                    order=OuterRef("pk"), status__in=LIVE_VA_STATUSES
                )
            )
        )
        .exclude(Exists(MomDeclaration.objects.filter(order=OuterRef("pk"))))
        .filter(
            Exists(
                ClientRelationship.objects.filter(
                    vendor=OuterRef("vendor"), client=OuterRef("client")
                ).exclude(mssante_address="")
            )
        )
        .select_related("dispositif")
        .order_by("pk")
    )
    order = next((o for o in candidates if accepts(o.dispositif.acceptance, "va")), None)
    if order is None:
        return None
    va = acceptance.create_va(order=order, delivered_summary=DEMO_DELIVERY, actor=DEMO_ACTOR)
    va = acceptance.issue_va(va=va, actor=DEMO_ACTOR)
    va.refresh_from_db()
    return va
