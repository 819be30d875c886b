from django import template

from catalogue.deadlines import format_deadline, format_paris

register = template.Library()


@register.filter
def paris(instant) -> str:
    """An aware instant as every deadline is shown: « 14/12/2023 à 14:00 », Paris time."""
    return format_paris(instant) if instant else "—"


@register.filter
def deadline(value) -> str:
    """A deadline as every screen writes it (`catalogue.deadlines.format_deadline`):
    « 14/12/2023 à 14:00 », « 30/11/2022 (fin de journée) », or « non publiée » for none.
    Takes a deadline row or an applied deadline (which know whether their hour is sourced)
    or a bare instant."""
    if value is None or value == "":
        return format_deadline(None)
    shown = getattr(value, "shown", None)
    return shown if isinstance(shown, str) else format_deadline(value)
