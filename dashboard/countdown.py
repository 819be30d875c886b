"""How far a deadline is from an instant, in the administrators' words: « J-12 », « J-1 · 26 h »,
« échue ». Days are counted on the Paris calendar; hours, under two days, in real elapsed time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalogue.deadlines import PARIS, is_in_time, require_aware

HOURS_SHOWN_BELOW = dt.timedelta(days=2)


@dataclass(frozen=True)
class Countdown:
    passed: bool
    days: int  # Paris calendar days from today to the deadline's day (negative once passed)
    hours: int | None  # whole hours left, only when less than two days are left
    label: str  # « J-12 », « J-1 · 26 h », « Échue »
    text: str  # the same in a sentence, for screen readers and tooltips

    @property
    def urgent(self) -> bool:
        return not self.passed and self.days <= 7


def countdown(deadline_at: dt.datetime, now: dt.datetime) -> Countdown:
    """The countdown to `deadline_at` seen at `now` (the deadline rule: passed at its instant)."""
    require_aware(deadline_at)
    require_aware(now)
    days = (deadline_at.astimezone(PARIS).date() - now.astimezone(PARIS).date()).days
    if not is_in_time(now, deadline_at):
        ago = -days
        text = (
            ngettext("échue depuis %(n)s jour", "échue depuis %(n)s jours", ago) % {"n": ago}
            if ago > 0
            else _("échue aujourd'hui")
        )
        return Countdown(True, days, None, _("Échue"), text)
    # In UTC: two instants of the same zone would otherwise subtract as wall-clock times.
    left = deadline_at.astimezone(dt.UTC) - now.astimezone(dt.UTC)
    if left < HOURS_SHOWN_BELOW:
        hours = int(left.total_seconds() // 3600)
        shown = f"{hours} h" if hours else _("< 1 h")
        text = (
            ngettext("dans %(n)s heure", "dans %(n)s heures", hours) % {"n": hours}
            if hours
            else _("dans moins d'une heure")
        )
        return Countdown(False, days, hours, f"J-{days} · {shown}", text)
    text = ngettext("dans %(n)s jour", "dans %(n)s jours", days) % {"n": days}
    return Countdown(False, days, None, f"J-{days}", text)
