"""Public pages of the catalogue."""

from itertools import groupby

from django.shortcuts import render
from django.views.decorators.http import require_GET

from .models import Couloir
from .selectors import published_referencings


@require_GET
def published_solutions(request):
    """The public list of referenced solutions, grouped by vague and couloir, like the ANS's."""
    rows = list(published_referencings())
    couloirs = dict(Couloir.choices)
    groups = [
        {
            "vague": vague,
            "couloir": couloirs.get(couloir, couloir),
            "referencings": list(items),
        }
        for (vague, couloir), items in groupby(
            rows, key=lambda r: (r.dispositif.vague, r.dispositif.couloir)
        )
    ]
    return render(request, "web/catalogue/published.html", {"groups": groups, "count": len(rows)})
