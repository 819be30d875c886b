"""Admin support for state machines: the status is never edited, each transition is a button.

A model admin lists its transitions as {name: Action(label, form, call)}; the change page shows
the buttons available from the current state, each opening a small form whose submission calls
the service. A refused rule comes back as a form error, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .errors import RuleViolation
from .guards import transition_refusals
from .journal_display import present, render_history
from .models import JournalEntry


def readonly_everything(model, *extra: str) -> tuple[str, ...]:
    """Every field of a model, read-only: rows that only services may write."""
    return tuple(f.name for f in model._meta.fields) + extra


class ReadOnlyInlineMixin:
    """Related rows shown on their parent's page, never added, changed or deleted there."""

    extra = 0
    can_delete = False
    fields: tuple[str, ...] = ()  # empty: every field

    def get_fields(self, request, obj=None):
        return self.fields or readonly_everything(self.model)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None):
        return False


class ConfirmForm(forms.Form):
    """Transitions that need nothing more than a confirmation."""


@dataclass(frozen=True)
class Action:
    label: str
    call: Callable  # (obj, user, cleaned_data) -> obj
    form: type[forms.Form] = ConfirmForm


class TransitionAdminMixin:
    """Rows written only by services: created through `create` from `creation_fields`, then
    shown read-only with their possible actions and journal; never edited, never deleted."""

    transitions: dict[str, Action] = {}
    state_field = "status"
    creation_fields: tuple[str, ...] = ()  # asked on the add page, handed to `create`
    detail_fields: tuple[str, ...] = ()  # empty: every field, the actions and the journal

    def create(self, request, obj):
        raise PermissionDenied  # rows of this kind are not created from the admin

    def get_detail_fields(self) -> tuple[str, ...]:
        return self.detail_fields or readonly_everything(self.model, "actions_available", "journal")

    def get_fields(self, request, obj=None):
        return self.creation_fields if obj is None else self.get_detail_fields()

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_detail_fields()

    def get_inlines(self, request, obj=None):
        return self.inlines if obj is not None else []  # related rows exist once created

    def has_add_permission(self, request):
        return bool(self.creation_fields) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:  # nothing is edited by hand: state changes are the action buttons
            return
        obj.pk = self.create(request, obj).pk

    def _url_name(self) -> str:
        opts = self.model._meta
        return f"{opts.app_label}_{opts.model_name}_transition"

    def get_urls(self):
        return [
            path(
                "<int:pk>/transition/<str:name>/",
                self.admin_site.admin_view(self.transition_view),
                name=self._url_name(),
            ),
            *super().get_urls(),
        ]

    def _possible(self, obj) -> list[tuple[str, list]]:
        """The admin's transitions that leave the current state, each with the refusals its
        declared guards give now (core.guards): read, never tried."""
        state = getattr(obj, self.state_field)
        found = []
        for name in self.transitions:
            meta = getattr(type(obj), name)._django_fsm
            if meta.has_transition(state):
                refusals = transition_refusals(
                    obj, name, at=timezone.now(), state_field=self.state_field
                )
                found.append((name, refusals))
        return found

    def actions_available(self, obj):
        possible = self._possible(obj)
        if not possible:
            return _("Aucune depuis cet état.")
        allowed = [(name, []) for name, refusals in possible if not refusals]
        refused = [(name, refusals) for name, refusals in possible if refusals]
        links = format_html_join(
            " ",
            '<a class="button" href="{}">{}</a>',
            (
                (
                    reverse(f"admin:{self._url_name()}", args=[obj.pk, name]),
                    self.transitions[name].label,
                )
                for name, _refusals in allowed
            ),
        )
        reasons = format_html_join(
            "",
            "<p>{} : {}</p>",
            (
                (self.transitions[name].label, " ; ".join(r.message for r in refusals))
                for name, refusals in refused
            ),
        )
        return format_html("{}{}", links, reasons)

    actions_available.short_description = _("actions possibles")

    def journal(self, obj):
        """The object's journal entries, in French, as every door shows them."""
        entries = JournalEntry.objects.for_object(obj).select_related("content_type")
        return render_history([present(e) for e in entries.order_by("sequence")])

    journal.short_description = _("journal")

    def transition_view(self, request, pk: int, name: str):
        if name not in self.transitions:
            raise Http404
        if not self.has_change_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, str(pk))
        if obj is None:
            raise Http404
        action = self.transitions[name]
        form = action.form(request.POST if request.method == "POST" else None)
        opts = self.model._meta
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
        if request.method == "POST" and form.is_valid():
            try:
                action.call(obj, request.user, form.cleaned_data)
            except RuleViolation as exc:
                # A command's refusal names every item's fault; a transition's, one.
                faults = getattr(exc, "errors", None) or [exc]
                for fault in faults:
                    field = fault.field if fault.field in form.fields else None
                    form.add_error(field, fault.message)
            else:
                self.message_user(request, f"{action.label} : fait.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "original": obj,
            "title": f"{action.label} – {obj}",
            "form": form,
            "label": action.label,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/transition.html", context)
