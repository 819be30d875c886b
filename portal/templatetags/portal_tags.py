"""Display helpers of the portal's pages: money in euros, instants in Paris time."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

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


WIDGET_CLASSES = {"select": "fr-select", "file": "fr-upload", "checkbox": ""}


@register.filter
def dsfr(field) -> str:
    """A bound field's widget with the DSFR classes, invalid when it has errors, described by
    its hint and its errors (templates/web/portal/_field.html)."""
    widget = field.field.widget
    kind = getattr(widget, "input_type", None) or (
        "select" if hasattr(widget, "allow_multiple_selected") else "textarea"
    )
    css = WIDGET_CLASSES.get(kind, "fr-input")
    if field.errors and css:
        css += f" {css}--error"
    attrs = {"class": f"{widget.attrs.get('class', '')} {css}".strip()} if css else {}
    described = [f"{field.auto_id}-erreur-{n}" for n in range(1, len(field.errors) + 1)]
    if described:
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = " ".join(described)
    return field.as_widget(attrs=attrs)


# DSFR badge per state (success, error, warning, info, new); the label is the model's.
BADGE_TYPES = {
    "signed": "success",
    "completed": "success",
    "paid": "success",
    "validated": "success",
    "acknowledged": "success",
    "ready": "info",
    "transmitted": "info",
    "submitted": "info",
    "issued": "new",
    "conditional": "warning",
    "to_correct": "warning",
    "draft": "",
    "generated": "",
    "cancelled": "error",
    "lapsed": "error",
    "defaulted": "error",
    "in_recovery": "error",
    "rejected": "error",
    "refused": "error",
    "set_aside": "error",
}


@register.simple_tag
def state_badge(status: str, label) -> str:
    kind = BADGE_TYPES.get(str(status), "")
    css = f"fr-badge fr-badge--sm fr-badge--no-icon{f' fr-badge--{kind}' if kind else ''}"
    return format_html('<span class="{}">{}</span>', css, label)


@register.filter
def line_state(claim) -> str:
    """A claim's state as the ASP's words have it: a line of a filing that is only generated
    has not reached the ASP yet, and one of a filing set aside never will."""
    from payments.models import ClaimStatus, FilingStatus

    filing = claim.filing if claim.filing_id else None
    if claim.status == ClaimStatus.SUBMITTED and filing is not None:
        if filing.status == FilingStatus.GENERATED:
            return str(_("Dans un dépôt généré, pas encore transmis à l'ASP"))
        if filing.status == FilingStatus.SET_ASIDE:
            return str(_("Dans un dépôt écarté, non transmis à l'ASP"))
    return str(claim.get_status_display())


@register.filter
def line_status(claim) -> str:
    """The code `line_state` speaks of, for its badge."""
    from payments.models import ClaimStatus

    if claim.status == ClaimStatus.SUBMITTED and claim.filing_id:
        return str(claim.filing.status)
    return str(claim.status)


@register.filter
def prestation(order) -> str:
    """The label of the prestation a BDC names among its dispositif's, or its code."""
    variant = order.dispositif.prestation_variant(order.prestation_variant)
    return (variant or {}).get("label") or order.prestation_variant
