"""Nothing unofficial looks official: the one answer to « is this amount a demo value? » and the
one mark that says so, for every page, PDF, admin screen and API answer that shows an amount.

A demo tariff (Tariff.is_demo, seeded by `seed_demo`) prices fictitious orders; the amount it
gives, and every claim and filing built on it, carries « [DÉMO] » wherever it is shown, next to
the amount itself, so that no one reads it as the State's figure.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from catalogue.models import Tariff

from .models import PurchaseOrder

__all__ = [
    "DEMO_DISPOSITIF_PREFIX",
    "DEMO_MARK",
    "amount_is_demo",
    "demo_mark_html",
    "demo_note",
    "demo_orders_q",
    "dispositif_is_demo",
    "with_demo_mark",
]

DEMO_MARK = "[DÉMO]"
# A dispositif invented for the demo (its calendar relative to the day `seed_demo` ran): its
# code starts so, its title and calendar's legal reference carry the mark; no official code does.
DEMO_DISPOSITIF_PREFIX = "DEMO-"


def dispositif_is_demo(dispositif) -> bool:
    """Whether a dispositif (or its code) is the demo's own, never an official one."""
    code = dispositif if isinstance(dispositif, str) else dispositif.code
    return code.upper().startswith(DEMO_DISPOSITIF_PREFIX)


def demo_note() -> str:
    return _("Barème de démonstration : montant fictif, sans valeur officielle.")


def demo_orders_q(prefix: str = "") -> Q:
    """Orders priced on a demo tariff, as a filter (`prefix` = "order__" from a claim)."""
    return Q(**{f"{prefix}pricing_snapshot__tariff_is_demo": True}) | Q(
        **{f"{prefix}tariff__is_demo": True}
    )


def amount_is_demo(value: Any) -> bool:
    """Whether the amount `value` shows is a demo value.

    `value` is a bool, a tariff, an order (what its pricing snapshot froze at signature, else
    its tariff), anything with an `order` (a claim), or anything with `claims` (a filing: demo
    as soon as one of its lines is); None is not demo.
    """
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, Tariff):
        return value.is_demo
    if isinstance(value, PurchaseOrder):
        # What the signature froze with the amount (pricing_snapshot), as for everything the
        # price rests on; read without a query on every list. An order priced before snapshots
        # said it falls back on its tariff.
        snapshot = value.pricing_snapshot or {}
        if "tariff_is_demo" in snapshot:
            return bool(snapshot["tariff_is_demo"])
        return value.tariff_id is not None and value.tariff.is_demo
    order = getattr(value, "order", None)
    if isinstance(order, PurchaseOrder):
        return amount_is_demo(order)
    claims = getattr(value, "claims", None)
    if claims is not None and hasattr(claims, "filter"):
        if value.pk is None:
            return False
        return claims.filter(demo_orders_q("order__")).exists()
    raise TypeError(f"Pas de montant à juger dans {type(value).__name__}.")


def with_demo_mark(text: str, value: Any) -> str:
    """« 1 050,00 € » -> « 1 050,00 € [DÉMO] » for a demo value (admin, plain text)."""
    return f"{text} {DEMO_MARK}" if amount_is_demo(value) else text


def demo_mark_html(value: Any) -> SafeString:
    """The mark as HTML, placed right after an amount; empty for a real value."""
    if not amount_is_demo(value):
        return SafeString("")
    return format_html(' <strong class="demo-mark" title="{}">{}</strong>', demo_note(), DEMO_MARK)
