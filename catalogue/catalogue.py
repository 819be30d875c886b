"""Loading the regulatory catalogue (dispositifs, calendar versions, tariffs) from data.

The data file holds only public figures with their sources; what is not public is absent, and
the admin shows it as missing. Loading is idempotent: each row is matched on its natural key and
updated in place, so running it twice leaves the same rows (and the same ids).

A deadline is written « 2023-12-14T14:00 » when its source gives the hour, « 2022-11-30 » when it
gives only the day (the deadline then runs to the end of that day, 24:00 Paris). What an
administrator recorded since (a version's publication, tier bounds not public in the data) is
kept when the file is loaded again.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from core.money import euros_to_cents

from .deadlines import DeadlineKind, parse_deadline, parse_paris
from .models import (
    CalendarVersion,
    Deadline,
    Dispositif,
    Tariff,
    TariffTerm,
    TariffTier,
    UsageGate,
)
from .rules import TariffKind, TariffSpec, Tier, tier_amounts_problem, tiers_are_contiguous

DATA_FILE = Path(__file__).resolve().parent / "data" / "dispositifs.json"


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _dec(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


@transaction.atomic
def load_catalogue(path: Path = DATA_FILE) -> dict[str, int]:
    data = json.loads(path.read_text(encoding="utf-8"))
    counts = {"dispositifs": 0, "versions": 0, "deadlines": 0, "tariffs": 0}
    for item in data["dispositifs"]:
        dispositif = _load_dispositif(item)
        counts["dispositifs"] += 1
        for index, version_data in enumerate(item.get("calendar", [])):
            counts["versions"] += 1
            counts["deadlines"] += _load_version(dispositif, version_data, founding=index == 0)
        for tariff_data in item.get("tariffs", []):
            tariff = _load_tariff(dispositif, tariff_data)
            problem = tariff.demo_problem()
            if problem:
                raise ValueError(f"{dispositif.code} : {problem}")
            counts["tariffs"] += 1
        for gate in item.get("usage_gates", []):
            UsageGate.objects.update_or_create(
                dispositif=dispositif,
                prestation=gate["prestation"],
                indicator=gate["indicator"],
                defaults={
                    "label": gate["label"],
                    "comparison": gate["comparison"],
                    "threshold": Decimal(gate["threshold"]),
                    "observation_months": gate.get("observation_months"),
                    "reading": gate.get("reading", UsageGate.Reading.PERIOD_RATE),
                },
            )
    return counts


def _load_dispositif(item: dict[str, Any]) -> Dispositif:
    window = item.get("conditional_orders") or {}
    dispositif, _ = Dispositif.objects.update_or_create(
        code=item["code"],
        defaults={
            "couloir": item["couloir"],
            "software_type": item["software_type"],
            "vague": item["vague"],
            "title": item["title"],
            "arrete": item.get("arrete") or "",
            "jorf_date": _date(item.get("jorf_date")),
            "nor": item.get("nor") or "",
            "advance_rate": _dec(item.get("advance_rate")),
            "acceptance": item.get("acceptance") or "",
            "cutoff_time": dt.time.fromisoformat(item.get("cutoff_time") or "14:00"),
            "conditional_window_amount": window.get("amount"),
            "conditional_window_unit": window.get("unit", ""),
            "pilot_size": item.get("pilot_size"),
            "requires_on_preseries": bool(item.get("requires_on_preseries")),
            "public_max_ht_cents": (
                euros_to_cents(item["public_max_ht"]) if item.get("public_max_ht") else None
            ),
            "acceptance_statements": item.get("acceptance_statements") or [],
            "prestation_variants": item.get("prestation_variants") or [],
            "asp_openings": _openings(item.get("asp_openings") or []),
            "sources": item.get("sources") or "",
        },
    )
    return dispositif


def _openings(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for item in items:
        parse_paris(item["at"])  # a malformed instant in the data is an error
    return items


def _load_version(dispositif: Dispositif, data: dict[str, Any], *, founding: bool) -> int:
    defaults = {
        "founding": founding,
        "signed_on": _date(data.get("signed_on")),
        "nor": data.get("nor") or "",
        "source": data.get("source") or "",
    }
    # A publication an administrator recorded (`publish_calendar_version`) is a fact the data
    # file may not know yet: reloading the file never takes it back.
    existing = CalendarVersion.objects.filter(
        dispositif=dispositif, legal_reference=data["legal_reference"]
    ).first()
    for field in ("published_on", "in_force_on"):
        value = _date(data.get(field))
        if value is not None or existing is None or getattr(existing, field) is None:
            defaults[field] = value
    version, _ = CalendarVersion.objects.update_or_create(
        dispositif=dispositif, legal_reference=data["legal_reference"], defaults=defaults
    )
    deadlines = data.get("deadlines", {})
    for kind, local in deadlines.items():
        DeadlineKind(kind)  # an unknown kind in the data is an error, not a silent skip
        at, hour_sourced = parse_deadline(local)
        Deadline.objects.update_or_create(
            version=version, kind=kind, defaults={"at": at, "hour_sourced": hour_sourced}
        )
    version.deadlines.exclude(kind__in=list(deadlines)).delete()
    return len(deadlines)


def _load_tariff(dispositif: Dispositif, data: dict[str, Any]) -> Tariff:
    kind = TariffKind(data["kind"])
    flat = data.get("flat_amount")
    cap = data.get("cap")
    floor = data.get("floor")
    bounds_known = bool(data.get("tier_bounds_known", True))
    existing = Tariff.objects.filter(
        dispositif=dispositif, prestation=data.get("prestation", "main")
    ).first()
    if not bounds_known and existing is not None and existing.tier_bounds_known:
        # Bounds an administrator entered since (not public in the data): reloading the file
        # keeps them and their tiers.
        return existing
    tariff, _ = Tariff.objects.update_or_create(
        dispositif=dispositif,
        prestation=data.get("prestation", "main"),
        defaults={
            "kind": kind,
            "vat_rate": Decimal(data.get("vat_rate", "0.20")),
            "flat_cents": euros_to_cents(flat) if flat is not None else None,
            "characteristic": data.get("characteristic", ""),
            "base_amount": Decimal(data.get("base_amount", "0")),
            "cap_cents": euros_to_cents(cap) if cap is not None else None,
            "floor_cents": euros_to_cents(floor) if floor is not None else None,
            "amount_is_maximum": bool(data.get("amount_is_maximum", False)),
            "tier_bounds_known": bounds_known,
            "is_demo": bool(data.get("demo", False)),
            "source": data.get("source", ""),
        },
    )
    tiers = [
        Tier(
            lower=Decimal(t["from"]),
            upper=_dec(t.get("to")),
            amount_cents=euros_to_cents(t["amount"]),
        )
        for t in data.get("tiers", [])
    ]
    if kind == TariffKind.TIERED and not tiers_are_contiguous(tiers):
        raise ValueError(f"{dispositif.code}: tranches non contiguës")
    problem = tier_amounts_problem(
        TariffSpec(
            kind=kind,
            vat_rate=Decimal(0),
            tiers=tuple(tiers),
            cap_cents=euros_to_cents(cap) if cap is not None else None,
            floor_cents=euros_to_cents(floor) if floor is not None else None,
        )
    )
    if problem:
        raise ValueError(f"{dispositif.code}: {problem}")
    if kind == TariffKind.TIERED and bounds_known and not tiers:
        raise ValueError(f"{dispositif.code}: barème par tranches sans tranche ni bornes inconnues")
    for tier in tiers:
        TariffTier.objects.update_or_create(
            tariff=tariff,
            lower=tier.lower,
            defaults={"upper": tier.upper, "amount_cents": tier.amount_cents},
        )
    tariff.tiers.exclude(lower__in=[t.lower for t in tiers]).delete()
    terms = data.get("terms", [])
    for term in terms:
        TariffTerm.objects.update_or_create(
            tariff=tariff,
            characteristic=term["characteristic"],
            defaults={"unit_amount": Decimal(term["unit_amount"])},
        )
    tariff.terms.exclude(characteristic__in=[t["characteristic"] for t in terms]).delete()
    return tariff
