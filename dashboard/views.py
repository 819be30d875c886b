"""The administrators' dashboard: every dispositif, then one page per dispositif and its lists.

Programme administrators only (`catalogue.access.is_programme_admin`). Every figure is judged at
one instant: now, or `?at=2023-12-14T14:00` (Paris time) to see the dashboard as it was or will
be at another instant.
"""

from __future__ import annotations

import datetime as dt
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET

from catalogue.access import is_programme_admin
from catalogue.deadlines import PARIS, format_deadline, format_paris, parse_paris
from catalogue.models import Dispositif
from catalogue.selectors import calendar_in_force, calendars_in_force, read_calendar
from core.money import format_euros
from sons.demo_marks import with_demo_mark

from . import exports, selectors
from .lists import DATE, INSTANT, LISTS, MONEY, Context, DashboardList, FilterForm

PAGE_SIZE = 50
PREVIEW_SIZE = 5
COUNT_CAP = 1000  # beyond, a list says « plus de 1 000 » rather than counting every row
# A list's badge on its dispositif's page counts up to this (« plus de 100 »), its own page up
# to COUNT_CAP: the page's five lists are read afresh at every request, and counting the orders
# at risk means judging each order's evidence of completion.
PREVIEW_COUNT_CAP = 100


def now() -> dt.datetime:
    """The instant the dashboard judges by default (tests replace it)."""
    return timezone.now()


def figures_seconds() -> int:
    """How long a dispositif's counts and charts are kept (0: computed at every request)."""
    return getattr(settings, "DASHBOARD_FIGURES_SECONDS", 300)


def _kept(key: str, compute):
    """(value, instant computed) from the cache, or computed now and kept figures_seconds()."""
    seconds = figures_seconds()
    found = cache.get(key) if seconds else None
    if found is None:
        found = compute()
        if seconds:
            cache.set(key, found, seconds)
    return found


def _instant_key(at: dt.datetime, at_param: str) -> str:
    """« now », or the instant asked for, in a form every cache backend accepts as a key."""
    return at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ") if at_param else "now"


def _figures_rendered(dispositif: Dispositif, at: dt.datetime):
    """The dispositif's counts and charts at `at`, the instant, and their HTML (the cards of
    counts, the charts): drawn once with the figures, as they are kept together."""
    figures = selectors.dispositif_figures(dispositif, at)
    html = {
        part: render_to_string(f"web/dashboard/_figure_{part}.html", {"figures": figures})
        for part in ("cards", "charts")
    }
    return figures, at, html


def cached_figures(dispositif: Dispositif, at: dt.datetime, at_param: str):
    """The dispositif's counts and charts, the instant they were computed at, and their HTML.
    They are the page's costly part (one aggregate per model over all its rows, and the
    drawing of the charts), so they are kept a few minutes; the calendar and the lists are
    always read afresh."""
    return _kept(
        f"sons-dashboard:figures:{get_language()}:{dispositif.pk}:{_instant_key(at, at_param)}",
        lambda: _figures_rendered(dispositif, at),
    )


def programme_admin_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not is_programme_admin(request.user):
            raise PermissionDenied(_("Réservé aux administrateurs du programme."))
        return view(request, *args, **kwargs)

    return wrapped


def _instant(request) -> tuple[dt.datetime, str, str]:
    """The instant judged, the `at` to carry in links, and an error to show if `at` is wrong."""
    raw = request.GET.get("at", "").strip()
    if raw:
        try:
            return parse_paris(raw), raw, ""
        except ValueError:
            error = _(
                "Instant « %(value)s » illisible : le tableau de bord est calculé à maintenant."
            )
            return now(), "", error % {"value": raw}
    return now(), "", ""


def _base_context(request, at: dt.datetime, at_param: str, at_error: str) -> dict:
    return {
        "at": at,
        "at_shown": format_paris(at),
        "at_input": at.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M"),
        "at_param": at_param,
        "at_query": f"?{urlencode({'at': at_param})}" if at_param else "",
        "at_error": at_error,
        # The other parameters of the page (a list's filters), kept when the instant changes.
        "kept_params": [
            (k, v) for k, v in request.GET.items() if k not in ("at", "page", "format") and v
        ],
    }


def _capped_count(queryset) -> tuple[int, bool]:
    """(count, more): the exact count up to COUNT_CAP, or COUNT_CAP and True beyond."""
    n = queryset.order_by().values("pk")[: COUNT_CAP + 1].count()
    return min(n, COUNT_CAP), n > COUNT_CAP


def _cells(lst: DashboardList, row) -> list[dict]:
    cells = []
    for column in lst.columns:
        value = column.value(row)
        if value is None or value == "":
            text = "—"
        elif column.kind == MONEY:
            # The row is an order, a claim or a recovery: a demo amount says so beside it.
            text = with_demo_mark(format_euros(value), row)
        elif column.kind == INSTANT:
            text = format_deadline(value) if column.deadline else format_paris(value)
        elif column.kind == DATE:
            text = value.strftime("%d/%m/%Y")
        else:
            text = str(value)
        link = column.link(row) if column.link else ""
        cells.append(
            {
                "header": column.header,
                "text": text,
                "kind": column.kind,
                "link": link,
                "html": _cell_html(column.kind, text, link),
            }
        )
    return cells


def _cell_html(kind: str, text, link: str) -> str:
    """The cell's <td> as `_rows.html` shows it, drawn here: a page shows a hundred cells or
    more, and the tags of a template cost several times `format_html` for each."""
    attrs = mark_safe(' class="sons-num"') if kind == MONEY else ""
    if link:
        return format_html('<td{}><a class="db-ref" href="{}">{}</a></td>', attrs, link, text)
    return format_html("<td{}>{}</td>", attrs, text)


# The dispositifs' table sorts by name (its code) or by next deadline, either way, with
# `?tri=nom`, `?tri=-nom`, `?tri=echeance`, `?tri=-echeance`: plain links, for every keyboard.
SORTS = {"nom": _lazy("nom"), "echeance": _lazy("prochaine échéance")}
SORT_LABELS = {"nom": _lazy("Dispositif"), "echeance": _lazy("Prochaine échéance")}


def _sort(request) -> tuple[str, bool]:
    raw = request.GET.get("tri", "nom")
    key = raw.removeprefix("-")
    return (key, raw.startswith("-")) if key in SORTS else ("nom", False)


def sort_rows(rows: list[dict], key: str, *, descending: bool) -> list[dict]:
    """The rows by code, or by next deadline (the dispositifs without one after the others,
    whichever the order)."""
    if key == "echeance":
        dated = [r for r in rows if r["next"] is not None]
        undated = [r for r in rows if r["next"] is None]
        dated.sort(key=lambda r: (r["next"].deadline.at, r["dispositif"].code), reverse=descending)
        return dated + sorted(undated, key=lambda r: r["dispositif"].code)
    return sorted(rows, key=lambda r: r["dispositif"].code, reverse=descending)


def _sort_columns(request, key: str, descending: bool) -> list[dict]:
    kept = {k: v for k, v in request.GET.items() if k not in ("tri", "page", "format") and v}
    columns = []
    for name, label in SORT_LABELS.items():
        current = ("descending" if descending else "ascending") if name == key else None
        toggled = f"-{name}" if current == "ascending" else name
        columns.append(
            {
                "key": name,
                "label": label,
                "current": current,
                "url": "?" + urlencode({**kept, "tri": toggled}),
                "action": _("trier par ordre décroissant")
                if current == "ascending"
                else _("trier par ordre croissant"),
            }
        )
    return columns


@require_GET
@programme_admin_required
def index(request):
    at, at_param, at_error = _instant(request)
    figures, figures_at = _kept(
        f"sons-dashboard:overview:{_instant_key(at, at_param)}",
        lambda: (selectors.overview(at), at),
    )
    rows = []
    # Their calendar versions in one query: whether a version is announced is read from them;
    # their calendars in force in one more.
    dispositifs = list(Dispositif.objects.prefetch_related("calendar_versions"))
    calendars = calendars_in_force(dispositifs=dispositifs, at=at)
    for dispositif in dispositifs:
        lines = selectors.calendar_lines(calendars[dispositif.pk], at)
        rows.append(
            {
                "dispositif": dispositif,
                "next": selectors.next_deadline(lines),
                "published": any(line.deadline for line in lines),
                "announced": selectors.has_announced_version(dispositif),
                "figures": figures.get(dispositif.pk, {}),
            }
        )
    sort_key, descending = _sort(request)
    rows = sort_rows(rows, sort_key, descending=descending)
    context = _base_context(request, at, at_param, at_error)
    context.update(
        title=_("Tableau de bord des dispositifs"),
        rows=rows,
        sort_columns=_sort_columns(request, sort_key, descending),
        sort_text=_("triés par %(column)s, ordre %(order)s")
        % {
            "column": SORTS[sort_key],
            "order": _("décroissant") if descending else _("croissant"),
        },
        figures_at=format_paris(figures_at),
        figures_minutes=figures_seconds() // 60,
    )
    return render(request, "web/dashboard/index.html", context)


def _preview(lst: DashboardList, ctx: Context) -> dict:
    """A list on its dispositif's page: its capped count and its first rows."""
    queryset = lst.filtered(ctx, {})
    # One evaluation of the list gives its capped count and the keys of its first rows.
    keys = list(queryset.values_list("pk", flat=True)[: PREVIEW_COUNT_CAP + 1])
    count, more = min(len(keys), PREVIEW_COUNT_CAP), len(keys) > PREVIEW_COUNT_CAP
    shown = keys[:PREVIEW_SIZE]
    # An empty list has no rows to read (building that query costs as much as running it).
    first = {row.pk: row for row in lst.rows(queryset, shown)} if shown else {}
    rows = list(lst.decorate([first[k] for k in shown if k in first], ctx))
    return {
        "list": lst,
        "count": count,
        "more": more,
        "rows": [_cells(lst, row) for row in rows],
        "note": lst.deadline_note(ctx),
        "url": reverse("dashboard:list", args=[ctx.dispositif.code, lst.slug]),
    }


@require_GET
@programme_admin_required
def dispositif_page(request, code: str):
    at, at_param, at_error = _instant(request)
    dispositif = get_object_or_404(Dispositif, code=code)
    # The calendar in force, the announced deadlines and the history (below) from one read.
    calendar = read_calendar(dispositif=dispositif, at=at)
    lines = selectors.calendar_lines(calendar.in_force, at, announced=calendar.announced)
    ctx = Context(dispositif=dispositif, at=at, calendar=calendar.in_force)
    previews = [_preview(lst, ctx) for lst in LISTS.values()]
    figures, figures_at, figures_html = cached_figures(dispositif, at, at_param)
    context = _base_context(request, at, at_param, at_error)
    context.update(
        title=f"{dispositif.code} – {dispositif.title}",
        dispositif=dispositif,
        lines=lines,
        next=selectors.next_deadline(lines),
        history=selectors.history_with_moves(dispositif),
        openings=[
            (o["label"], format_paris(parse_paris(o["at"]))) for o in dispositif.asp_openings
        ],
        figures=figures,
        figures_html=figures_html,
        figures_at=format_paris(figures_at),
        figures_minutes=figures_seconds() // 60,
        previews=previews,
    )
    return render(request, "web/dashboard/dispositif.html", context)


@require_GET
@programme_admin_required
def list_page(request, code: str, slug: str):
    lst = LISTS.get(slug)
    if lst is None:
        raise Http404(_("Liste inconnue."))
    at, at_param, at_error = _instant(request)
    dispositif = get_object_or_404(Dispositif, code=code)
    ctx = Context(
        dispositif=dispositif, at=at, calendar=calendar_in_force(dispositif=dispositif, at=at)
    )
    form = FilterForm(request.GET, dispositif=dispositif, choices=lst.choices)
    filters = form.filters()
    queryset = lst.filtered(ctx, filters)

    export = request.GET.get("format")
    if export in ("csv", "xlsx"):
        rows = lst.decorate(queryset.iterator(chunk_size=exports.CHUNK), ctx)
        name = exports.export_name(dispositif.code, lst.slug, at)
        if export == "csv":
            return exports.csv_response(name, lst.columns, rows)
        return exports.xlsx_response(name, str(lst.title), lst.columns, rows)

    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    offset = (page - 1) * PAGE_SIZE
    fetched = list(lst.decorate(queryset[offset : offset + PAGE_SIZE + 1], ctx))
    count, more = _capped_count(queryset)
    query = {k: v for k, v in request.GET.items() if k not in ("page", "format") and v}

    def page_url(number: int) -> str:
        return "?" + urlencode({**query, "page": number})

    context = _base_context(request, at, at_param, at_error)
    context.update(
        title=f"{lst.title} – {dispositif.code}",
        dispositif=dispositif,
        list=lst,
        form=form,
        note=lst.deadline_note(ctx),
        headers=[c.header for c in lst.columns],
        rows=[_cells(lst, row) for row in fetched[:PAGE_SIZE]],
        count=count,
        more=more,
        page=page,
        first_row=offset + 1,
        last_row=offset + min(len(fetched), PAGE_SIZE),
        previous_url=page_url(page - 1) if page > 1 else "",
        next_url=page_url(page + 1) if len(fetched) > PAGE_SIZE else "",
        csv_url="?" + urlencode({**query, "format": "csv"}),
        xlsx_url="?" + urlencode({**query, "format": "xlsx"}),
        dispositif_url=reverse("dashboard:dispositif", args=[dispositif.code]),
    )
    return render(request, "web/dashboard/list.html", context)
