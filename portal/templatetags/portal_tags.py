"""Display helpers of the portal's pages: money in euros, instants in Paris time."""

from __future__ import annotations

from django import template

from catalogue.deadlines import format_paris
from core.money import format_euros

register = template.Library()


@register.filter
def euros(cents: int | None) -> str:
    return "—" if cents is None else format_euros(cents)


@register.filter
def paris(instant) -> str:
    return "—" if instant is None else format_paris(instant)


@register.filter
def short_hash(value: str) -> str:
    return f"{value[:12]}…" if value else "—"
