"""When a reminder is due: pure functions over aware instants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from catalogue.deadlines import PARIS, is_in_time, require_aware


def threshold_before(
    deadline_at: dt.datetime, at: dt.datetime, thresholds: Sequence[int]
) -> int | None:
    """The tightest threshold (days before the deadline) reached at `at`, or None when the
    deadline is still further than every threshold, or already passed.

    With thresholds 30, 7, 1: 20 days before gives 30, 5 days before gives 7, 2 hours before
    gives 1. A run that missed a threshold therefore sends the most urgent one only.
    Days are calendar days on the Paris clock: J-30 of « 20/11 à 14:00 » is « 21/10 à 14:00 »,
    across a daylight-saving change too.
    """
    local = require_aware(deadline_at).astimezone(PARIS)
    if not is_in_time(at, local):
        return None
    reached = [n for n in thresholds if at >= local - dt.timedelta(days=n)]
    return min(reached) if reached else None


def threshold_after(since: dt.datetime, at: dt.datetime, thresholds: Sequence[int]) -> int | None:
    """The largest threshold (days waited since `since`, Paris calendar days) reached at `at`."""
    local = require_aware(since).astimezone(PARIS)
    reached = [n for n in thresholds if at >= local + dt.timedelta(days=n)]
    return max(reached) if reached else None
