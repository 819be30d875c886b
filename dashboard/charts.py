"""Weekly bar charts drawn by the server as inline SVG (no script, no font, no library).

`weekly_chart` turns per-week figures (already aggregated in SQL) into the geometry the template
`web/dashboard/_chart.html` draws, and into the rows of the table that is its text alternative.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from core.money import format_euros

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 72, 8, 12, 36
MAX_WEEKS = 104  # two years: beyond that, bars are too thin to read
MAX_X_LABELS = 6
MIN_SLOTS = 12  # a chart of a few weeks keeps bars of a normal width
# The axis labels' font (dashboard.css: 15px, digits ~0.6 em wide, a little more for safety).
AXIS_CHAR_WIDTH = 9.5


@dataclass(frozen=True)
class Series:
    label: str
    css_class: str
    by_week: Mapping[dt.date, int]  # Monday of the ISO week -> count, or cents when money


@dataclass
class Chart:
    key: str
    title: str
    money: bool
    series: list[Series]
    weeks: list[dt.date] = field(default_factory=list)
    bars: list[dict] = field(default_factory=list)
    ticks: list[dict] = field(default_factory=list)
    x_labels: list[dict] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    totals: list[str] = field(default_factory=list)
    summary: str = ""
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM
    tick_label_x: int = LEFT - 6
    week_label_y: int = HEIGHT - BOTTOM + 18

    @property
    def empty(self) -> bool:
        return not self.weeks


def week_range(series: Sequence[Series]) -> list[dt.date]:
    """Every week from the first with a figure to the last, the latest MAX_WEEKS at most."""
    weeks = sorted({w for s in series for w in s.by_week})
    if not weeks:
        return []
    last = weeks[-1]
    first = max(weeks[0], last - dt.timedelta(weeks=MAX_WEEKS - 1))
    count = (last - first).days // 7 + 1
    return [first + dt.timedelta(weeks=n) for n in range(count)]


def nice_step(raw: float) -> int:
    """The smallest 1, 2 or 5 x 10^k at least `raw` (and at least 1)."""
    if raw <= 1:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def compact(value: int, *, money: bool) -> str:
    """An axis label: « 1 200 », « 35 k€ », « 1,5 M€ » (money in cents)."""
    if not money:
        return f"{value:,}".replace(",", "\u202f")
    euros = value // 100
    if euros >= 1_000_000:
        text = f"{euros / 1_000_000:.1f}".rstrip("0").rstrip(".").replace(".", ",")
        return f"{text}\u00a0M€"
    if euros >= 1_000:
        return f"{euros // 1_000}\u00a0k€"
    return f"{euros}\u00a0€"


def _n(value: float) -> str:
    """A coordinate as SVG reads it (a dot, whatever the language of the page)."""
    return f"{value:.1f}"


def _figure(value: int, money: bool) -> str:
    return format_euros(value) if money else f"{value:,}".replace(",", "\u202f")


def _x_label(centre: float, week: dt.date) -> dict:
    """A week's label under its bar, centred, unless it would pass the right edge of the drawing
    (the last weeks of a long chart): then it ends at that edge, whole."""
    label = week.strftime("%d/%m/%y")
    half = len(label) * AXIS_CHAR_WIDTH / 2
    if centre + half > WIDTH - 1:
        return {"x": _n(WIDTH - 1), "label": label, "anchor": "end"}
    return {"x": _n(centre), "label": label, "anchor": "middle"}


def weekly_chart(key: str, title: str, series: list[Series], *, money: bool = False) -> Chart:
    chart = Chart(key=key, title=title, money=money, series=series)
    chart.weeks = week_range(series)
    chart.totals = [_figure(sum(s.by_week.values()), money) for s in series]
    if not chart.weeks:
        return chart
    peak = max((s.by_week.get(w, 0) for s in series for w in chart.weeks), default=0)
    step = nice_step(peak / 4) if peak else 1
    top_value = step * max(1, math.ceil(peak / step))
    plot_h = chart.baseline - TOP
    plot_w = chart.plot_right - chart.plot_left

    def y(value: int) -> float:
        return chart.baseline - plot_h * value / top_value

    chart.ticks = [
        {"y": _n(y(v)), "label": compact(v, money=money)} for v in range(0, top_value + 1, step)
    ]
    slot = plot_w / max(len(chart.weeks), MIN_SLOTS)
    bar_w = slot * 0.8 / len(series)
    every = math.ceil(len(chart.weeks) / MAX_X_LABELS)
    for n, week in enumerate(chart.weeks):
        x0 = chart.plot_left + n * slot + slot * 0.1
        values = [s.by_week.get(week, 0) for s in series]
        when = week.strftime("%d/%m/%Y")
        for i, (s, value) in enumerate(zip(series, values, strict=True)):
            if value:
                chart.bars.append(
                    {
                        "x": _n(x0 + i * bar_w),
                        "y": _n(y(value)),
                        "width": _n(max(bar_w - 0.5, 0.5)),
                        "height": _n(chart.baseline - y(value)),
                        "css_class": s.css_class,
                        "tooltip": _("%(series)s, semaine du %(week)s : %(value)s")
                        % {"series": s.label, "week": when, "value": _figure(value, money)},
                    }
                )
        if n % every == 0:
            chart.x_labels.append(_x_label(chart.plot_left + (n + 0.5) * slot, week))
        if any(values):
            chart.rows.append({"week": week, "values": [_figure(v, money) for v in values]})
    busiest = max(chart.weeks, key=lambda w: sum(s.by_week.get(w, 0) for s in series))
    totals = ", ".join(
        _("%(series)s : %(total)s au total") % {"series": s.label, "total": t}
        for s, t in zip(series, chart.totals, strict=True)
    )
    chart.summary = _(
        "%(count)s semaines du %(first)s au %(last)s ; %(totals)s ; semaine la plus forte : "
        "celle du %(busiest)s."
    ) % {
        "count": len(chart.weeks),
        "first": chart.weeks[0].strftime("%d/%m/%Y"),
        "last": chart.weeks[-1].strftime("%d/%m/%Y"),
        "totals": totals,
        "busiest": busiest.strftime("%d/%m/%Y"),
    }
    return chart
