"""Cross-dispositif rules as pure functions over plain values: working days and usage gates.

Working days serve the « 10 jours ouvrés » of the one-financing-per-client conflict rule; usage
gates judge the monthly measurements an editor reports (documents sent to the DMP / Mon espace
santé) against a dispositif's threshold. Rates are exact fractions, never floats.

A rate gate is read one of two ways, chosen per gate in the catalogue (UsageGate.reading):

- « period_rate » (SONS.md, life of a Prestation, step 9; seed 000): one rate over an observation
  period of at least N consecutive months, documents sent / documents produced summed over the
  period. The text sets a minimum length and no start (« sur une période d'observation d'au moins
  6 mois ») and pays for the « atteinte » of the performance: the gate is met when some period of
  N or more consecutive measured months reaches the threshold. The period shown is the best one
  (highest rate; then the latest, then the longest), so a met gate stays met when later months
  are reported. A missing month ends a period (nothing measured, no rate over it); a month with
  nothing produced is measured and weighs nothing.
- « each_month »: every month of a run of N consecutive months meets the threshold (the former
  reading, kept for a text that would say so).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import holidays

from catalogue.deadlines import PARIS, require_aware, start_of_day_paris

__all__ = [
    "GateOutcome",
    "MonthUsage",
    "ObservationPeriod",
    "best_observation_period",
    "consecutive_months_meeting",
    "describe_months",
    "evaluate_usage_gate",
    "is_working_day",
    "percent_fr",
    "sent_total",
    "working_days_deadline",
]

DMP_DOCUMENTS_WITH_QUALIFIED_INS = "dmp_documents_with_qualified_ins"
MES_DOCUMENTS_SENT_RATIO = "mes_documents_sent_ratio"

# How a rate gate reads its observation period (UsageGate.Reading in the catalogue).
PERIOD_RATE = "period_rate"
EACH_MONTH = "each_month"
READINGS = (PERIOD_RATE, EACH_MONTH)

_COMPARISONS: dict[str, Callable[[Fraction, Fraction], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
}

_SATURDAY = 5


# --- Working days -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _public_holidays(year: int) -> frozenset[dt.date]:
    # A frozenset, not the holidays object: that one grows when asked about other years.
    return frozenset(holidays.France(years=year))


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday, and not a metropolitan French public holiday (jour férié)."""
    if isinstance(day, dt.datetime):
        raise TypeError("Un jour ouvré se juge sur une date, pas sur un instant.")
    return day.weekday() < _SATURDAY and day not in _public_holidays(day.year)


def working_days_deadline(opened_at: dt.datetime, days: int = 10) -> dt.datetime:
    """The instant a window of `days` working days opened at `opened_at` closes.

    Counting starts on the Paris day after the opening; the window closes at 00:00 Paris the day
    after the last working day, so an act at 23:59:59 on that day is in time under `is_in_time`.
    """
    require_aware(opened_at)
    if days < 1:
        raise ValueError("Un délai en jours ouvrés compte au moins un jour.")
    day = opened_at.astimezone(PARIS).date()
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return start_of_day_paris(day + dt.timedelta(days=1))


# --- Usage gates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthUsage:
    """One month of measurements reported for a client's software."""

    month: dt.date  # always the first day of the month
    produced: int  # documents produced by the software
    sent: int  # documents sent to the DMP / Mon espace santé with a qualified INS

    def __post_init__(self) -> None:
        if isinstance(self.month, dt.datetime) or not isinstance(self.month, dt.date):
            raise ValueError("Le mois d'une mesure est une date (le premier jour du mois).")
        if self.month.day != 1:
            raise ValueError(
                f"Le mois d'une mesure est désigné par son premier jour, pas le {self.month}."
            )
        if self.produced < 0 or self.sent < 0:
            raise ValueError("Un nombre de documents ne peut pas être négatif.")
        if self.sent > self.produced:
            raise ValueError(
                f"{self.sent} documents envoyés pour {self.produced} produits en "
                f"{self.month:%m/%Y} : on ne peut pas envoyer plus qu'on ne produit."
            )

    @property
    def rate(self) -> Fraction | None:
        """sent / produced exactly, or None when nothing was produced (no rate to judge)."""
        return Fraction(self.sent, self.produced) if self.produced else None


@dataclass(frozen=True)
class GateOutcome:
    met: bool
    observed: str  # short French phrase for the administrator
    # The monthly figures shown beside the outcome (the period judged), oldest first.
    months: tuple[MonthUsage, ...] = ()


@dataclass(frozen=True)
class ObservationPeriod:
    """Consecutive measured months and the one rate over them: sent / produced, summed."""

    months: tuple[MonthUsage, ...]  # oldest first, calendar-consecutive

    @property
    def sent(self) -> int:
        return sum(usage.sent for usage in self.months)

    @property
    def produced(self) -> int:
        return sum(usage.produced for usage in self.months)

    @property
    def rate(self) -> Fraction | None:
        produced = self.produced
        return Fraction(self.sent, produced) if produced else None

    @property
    def first(self) -> dt.date:
        return self.months[0].month

    @property
    def last(self) -> dt.date:
        return self.months[-1].month


def sent_total(months: Iterable[MonthUsage]) -> int:
    return sum(usage.sent for usage in _by_month(months).values())


def consecutive_months_meeting(
    months: Iterable[MonthUsage], threshold: Decimal, comparison: str
) -> int:
    """The longest run of consecutive calendar months whose rate meets the threshold.

    A missing month or a month with nothing produced breaks the run; input order does not matter.
    """
    compare = _comparison(comparison)
    bound = _exact(threshold)
    longest = run = 0
    previous: int | None = None
    for index, usage in sorted((_month_index(m), u) for m, u in _by_month(months).items()):
        rate = usage.rate
        if rate is not None and compare(rate, bound):
            run = run + 1 if previous is not None and index == previous + 1 else 1
            previous = index
            longest = max(longest, run)
        else:
            run, previous = 0, None
    return longest


def best_observation_period(
    months: Iterable[MonthUsage], minimum_months: int
) -> ObservationPeriod | None:
    """The observation period of at least `minimum_months` consecutive measured months with the
    highest rate (then the latest, then the longest); None when no such period produced anything.

    Every window of every unbroken run of measured months is weighed, exactly: a longer period
    can beat all its shorter ones (a weak month between two strong ones). Input order does not
    matter.
    """
    if minimum_months < 1:
        raise ValueError("Une période d'observation compte au moins un mois.")
    best: ObservationPeriod | None = None
    best_key: tuple[Fraction, int, int] | None = None
    for run in _runs(months):
        # Prefix sums over the run: the window [start, end) sums in constant time.
        sent = [0]
        produced = [0]
        for usage in run:
            sent.append(sent[-1] + usage.sent)
            produced.append(produced[-1] + usage.produced)
        for end in range(minimum_months, len(run) + 1):
            for start in range(0, end - minimum_months + 1):
                total = produced[end] - produced[start]
                if not total:
                    continue
                key = (
                    Fraction(sent[end] - sent[start], total),
                    _month_index(run[end - 1].month),
                    end - start,
                )
                if best_key is None or key > best_key:
                    best_key = key
                    best = ObservationPeriod(months=tuple(run[start:end]))
    return best


def describe_months(months: Iterable[MonthUsage]) -> str:
    """« 01/2026 : 61 envoyés / 100 produits (61 %) ; 02/2026 : … », oldest first."""
    parts = []
    for usage in sorted(months, key=lambda u: u.month):
        figures = (
            f"{usage.month:%m/%Y} : {usage.sent} {_plural(usage.sent, 'envoyé', 'envoyés')} / "
            f"{usage.produced} {_plural(usage.produced, 'produit', 'produits')}"
        )
        rate = usage.rate
        parts.append(f"{figures} ({percent_fr(rate)} %)" if rate is not None else figures)
    return " ; ".join(parts)


def evaluate_usage_gate(
    *,
    indicator: str,
    comparison: str,
    threshold: Decimal,
    observation_months: int | None,
    months: Iterable[MonthUsage],
    reading: str = PERIOD_RATE,
) -> GateOutcome:
    """Judges one usage gate of the catalogue against a client's monthly measurements.

    `reading` says how a rate gate reads its observation period (module docstring); a count
    gate has no period and ignores it.
    """
    try:
        evaluate = _INDICATORS[indicator]
    except KeyError:
        raise ValueError(f"Indicateur d'usage inconnu : « {indicator} ».") from None
    if reading not in READINGS:
        raise ValueError(
            f"Lecture de la période d'observation inconnue : « {reading} » "
            f"(attendu : {' ou '.join(READINGS)})."
        )
    return evaluate(comparison, threshold, observation_months, months, reading)


def _count_gate(
    comparison: str,
    threshold: Decimal,
    observation_months: int | None,
    months: Iterable[MonthUsage],
    reading: str,
) -> GateOutcome:
    compare = _comparison(comparison)
    bound = _exact(threshold)
    if observation_months is not None:
        # A count has no window here: silently ignoring a configured one would mislead.
        raise ValueError(
            "Un seuil en nombre de documents ne prend pas de période d'observation "
            f"({observation_months} mois configurés)."
        )
    total = sent_total(months)
    document = _plural(total, "document envoyé", "documents envoyés")
    required = ("plus de " if comparison == "gt" else "") + _decimal_fr(threshold)
    return GateOutcome(
        met=compare(Fraction(total), bound),
        observed=f"{total} {document} (seuil : {required})",
    )


def _rate_gate(
    comparison: str,
    threshold: Decimal,
    observation_months: int | None,
    months: Iterable[MonthUsage],
    reading: str,
) -> GateOutcome:
    if _exact(threshold) > 1:
        # Catches « 60 » typed for 60 %, which no month could ever reach.
        raise ValueError(
            f"Un seuil de taux s'exprime entre 0 et 1 (ex. 0,60 pour 60 %), pas {threshold}."
        )
    if observation_months is None or observation_months < 1:
        raise ValueError("Un seuil de taux exige une période d'observation d'au moins un mois.")
    by_month = _by_month(months)
    if reading == PERIOD_RATE:
        return _period_rate_gate(comparison, threshold, observation_months, by_month)
    run = consecutive_months_meeting(by_month.values(), threshold, comparison)
    percent = _decimal_fr(threshold * 100)
    relation = f"au-dessus de {percent} %" if comparison == "gt" else f"à {percent} % ou plus"
    return GateOutcome(
        met=run >= observation_months,
        observed=(
            f"{run} {_plural(run, 'mois consécutif', 'mois consécutifs')} {relation} "
            f"(exigé : {observation_months})"
        ),
        months=tuple(usage for _month, usage in sorted(by_month.items())),
    )


def _period_rate_gate(
    comparison: str,
    threshold: Decimal,
    observation_months: int,
    by_month: dict[dt.date, MonthUsage],
) -> GateOutcome:
    percent = _decimal_fr(threshold * 100)
    relation = f"plus de {percent} %" if comparison == "gt" else f"au moins {percent} %"
    required = f"exigé : {relation} sur au moins {observation_months} mois consécutifs"
    period = best_observation_period(by_month.values(), observation_months)
    if period is None:
        longest = max((len(run) for run in _runs(by_month.values())), default=0)
        return GateOutcome(
            met=False,
            observed=(
                f"aucune période d'observation de {observation_months} mois consécutifs avec "
                f"des documents produits ({longest} "
                f"{_plural(longest, 'mois consécutif mesuré', 'mois consécutifs mesurés')} au "
                f"plus ; {required})"
            ),
            months=tuple(usage for _month, usage in sorted(by_month.items())),
        )
    rate = period.rate
    assert rate is not None  # a period without production is never the best one
    met = _comparison(comparison)(rate, _exact(threshold))
    count = len(period.months)
    return GateOutcome(
        met=met,
        observed=(
            f"taux {'' if met else 'au mieux '}de {percent_fr(rate)} % sur {count} mois "
            f"consécutifs ({period.first:%m/%Y} à {period.last:%m/%Y}) : {period.sent} "
            f"{_plural(period.sent, 'document envoyé', 'documents envoyés')} sur "
            f"{period.produced} {_plural(period.produced, 'produit', 'produits')} ({required})"
        ),
        months=period.months,
    )


_Gate = Callable[[str, Decimal, int | None, Iterable[MonthUsage], str], GateOutcome]

# The one place an indicator of the catalogue (UsageGate.indicator) meets its evaluation.
_INDICATORS: dict[str, _Gate] = {
    DMP_DOCUMENTS_WITH_QUALIFIED_INS: _count_gate,
    MES_DOCUMENTS_SENT_RATIO: _rate_gate,
}


def _by_month(months: Iterable[MonthUsage]) -> dict[dt.date, MonthUsage]:
    by_month: dict[dt.date, MonthUsage] = {}
    for usage in months:
        if usage.month in by_month:
            raise ValueError(f"Deux mesures pour le même mois ({usage.month:%m/%Y}).")
        by_month[usage.month] = usage
    return by_month


def _month_index(month: dt.date) -> int:
    return month.year * 12 + month.month - 1


def _runs(months: Iterable[MonthUsage]) -> list[list[MonthUsage]]:
    """The unbroken runs of calendar-consecutive measured months, each oldest first."""
    runs: list[list[MonthUsage]] = []
    previous: int | None = None
    for index, usage in sorted((_month_index(m), u) for m, u in _by_month(months).items()):
        if previous is not None and index == previous + 1:
            runs[-1].append(usage)
        else:
            runs.append([usage])
        previous = index
    return runs


def _comparison(comparison: str) -> Callable[[Fraction, Fraction], bool]:
    try:
        return _COMPARISONS[comparison]
    except KeyError:
        raise ValueError(
            f"Comparaison inconnue : « {comparison} » (attendu : gt ou gte)."
        ) from None


def _exact(threshold: Decimal | int) -> Fraction:
    if isinstance(threshold, float | bool) or not isinstance(threshold, Decimal | int):
        raise TypeError("Un seuil est un Decimal (ou un entier), jamais un flottant.")
    if isinstance(threshold, Decimal) and not threshold.is_finite():
        raise ValueError(f"Un seuil doit être un nombre fini, pas {threshold}.")
    return Fraction(threshold)


def _decimal_fr(value: Decimal | int) -> str:
    """Decimal('60.0000') -> '60', Decimal('0.605') * 100 -> '60,5' (French decimal comma)."""
    return format(Decimal(value).normalize(), "f").replace(".", ",")


def percent_fr(rate: Fraction) -> str:
    """An exact rate as a French percentage cut (never rounded up) to two decimals:
    Fraction(7, 12) -> '58,33', Fraction(61, 100) -> '61'. The judgement uses the exact rate."""
    hundredths = rate.numerator * 10_000 // rate.denominator
    return _decimal_fr(Decimal(hundredths).scaleb(-2))


def _plural(count: int, singular: str, plural: str) -> str:
    # French: 0 and 1 take the singular.
    return singular if count < 2 else plural


# -- Acceptance -------------------------------------------------------------------------------

# Which acceptance documents satisfy what a dispositif requires ("" = not known: a VA or a MOM).
ACCEPTED_KINDS: dict[str, frozenset[str]] = {
    "": frozenset({"va", "mom"}),
    "va": frozenset({"va"}),
    "mom": frozenset({"mom"}),
    "va_or_mom": frozenset({"va", "mom"}),
    "pilot_pv": frozenset({"va", "pilot_pv"}),
}


def accepts(required: str, kind: str) -> bool:
    """Whether a document of `kind` (va, mom, pilot_pv) can accept a delivery under `required`."""
    return kind in ACCEPTED_KINDS.get(required, frozenset())


def earliest_acceptance(
    required: str, on_file: dict[str, dt.datetime | None]
) -> tuple[str, dt.datetime] | None:
    """The acceptance that counts among those on file: the earliest of the kinds `required`
    admits, as (kind, instant); None when none is on file."""
    candidates = [(k, t) for k, t in on_file.items() if t is not None and accepts(required, k)]
    return min(candidates, key=lambda c: c[1]) if candidates else None
