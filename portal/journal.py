"""The journal as the order's page shows it: French names for transitions and states, the
instant of the act (from the entry's snapshot) beside the instant it was written."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

from core.models import JournalEntry

# Journal entries written by services outside the state machines (a row created, a document
# attached...): their names in the users' words.
OTHER_TRANSITIONS = {
    "create": _("Création"),
    "schedule": _("Date ferme confirmée"),
    "declare": _("Déclaration"),
    "attach_invoice": _("Facture jointe"),
    "generate": _("Dépôt constitué"),
    "open": _("Conflit ouvert"),
    "respond_keep": _("Réponse au conflit : maintien"),
    "respond_change": _("Réponse au conflit : correction du client"),
    "respond_withdraw": _("Réponse au conflit : retrait"),
    "amend": _("Avenant"),
    "change_client": _("Client corrigé"),
    "designate": _("Désignation comme site pilote"),
    "record_pv": _("PV d'installation enregistré"),
}


@cache
def _labels(model) -> tuple[dict[str, str], dict[str, str]]:
    """(state labels, transition labels) of a model with a state machine."""
    states: dict[str, str] = {}
    transitions: dict[str, str] = {}
    try:
        field = model._meta.get_field("status")
    except FieldDoesNotExist:
        return states, transitions
    states = {str(k): str(v) for k, v in field.choices or ()}
    for name in dir(model):
        meta = getattr(getattr(model, name, None), "_django_fsm", None)
        if meta is None:
            continue
        for spec in meta.transitions.values():
            if spec.custom.get("label"):
                transitions[name] = str(spec.custom["label"])
                break
    return states, transitions


@dataclass(frozen=True)
class JournalRow:
    entry: JournalEntry
    transition: str
    source: str
    target: str
    acted_at: dt.datetime | None
    actor: str


def describe(entry: JournalEntry, *, actor: str | None = None) -> JournalRow:
    model = entry.content_type.model_class()
    states, transitions = _labels(model) if model is not None else ({}, {})
    acted_at = None
    at = (entry.snapshot or {}).get("at")
    if isinstance(at, str):
        try:
            acted_at = dt.datetime.fromisoformat(at)
        except ValueError:
            acted_at = None
    if acted_at is not None and acted_at.tzinfo is None:
        acted_at = None
    return JournalRow(
        entry=entry,
        transition=str(
            transitions.get(entry.transition)
            or OTHER_TRANSITIONS.get(entry.transition)
            or entry.transition
        ),
        source=states.get(entry.source_state, entry.source_state),
        target=states.get(entry.target_state, entry.target_state),
        acted_at=acted_at,
        actor=actor or entry.actor_label,
    )
