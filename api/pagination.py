"""Cursor pagination (stable under inserts, no COUNT over large tables), strict about its
parameters: a malformed cursor or page size is a 400, not a silent default."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

MAX_PAGE_SIZE = 1000


class CursorPage(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    page_size_query_description = _("Nombre d'éléments par page (1 à 1000, 100 par défaut).")
    cursor_query_description = _("Curseur de la page, tel que donné par « next » ou « previous ».")
    max_page_size = MAX_PAGE_SIZE
    ordering = "-id"
    template = None

    def get_ordering(self, request, queryset, view):
        return view.ordering_for(request)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {
                    "page_size": [
                        _("La taille de page est un entier de 1 à %(max)s.")
                        % {"max": self.max_page_size}
                    ]
                },
                code="invalid",
            )
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (NotFound, ValueError, TypeError, DjangoValidationError, UnicodeError):
            raise ValidationError(
                {"cursor": [_("Curseur invalide : reprenez le lien « next » d'une réponse.")]},
                code="invalid",
            ) from None
