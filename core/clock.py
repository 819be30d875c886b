"""Paris time, as every page and message shows it: one zone, one way of writing an instant."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def require_aware(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("Un instant d'échéance doit porter son fuseau horaire.")
    return instant


def format_paris(instant: dt.datetime, *, seconds: bool = False) -> str:
    """« 14/12/2023 à 14:00 », Paris wall-clock time: how every instant is shown to people."""
    local = require_aware(instant).astimezone(PARIS)
    return local.strftime("%d/%m/%Y à %H:%M:%S" if seconds else "%d/%m/%Y à %H:%M")
