"""Loading the regulatory catalogue (dispositifs, calendar versions, tariffs) from data.

The data file holds only public figures with their sources; what is not public is absent, and
the admin shows it as missing. Loading is idempotent: each row is matched on its natural key and
updated in place, so running it twice leaves the same rows (and the same ids).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from core.money import euros_to_cents

from .deadlines import DeadlineKind, parse_paris
from .models import (
    CalendarVersion,
    Deadline,
    Dispositif,
    Tariff,
    TariffTerm,
    TariffTier,
    UsageGate,
)
from .rules import TariffKind, Tier, tiers_are_contiguous

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
            _load_tariff(dispositif, tariff_data)
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
            "acceptance_statements": item.get("acceptance_statements") or [],
            "sources": item.get("sources") or "",
        },
    )
    return dispositif


def _load_version(dispositif: Dispositif, data: dict[str, Any], *, founding: bool) -> int:
    version, _ = CalendarVersion.objects.update_or_create(
        dispositif=dispositif,
        legal_reference=data["legal_reference"],
        defaults={
            "founding": founding,
            "published_on": _date(data.get("published_on")),
            "nor": data.get("nor") or "",
            "source": data.get("source") or "",
        },
    )
    deadlines = data.get("deadlines", {})
    for kind, local in deadlines.items():
        DeadlineKind(kind)  # an unknown kind in the data is an error, not a silent skip
        Deadline.objects.update_or_create(
            version=version, kind=kind, defaults={"at": parse_paris(local)}
        )
    version.deadlines.exclude(kind__in=list(deadlines)).delete()
    return len(deadlines)


def _load_tariff(dispositif: Dispositif, data: dict[str, Any]) -> Tariff:
    kind = TariffKind(data["kind"])
    flat = data.get("flat_amount")
    cap = data.get("cap")
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
