"""The journal in people's words: one presenter for every door that shows journal entries.

An entry stores codes (`sign`, `draft` → `signed`). People read the French label of the
transition (the `custom={"label": …}` of the django-fsm `@transition` on the object's model, or,
for the entries written outside a state machine — a row created, a contact changed, a document
attached… — the word given below), the French names of the states (the model's choices), who
acted and when, in Paris time. The portal, the API and the admin all present entries through
`present()`, so an entry reads the same wherever it is shown.

The words for the kinds written outside a state machine are data of the journal itself, which
core owns; keeping them here (rather than in each app) is what lets the journal's own admin
name every entry without importing the apps above core. A kind missing from this list is shown
by its code: tests/sons/test_history.py fails when the code writes a kind that has no word.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db import models
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMFieldMixin

from .clock import format_paris
from .models import JournalEntry

# Journal entries written by services outside the state machines: their names in French.
JOURNAL_KINDS: dict[str, Any] = {
    "create": _("Création"),
    "update": _("BDC corrigé"),
    "register": _("Client enregistré"),
    "change_contact": _("Coordonnées du client modifiées"),
    "change_client": _("Client corrigé"),
    "schedule": _("Date ferme confirmée"),
    "declare": _("Déclaration"),
    "notify_completion": _("Achèvement de la prestation notifié à l'ASP"),
    "file_completion": _("Notification d'achèvement inscrite dans un dépôt ASP"),
    "attach_invoice": _("Facture jointe"),
    "amend": _("Avenant"),
    "generate": _("Dépôt constitué"),
    "open": _("Ouverture"),
    "respond_keep": _("Réponse au conflit : maintien"),
    "respond_change": _("Réponse au conflit : correction du client"),
    "respond_withdraw": _("Réponse au conflit : retrait"),
    "join": _("Un autre fournisseur rejoint le conflit (10 jours ouvrés qui lui sont propres)"),
    "designate": _("Désignation comme site pilote"),
    "record_pv": _("PV d'installation enregistré"),
    "flag_missing_firm_date": _("Date ferme non confirmée à l'échéance"),
    "flag_deadline_missed": _("Échéance de dépôt dépassée"),
    "invite": _("Membre invité"),
    "change_role": _("Rôle modifié"),
    "deactivate": _("Accès suspendu"),
    "reactivate": _("Accès rétabli"),
    "enrol_second_factor": _("Second facteur enregistré"),
    "reset_second_factor": _("Second facteur réinitialisé"),
}

# States that the entries written outside a state machine record.
JOURNAL_STATES: dict[str, Any] = {
    "declared": _("Déclarée"),
    "completion_notified": _("Achèvement notifié"),
    "completion_filed": _("Inscrite dans un dépôt ASP"),
    "designated": _("Site pilote désigné"),
    "pv_recorded": _("PV d'installation enregistré"),
    "active": _("Actif"),
    "inactive": _("Inactif"),
}

# The fields whose choices name the states an entry records, beside a model's FSM fields.
STATE_FIELDS = ("status", "role")


@cache
def _model_labels(model: type[models.Model]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state labels, transition labels) of a model, read from its fields and transitions."""
    states: dict[str, Any] = {}
    for model_field in model._meta.concrete_fields:
        if model_field.choices and (
            isinstance(model_field, FSMFieldMixin) or model_field.name in STATE_FIELDS
        ):
            states.update({str(value): label for value, label in model_field.flatchoices})
    transitions: dict[str, Any] = {}
    for name in dir(model):
        meta = getattr(getattr(model, name, None), "_django_fsm", None)
        if meta is None:
            continue
        for spec in meta.transitions.values():
            if spec.custom.get("label"):
                transitions[name] = spec.custom["label"]
                break
    return states, transitions


def transition_label(model: type[models.Model] | None, name: str) -> str:
    transitions = _model_labels(model)[1] if model is not None else {}
    return str(transitions.get(name) or JOURNAL_KINDS.get(name) or name)


def state_label(model: type[models.Model] | None, state: str) -> str:
    if not state:
        return ""
    states = _model_labels(model)[0] if model is not None else {}
    return str(states.get(state) or JOURNAL_STATES.get(state) or state)


def acted_at(entry: JournalEntry) -> dt.datetime | None:
    """The instant of the act when the entry's snapshot gives it (a signature dated the day
    before it was recorded), else None; only an aware instant is believed."""
    at = (entry.snapshot or {}).get("at")
    if not isinstance(at, str):
        return None
    try:
        instant = dt.datetime.fromisoformat(at)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


@dataclass(frozen=True)
class HistoryEntry:
    """One journal entry as people read it. `transition`, `source` and `target` are the French
    labels; the codes stay on `entry`."""

    entry: JournalEntry
    object_type: str  # "sons.verificationaptitude"
    object_name: str  # « VA v2 »
    transition: str
    source: str
    target: str
    actor: str
    acted_at: dt.datetime | None
    snapshot: dict = field(default_factory=dict)

    @property
    def at(self) -> dt.datetime:
        return self.acted_at or self.entry.recorded_at

    @property
    def at_display(self) -> str:
        return format_paris(self.at)

    @property
    def recorded_display(self) -> str:
        return format_paris(self.entry.recorded_at, seconds=True)

    @property
    def short_hash(self) -> str:
        return f"{self.entry.entry_hash[:12]}…"

    @property
    def reason(self) -> str:
        return self.entry.reason


def present(
    entry: JournalEntry,
    *,
    object_name: str | None = None,
    actor: str | None = None,
    snapshot: dict | None = None,
) -> HistoryEntry:
    """`entry` in French; the caller may name the object, mask the actor or trim the
    snapshot (what another vendor must not read), the labels are always these."""
    content_type = entry.content_type
    model = content_type.model_class()
    return HistoryEntry(
        entry=entry,
        object_type=f"{content_type.app_label}.{content_type.model}",
        object_name=object_name or entry.object_repr,
        transition=transition_label(model, entry.transition),
        source=state_label(model, entry.source_state),
        target=state_label(model, entry.target_state),
        actor=actor or entry.actor_label,
        acted_at=acted_at(entry),
        snapshot=entry.snapshot if snapshot is None else snapshot,
    )


def render_history(rows: list[HistoryEntry]) -> SafeString:
    """The table every HTML door shows (the portal's order page, the admin's pages)."""
    return render_to_string("web/_history.html", {"history": rows})
