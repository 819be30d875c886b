from django import template

from catalogue.deadlines import format_paris

register = template.Library()


@register.filter
def paris(instant) -> str:
    """An aware instant as every deadline is shown: « 14/12/2023 à 14:00 », Paris time."""
    return format_paris(instant) if instant else "—"
