from django import template

from catalogue.deadlines import format_paris, shown_deadline

register = template.Library()


@register.filter
def paris(instant) -> str:
    """An aware instant as every deadline is shown: « 14/12/2023 à 14:00 », Paris time."""
    return format_paris(instant) if instant else "—"


@register.filter
def deadline(value) -> str:
    """A deadline as every screen writes it: « 14/12/2023 à 14:00 », « 30/11/2022 (fin de
    journée) », or « non publiée » (`catalogue.deadlines.shown_deadline`)."""
    return shown_deadline(value)
