"""Display helpers of the portal's pages: money in euros, instants in Paris time."""

from __future__ import annotations

from django import template

from catalogue.deadlines import format_paris, shown_deadline
from core.money import format_euros

register = template.Library()


@register.filter
def euros(cents: int | None) -> str:
    return "—" if cents is None else format_euros(cents)


@register.filter
def paris(instant) -> str:
    return "—" if instant is None else format_paris(instant)


@register.filter
def deadline(value) -> str:
    """A deadline as every screen writes it: « 14/12/2023 à 14:00 », « 30/11/2022 (fin de
    journée) », or « non publiée » (`catalogue.deadlines.shown_deadline`)."""
    return shown_deadline(value)


@register.filter
def short_hash(value: str) -> str:
    return f"{value[:12]}…" if value else "—"
