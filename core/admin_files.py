"""Stored files on admin pages: links to a staff-only download view, never the storage's URL.

Django's admin shows a read-only FileField as a link to `field.url`: a `/media/…` address that
nothing serves (404), or with an object storage a signed link that anyone holding it could open.
A model admin that mixes `StoredFilesAdminMixin` in instead shows each of its model's
FileFields as a link to `admin/<app>/<model>/<pk>/fichier/<field>/`, a view open to signed-in
staff only (the admin's own gate: others are sent to the admin's sign-in page) who may view the
row (its model's view or change permission: 403 otherwise), streaming the file from the storage.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.urls import path, reverse
from django.utils.html import format_html

from .files import attachment, download_name

# The name under which a FileField's link is shown on the change page: `<field>_download`.
LINK_SUFFIX = "_download"


class StoredFilesAdminMixin:
    """Goes before the other admin classes (it rewrites the fields they list)."""

    # Per file field, the name the download is saved under (default: the stored file's name).
    download_names: dict[str, Callable[[models.Model], str]] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.file_fields().items():
            setattr(self, name + LINK_SUFFIX, self._link_display(name, field))

    # -- the files ---------------------------------------------------------------------------

    def file_fields(self) -> dict[str, models.FileField]:
        return {f.name: f for f in self.model._meta.get_fields() if isinstance(f, models.FileField)}

    def file_url(self, obj, field: str) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_file", args=[obj.pk, field])

    def file_link(self, obj, field: str, label: str | None = None):
        """A link to the file's download, or « — » while there is none."""
        stored = getattr(obj, field)
        if not stored:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', self.file_url(obj, field), label or download_name(stored)
        )

    def _link_display(self, name: str, field: models.FileField):
        def display(obj):
            return self.file_link(obj, name)

        display.short_description = field.verbose_name
        return display

    # -- the change page shows links instead of the fields -----------------------------------

    @staticmethod
    def _linked(names, files) -> tuple[str, ...]:
        return tuple(n + LINK_SUFFIX if n in files else n for n in names)

    def get_fields(self, request, obj=None):
        # Only the read-only file fields become links; an editable one stays a form field.
        shown = set(super().get_readonly_fields(request, obj)) & set(self.file_fields())
        return self._linked(super().get_fields(request, obj), shown)

    def get_readonly_fields(self, request, obj=None):
        return self._linked(super().get_readonly_fields(request, obj), self.file_fields())

    # -- the download view -------------------------------------------------------------------

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<int:pk>/fichier/<str:field>/",
                self.admin_site.admin_view(self.file_view),
                name=f"{opts.app_label}_{opts.model_name}_file",
            ),
            *super().get_urls(),
        ]

    def file_view(self, request, pk: int, field: str):
        if field not in self.file_fields():
            raise Http404
        obj = self.get_object(request, str(pk))
        if obj is None:
            raise Http404
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        namer = self.download_names.get(field)
        return attachment(getattr(obj, field), namer(obj) if namer else None)
