"""Working days and usage gates, without a database: Paris calendar, holidays, exact rates."""

import datetime as dt
import random
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from catalogue.deadlines import PARIS, is_in_time, parse_paris
from sons.rules import (
    GateOutcome,
    MonthUsage,
    best_observation_period,
    consecutive_months_meeting,
    describe_months,
    evaluate_usage_gate,
    is_working_day,
    sent_total,
    working_days_deadline,
)

UTC = dt.UTC
PROPERTY = hypothesis_settings(max_examples=200, database=None, deadline=None)

# --- Working days -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 5, 7), True),  # an ordinary Thursday
        (dt.date(2026, 5, 9), False),  # Saturday
        (dt.date(2026, 5, 10), False),  # Sunday
        (dt.date(2026, 5, 1), False),  # Fête du Travail, a Friday
        (dt.date(2026, 5, 8), False),  # Victoire 1945, a Friday
        (dt.date(2026, 5, 14), False),  # Ascension, a Thursday
        (dt.date(2026, 5, 25), False),  # Lundi de Pentecôte: a holiday for the library
        (dt.date(2026, 7, 14), False),  # Fête nationale, a Tuesday
        (dt.date(2027, 1, 1), False),  # Jour de l'an, a Friday
        # Vendredi saint and Saint-Étienne are holidays only in Alsace-Moselle, not metropolitan.
        (dt.date(2026, 4, 3), True),
        (dt.date(2025, 12, 26), True),
    ],
)
def test_working_days_are_weekdays_that_are_not_metropolitan_public_holidays(day, expected):
    assert is_working_day(day) is expected


def test_a_datetime_is_not_a_day():
    # Its own-zone date might not be the Paris date: the caller must convert first.
    with pytest.raises(TypeError):
        is_working_day(dt.datetime(2026, 5, 7, 12, tzinfo=PARIS))


def test_a_window_opened_on_monday_4_may_2026_skips_victoire_and_ascension():
    # Counting starts Tue 5 May: 5, 6, 7 (3) — Fri 8 Victoire 1945 skipped — 11, 12, 13 (6) —
    # Thu 14 Ascension skipped — 15 (7), 18, 19, 20 (10). The 10th working day is Wed 20 May,
    # so the window closes at 00:00 Paris on Thu 21 May (CEST, 22:00 UTC on the 20th).
    deadline = working_days_deadline(parse_paris("2026-05-04T10:00"))
    assert deadline == dt.datetime(2026, 5, 20, 22, 0, tzinfo=UTC)
    assert deadline.astimezone(PARIS).replace(tzinfo=None) == dt.datetime(2026, 5, 21)  # noqa: DTZ001
    assert is_in_time(parse_paris("2026-05-20T23:59:59"), deadline)
    assert not is_in_time(parse_paris("2026-05-21T00:00:00"), deadline)


def test_a_window_opened_on_friday_afternoon_skips_the_weekend():
    opened = parse_paris("2026-03-06T17:00")  # Friday
    # One working day: Monday 9 March, closing at 00:00 on Tuesday 10 March.
    assert working_days_deadline(opened, days=1) == parse_paris("2026-03-10T00:00")
    # Ten: Mon 9 – Fri 13 (5), Mon 16 – Fri 20 (10), closing at 00:00 on Saturday 21 March.
    assert working_days_deadline(opened) == parse_paris("2026-03-21T00:00")


def test_a_window_opened_on_a_weekend_starts_counting_on_monday():
    # Sunday 23:59 Paris: Monday 11 May is the first working day.
    assert working_days_deadline(parse_paris("2026-05-10T23:59"), days=1) == parse_paris(
        "2026-05-12T00:00"
    )


def test_a_window_across_christmas_and_new_year():
    # Opened Tue 22 Dec 2026: 23, 24 (2) — Fri 25 Noël — 28, 29, 30, 31 (6) — Fri 1 Jan Jour de
    # l'an — Mon 4, 5, 6, 7 Jan 2027 (10). Closes at 00:00 Paris on Fri 8 Jan 2027.
    deadline = working_days_deadline(parse_paris("2026-12-22T09:00"))
    assert deadline == parse_paris("2027-01-08T00:00")
    assert deadline == dt.datetime(2027, 1, 7, 23, 0, tzinfo=UTC)


def test_the_paris_date_of_the_opening_governs_not_the_utc_date():
    # 2026-03-01T23:30 UTC is Monday 2 March 00:30 in Paris: counting starts Tue 3 March.
    # 3, 4, 5, 6 (4), 9 – 13 (9), Mon 16 (10): closes at 00:00 Paris on Tue 17 March.
    # Judged on the UTC date (Sunday 1 March) it would have closed on Saturday 14 March.
    just_after_midnight = dt.datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert working_days_deadline(just_after_midnight) == parse_paris("2026-03-17T00:00")
    # 23:30 Paris on the same Monday is 22:30 UTC, still 2 March on both clocks: same deadline.
    late_evening = parse_paris("2026-03-02T23:30")
    assert late_evening.astimezone(UTC).date() == dt.date(2026, 3, 2)
    assert working_days_deadline(late_evening) == parse_paris("2026-03-17T00:00")


def test_a_window_across_the_spring_daylight_saving_change_closes_at_midnight_cest():
    # Opened Fri 20 March 2026 (CET); clocks go forward on Sun 29 March. 23 – 27 (5), 30, 31,
    # 1, 2 April (9), Fri 3 April (10, Vendredi saint is worked outside Alsace-Moselle).
    deadline = working_days_deadline(parse_paris("2026-03-20T12:00"))
    assert deadline.astimezone(PARIS).utcoffset() == dt.timedelta(hours=2)
    assert deadline == dt.datetime(2026, 4, 3, 22, 0, tzinfo=UTC)


def test_a_window_across_the_autumn_daylight_saving_change_closes_at_midnight_cet():
    # Opened Mon 19 Oct 2026 (CEST); clocks go back on Sun 25 Oct. 20 – 23 (4), 26 – 30 (9),
    # Sun 1 Nov Toussaint changes nothing, Mon 2 Nov (10): closes 00:00 CET on Tue 3 Nov.
    deadline = working_days_deadline(parse_paris("2026-10-19T09:00"))
    assert deadline.astimezone(PARIS).utcoffset() == dt.timedelta(hours=1)
    assert deadline == dt.datetime(2026, 11, 2, 23, 0, tzinfo=UTC)


def test_a_naive_opening_is_refused():
    with pytest.raises(ValueError, match="fuseau"):
        working_days_deadline(dt.datetime(2026, 5, 4, 10))  # noqa: DTZ001


@pytest.mark.parametrize("days", [0, -1])
def test_a_window_of_less_than_one_working_day_is_refused(days):
    with pytest.raises(ValueError, match="au moins un jour"):
        working_days_deadline(parse_paris("2026-05-04T10:00"), days=days)


@PROPERTY
@given(
    opened_at=st.datetimes(
        min_value=dt.datetime(2000, 1, 1),  # noqa: DTZ001
        max_value=dt.datetime(2099, 12, 31),  # noqa: DTZ001
        timezones=st.sampled_from(
            [PARIS, UTC, ZoneInfo("Pacific/Noumea"), ZoneInfo("America/Cayenne")]
        ),
        allow_imaginary=False,
    ),
    days=st.integers(min_value=1, max_value=40),
)
def test_the_window_closes_at_paris_midnight_after_exactly_n_working_days(opened_at, days):
    deadline = working_days_deadline(opened_at, days)
    local = deadline.astimezone(PARIS)
    assert local.time() == dt.time(0, 0)
    assert deadline.utcoffset() == local.utcoffset()
    assert deadline > opened_at
    first = opened_at.astimezone(PARIS).date() + dt.timedelta(days=1)
    span = (local.date() - first).days
    counted = [first + dt.timedelta(days=n) for n in range(span)]
    assert sum(is_working_day(day) for day in counted) == days
    # Tight: the window closes right after its last working day, not after a trailing weekend.
    assert is_working_day(local.date() - dt.timedelta(days=1))


# --- Usage gates --------------------------------------------------------------------------------

COUNT = "dmp_documents_with_qualified_ins"
RATE = "mes_documents_sent_ratio"


def month(year: int, number: int, produced: int, sent: int) -> MonthUsage:
    return MonthUsage(dt.date(year, number, 1), produced, sent)


def run_of(year: int, first: int, count: int, produced: int, sent: int) -> list[MonthUsage]:
    return [month(year, number, produced, sent) for number in range(first, first + count)]


@pytest.mark.parametrize(
    ("day", "produced", "sent", "message"),
    [
        (dt.date(2026, 5, 2), 10, 5, "premier jour"),
        (dt.date(2026, 5, 1), -1, 0, "négatif"),
        (dt.date(2026, 5, 1), 3, -1, "négatif"),
        (dt.date(2026, 5, 1), 3, 4, "plus qu'on ne produit"),
    ],
)
def test_a_month_usage_refuses_inconsistent_values(day, produced, sent, message):
    with pytest.raises(ValueError, match=message):
        MonthUsage(day, produced, sent)


def test_a_month_usage_refuses_an_instant_for_a_month():
    with pytest.raises(ValueError, match="date"):
        MonthUsage(dt.datetime(2026, 5, 1, tzinfo=PARIS), 10, 5)


def test_a_month_usage_with_nothing_produced_has_no_rate():
    assert MonthUsage(dt.date(2026, 5, 1), 0, 0).rate is None
    assert MonthUsage(dt.date(2026, 5, 1), 100, 61).rate == Decimal("0.61")


def test_sent_total_adds_every_month_and_refuses_a_duplicate_month():
    assert sent_total([month(2026, 1, 10, 4), month(2026, 3, 8, 5)]) == 9
    assert sent_total([]) == 0
    with pytest.raises(ValueError, match="même mois"):
        sent_total([month(2026, 1, 10, 4), month(2026, 1, 8, 5)])


@pytest.mark.parametrize(
    ("sent", "met", "observed"),
    [
        (9, False, "9 documents envoyés (seuil : 10)"),
        (10, True, "10 documents envoyés (seuil : 10)"),
        (11, True, "11 documents envoyés (seuil : 10)"),
        (1, False, "1 document envoyé (seuil : 10)"),
        (0, False, "0 document envoyé (seuil : 10)"),
    ],
)
def test_the_count_gate_needs_at_least_ten_documents(sent, met, observed):
    # Spread over two months: the gate counts the total, not a single month.
    months = [month(2026, 1, 50, sent // 2), month(2026, 2, 50, sent - sent // 2)]
    outcome = evaluate_usage_gate(
        indicator=COUNT,
        comparison="gte",
        threshold=Decimal("10.0000"),  # as the DecimalField(decimal_places=4) returns it
        observation_months=None,
        months=months,
    )
    assert outcome == GateOutcome(met=met, observed=observed)


def test_the_count_gate_with_a_strict_comparison_says_so():
    outcome = evaluate_usage_gate(
        indicator=COUNT,
        comparison="gt",
        threshold=Decimal("10"),
        observation_months=None,
        months=[month(2026, 1, 20, 10)],
    )
    assert outcome == GateOutcome(met=False, observed="10 documents envoyés (seuil : plus de 10)")


def test_the_count_gate_refuses_an_observation_period():
    with pytest.raises(ValueError, match="période d'observation"):
        evaluate_usage_gate(
            indicator=COUNT,
            comparison="gte",
            threshold=Decimal("10"),
            observation_months=6,
            months=[month(2026, 1, 20, 10)],
        )


# The « each_month » reading (UsageGate.Reading.EACH_MONTH): every month of a run above the
# threshold. LGC vague 2 reads one rate over the period instead (below, SONS.md step 9).


def rate_gate(
    months, *, comparison="gt", threshold="0.6000", observation_months=6, reading="each_month"
):
    return evaluate_usage_gate(
        indicator=RATE,
        comparison=comparison,
        threshold=Decimal(threshold),
        observation_months=observation_months,
        months=months,
        reading=reading,
    )


def said(outcome: GateOutcome) -> tuple[bool, str]:
    return outcome.met, outcome.observed


def test_exactly_sixty_percent_is_not_above_sixty_percent():
    outcome = rate_gate(run_of(2026, 1, 6, produced=100, sent=60))
    assert said(outcome) == (False, "0 mois consécutif au-dessus de 60 % (exigé : 6)")


def test_sixty_one_percent_over_six_consecutive_months_meets_the_gate():
    outcome = rate_gate(run_of(2026, 1, 6, produced=100, sent=61))
    assert said(outcome) == (True, "6 mois consécutifs au-dessus de 60 % (exigé : 6)")


def test_five_consecutive_months_are_not_enough():
    outcome = rate_gate(run_of(2026, 1, 5, produced=100, sent=61))
    assert said(outcome) == (False, "5 mois consécutifs au-dessus de 60 % (exigé : 6)")


def test_exactly_sixty_percent_meets_an_at_least_comparison():
    outcome = rate_gate(run_of(2026, 1, 6, produced=100, sent=60), comparison="gte")
    assert said(outcome) == (True, "6 mois consécutifs à 60 % ou plus (exigé : 6)")


def test_a_run_across_the_new_year_is_consecutive():
    months = run_of(2025, 10, 3, produced=10, sent=7) + run_of(2026, 1, 3, produced=10, sent=7)
    assert consecutive_months_meeting(months, Decimal("0.60"), "gt") == 6
    assert rate_gate(months).met


def test_a_missing_month_breaks_the_run():
    # January – March and May – July 2026: April was never reported.
    months = run_of(2026, 1, 3, produced=10, sent=9) + run_of(2026, 5, 3, produced=10, sent=9)
    assert consecutive_months_meeting(months, Decimal("0.60"), "gt") == 3
    assert not rate_gate(months).met


def test_a_month_with_nothing_produced_breaks_the_run():
    months = run_of(2026, 1, 7, produced=10, sent=9)
    months[3] = month(2026, 4, 0, 0)
    assert consecutive_months_meeting(months, Decimal("0.60"), "gt") == 3


def test_a_month_below_the_threshold_breaks_the_run_and_the_longest_run_wins():
    months = run_of(2026, 1, 8, produced=10, sent=7)
    months[6] = month(2026, 7, 10, 6)  # 60 %, not above
    # January – June (6), then August alone (1): the earlier, longer run is the answer.
    assert consecutive_months_meeting(months, Decimal("0.60"), "gt") == 6
    months[1] = month(2026, 2, 10, 6)
    # Now January (1), March – June (4), August (1).
    assert consecutive_months_meeting(months, Decimal("0.60"), "gt") == 4


def test_the_rate_is_exact_even_where_a_float_would_round_it_away():
    # 0.600000000000000001 is the same float as 0.6, but it is above 60 %.
    months = [month(2026, 1, 10**18, 6 * 10**17 + 1)]
    assert consecutive_months_meeting(months, Decimal("0.6"), "gt") == 1
    assert consecutive_months_meeting(months, Decimal("0.600000000000000001"), "gt") == 0


def test_the_order_of_the_months_does_not_matter():
    months = run_of(2026, 1, 4, produced=10, sent=7) + run_of(2026, 6, 6, produced=10, sent=7)
    assert consecutive_months_meeting(list(reversed(months)), Decimal("0.60"), "gt") == 6
    shuffled = [months[i] for i in (5, 0, 9, 2, 7, 1, 8, 3, 6, 4)]
    assert said(rate_gate(shuffled)) == (True, "6 mois consécutifs au-dessus de 60 % (exigé : 6)")


def test_two_measurements_for_the_same_month_are_refused():
    months = [month(2026, 1, 10, 7), month(2026, 2, 10, 7), month(2026, 1, 10, 9)]
    with pytest.raises(ValueError, match="01/2026"):
        consecutive_months_meeting(months, Decimal("0.60"), "gt")


def test_a_threshold_between_whole_percents_is_shown_with_a_decimal_comma():
    outcome = rate_gate(run_of(2026, 1, 2, produced=1000, sent=606), threshold="0.605")
    assert said(outcome) == (False, "2 mois consécutifs au-dessus de 60,5 % (exigé : 6)")


def test_an_unknown_indicator_is_refused_by_name():
    with pytest.raises(ValueError, match="mss_messages_sent"):
        evaluate_usage_gate(
            indicator="mss_messages_sent",
            comparison="gte",
            threshold=Decimal("10"),
            observation_months=None,
            months=[],
        )


def test_an_unknown_comparison_is_refused():
    with pytest.raises(ValueError, match="lt"):
        rate_gate(run_of(2026, 1, 6, produced=10, sent=7), comparison="lt")
    with pytest.raises(ValueError, match="lte"):
        evaluate_usage_gate(
            indicator=COUNT,
            comparison="lte",
            threshold=Decimal("10"),
            observation_months=None,
            months=[],
        )


def test_a_float_threshold_is_refused():
    with pytest.raises(TypeError, match="flottant"):
        consecutive_months_meeting([month(2026, 1, 10, 7)], 0.6, "gt")


def test_a_rate_threshold_written_as_a_percentage_is_refused():
    with pytest.raises(ValueError, match="entre 0 et 1"):
        rate_gate(run_of(2026, 1, 6, produced=10, sent=7), threshold="60")


@pytest.mark.parametrize("observation_months", [None, 0])
def test_the_rate_gate_needs_an_observation_period(observation_months):
    with pytest.raises(ValueError, match="période d'observation"):
        rate_gate(run_of(2026, 1, 6, produced=10, sent=7), observation_months=observation_months)


@st.composite
def month_usages(draw):
    indexes = draw(st.lists(st.integers(min_value=0, max_value=35), unique=True, max_size=36))
    usages = []
    for index in indexes:
        produced = draw(st.integers(min_value=0, max_value=5))
        sent = draw(st.integers(min_value=0, max_value=produced))
        usages.append(MonthUsage(dt.date(2025 + index // 12, index % 12 + 1, 1), produced, sent))
    return usages


def longest_run_oracle(months, threshold, comparison):
    """Brute force: from every meeting month, walk forward while the next month also meets."""
    numerator, denominator = threshold.as_integer_ratio()
    meeting = set()
    for usage in months:
        if usage.produced == 0:
            continue
        # sent / produced against numerator / denominator, by integer cross-multiplication.
        margin = usage.sent * denominator - usage.produced * numerator
        if margin > 0 or (comparison == "gte" and margin == 0):
            meeting.add(usage.month.year * 12 + usage.month.month)
    best = 0
    for start in meeting:
        length = 0
        while start + length in meeting:
            length += 1
        best = max(best, length)
    return best


@PROPERTY
@given(
    months=month_usages(),
    threshold=st.sampled_from([Decimal("0"), Decimal("0.5"), Decimal("0.60"), Decimal("1")]),
    comparison=st.sampled_from(["gt", "gte"]),
    seed=st.integers(),
)
def test_the_longest_run_is_bounded_order_free_and_matches_brute_force(
    months, threshold, comparison, seed
):
    run = consecutive_months_meeting(months, threshold, comparison)
    assert 0 <= run <= len(months)
    shuffled = list(months)
    random.Random(seed).shuffle(shuffled)
    assert consecutive_months_meeting(shuffled, threshold, comparison) == run
    assert run == longest_run_oracle(months, threshold, comparison)


# -- acceptance -------------------------------------------------------------------------------


def test_the_earliest_admitted_acceptance_counts():
    from sons.rules import accepts, earliest_acceptance

    va = dt.datetime(2023, 3, 2, 9, tzinfo=PARIS)
    mom = dt.datetime(2023, 3, 1, 9, tzinfo=PARIS)
    assert earliest_acceptance("va_or_mom", {"va": va, "mom": mom}) == ("mom", mom)
    assert earliest_acceptance("va", {"va": va, "mom": mom}) == ("va", va)  # a MOM is not a VA
    assert earliest_acceptance("mom", {"va": va, "mom": None}) is None
    assert earliest_acceptance("pilot_pv", {"pilot_pv": mom, "va": va}) == ("pilot_pv", mom)
    assert accepts("", "va") and accepts("", "mom") and not accepts("", "pilot_pv")


# --- LGC vague 2, one rate over the observation period (SONS.md, life of a Prestation, step 9) ---
# « more than 60 % of the health documents produced are actually sent to Mon espace santé over
# an observation period of at least 6 months [seed 000]. Read it as one rate over the whole
# observation period (documents sent / documents produced over >= 6 consecutive months), not as
# every month above 60 %; the engine shows the monthly figures beside it. »


def period_gate(months, *, comparison="gt", threshold="0.60", observation_months=6):
    return evaluate_usage_gate(
        indicator=RATE,
        comparison=comparison,
        threshold=Decimal(threshold),
        observation_months=observation_months,
        months=months,
        reading="period_rate",
    )


def test_step_9_the_reading_defaults_to_one_rate_over_the_period():
    months = [*run_of(2026, 1, 5, produced=100, sent=70), month(2026, 6, 100, 40)]
    default = evaluate_usage_gate(
        indicator=RATE,
        comparison="gt",
        threshold=Decimal("0.60"),
        observation_months=6,
        months=months,
    )
    assert default == period_gate(months)
    assert default.met


def test_step_9_a_month_below_sixty_percent_does_not_fail_a_period_above():
    # 70 % five months, 40 % in June: 390 / 600 = 65 % over the six months.
    months = [*run_of(2026, 1, 5, produced=100, sent=70), month(2026, 6, 100, 40)]
    outcome = period_gate(months)
    assert outcome.met
    assert outcome.observed == (
        "taux de 65 % sur 6 mois consécutifs (01/2026 à 06/2026) : 390 documents envoyés sur "
        "600 produits (exigé : plus de 60 % sur au moins 6 mois consécutifs)"
    )
    assert outcome.months == tuple(months)
    # The former reading refuses the same figures: June is below 60 %.
    assert not rate_gate(months, reading="each_month").met


def test_step_9_exactly_sixty_percent_over_the_period_is_not_more_than_sixty_percent():
    # 61 %, 59 %, 61 %, 59 %, 61 %, 59 %: 360 / 600, exactly 60 %.
    months = [month(2026, n, 100, 61 if n % 2 else 59) for n in range(1, 7)]
    outcome = period_gate(months)
    assert said(outcome) == (
        False,
        "taux au mieux de 60 % sur 6 mois consécutifs (01/2026 à 06/2026) : 360 documents "
        "envoyés sur 600 produits (exigé : plus de 60 % sur au moins 6 mois consécutifs)",
    )
    assert period_gate(months, comparison="gte").met


def test_step_9_the_rate_is_exact_where_a_float_would_round_it_away():
    # 3.6e18 + 1 sent of 6e18 produced is above 60 % by one document: a float says 0.6.
    last = month(2026, 6, 10**18, 6 * 10**17 + 1)
    months = [*run_of(2026, 1, 5, produced=10**18, sent=6 * 10**17), last]
    assert period_gate(months).met
    assert not period_gate(months, threshold="0.600000000000000000167").met


def test_step_9_five_months_are_not_an_observation_period_of_six():
    outcome = period_gate(run_of(2026, 1, 5, produced=100, sent=90))
    assert said(outcome) == (
        False,
        "aucune période d'observation de 6 mois consécutifs avec des documents produits "
        "(5 mois consécutifs mesurés au plus ; exigé : plus de 60 % sur au moins 6 mois "
        "consécutifs)",
    )
    assert len(outcome.months) == 5  # the figures are still shown


def test_step_9_a_missing_month_ends_the_period():
    # January – March and May – July: April was never reported, no six consecutive months.
    months = run_of(2026, 1, 3, produced=10, sent=9) + run_of(2026, 5, 3, produced=10, sent=9)
    assert not period_gate(months).met
    months.append(month(2026, 4, 10, 0))  # April reported: 54 / 70 over seven months
    outcome = period_gate(months)
    assert outcome.met
    assert "77,14 % sur 7 mois consécutifs (01/2026 à 07/2026)" in outcome.observed


def test_step_9_a_month_with_nothing_produced_is_observed_and_weighs_nothing():
    months = run_of(2026, 1, 6, produced=10, sent=7)
    months[3] = month(2026, 4, 0, 0)
    outcome = period_gate(months)
    assert outcome.met
    assert "35 documents envoyés sur 50 produits" in outcome.observed
    assert "04/2026 : 0 envoyé / 0 produit ;" in describe_months(outcome.months)


def test_step_9_a_period_with_nothing_produced_has_no_rate():
    outcome = period_gate(run_of(2026, 1, 6, produced=0, sent=0))
    assert not outcome.met
    assert outcome.observed.startswith("aucune période d'observation de 6 mois")


def test_step_9_a_longer_period_can_reach_the_rate_its_shorter_ones_miss():
    # At least two months: Jan–Feb 50 %, Feb–Mar 50 %, but Jan–Mar 20 / 30 = 66,66 %.
    months = [month(2026, 1, 10, 10), month(2026, 2, 10, 0), month(2026, 3, 10, 10)]
    outcome = period_gate(months, observation_months=2)
    assert outcome.met
    assert "66,66 % sur 3 mois consécutifs (01/2026 à 03/2026)" in outcome.observed


def test_step_9_on_equal_rates_the_latest_period_is_shown():
    months = run_of(2025, 1, 6, produced=10, sent=7) + run_of(2026, 1, 6, produced=10, sent=7)
    outcome = period_gate(months)
    assert (outcome.months[0].month, outcome.months[-1].month) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 6, 1),
    )


def test_step_9_the_monthly_figures_are_described_oldest_first():
    months = [month(2026, 2, 3, 2), month(2026, 1, 100, 61), month(2026, 3, 0, 0)]
    assert describe_months(months) == (
        "01/2026 : 61 envoyés / 100 produits (61 %) ; 02/2026 : 2 envoyés / 3 produits "
        "(66,66 %) ; 03/2026 : 0 envoyé / 0 produit"
    )


def test_an_unknown_reading_is_refused_and_a_count_gate_ignores_the_reading():
    with pytest.raises(ValueError, match="every_week"):
        evaluate_usage_gate(
            indicator=RATE,
            comparison="gt",
            threshold=Decimal("0.60"),
            observation_months=6,
            months=[],
            reading="every_week",
        )
    count = evaluate_usage_gate(
        indicator=COUNT,
        comparison="gte",
        threshold=Decimal("10"),
        observation_months=None,
        months=[month(2026, 1, 20, 10)],
        reading="each_month",
    )
    assert said(count) == (True, "10 documents envoyés (seuil : 10)")


def test_best_observation_period_refuses_a_period_of_no_month():
    with pytest.raises(ValueError, match="au moins un mois"):
        best_observation_period([], 0)


def windows_oracle(months, minimum):
    """Brute force: every window of `minimum` or more calendar-consecutive measured months."""
    by_index = {u.month.year * 12 + u.month.month: u for u in months}
    for start in by_index:
        end = start
        window = []
        while end in by_index:
            window.append(by_index[end])
            end += 1
            if len(window) >= minimum:
                yield list(window)


@PROPERTY
@given(
    months=month_usages(),
    minimum=st.integers(min_value=1, max_value=6),
    threshold=st.sampled_from([Decimal("0"), Decimal("0.5"), Decimal("0.60"), Decimal("1")]),
    comparison=st.sampled_from(["gt", "gte"]),
    seed=st.integers(),
)
def test_step_9_the_period_rate_is_sent_over_produced_and_the_best_of_all_periods(
    months, minimum, threshold, comparison, seed
):
    period = best_observation_period(months, minimum)
    rates = [
        Fraction(sum(u.sent for u in w), sum(u.produced for u in w))
        for w in windows_oracle(months, minimum)
        if sum(u.produced for u in w)
    ]
    if period is None:
        assert rates == []
    else:
        # One rate over the period: documents sent / documents produced, summed, exactly.
        assert period.rate == Fraction(
            sum(u.sent for u in period.months), sum(u.produced for u in period.months)
        )
        assert len(period.months) >= minimum
        indexes = [u.month.year * 12 + u.month.month for u in period.months]
        assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))
        assert set(period.months) <= set(months)
        assert period.rate == max(rates)
    outcome = period_gate(
        months, comparison=comparison, threshold=str(threshold), observation_months=minimum
    )
    bound = Fraction(threshold)
    assert outcome.met == any(r > bound if comparison == "gt" else r >= bound for r in rates)
    shuffled = list(months)
    random.Random(seed).shuffle(shuffled)
    assert (
        period_gate(
            shuffled, comparison=comparison, threshold=str(threshold), observation_months=minimum
        )
        == outcome
    )


@PROPERTY
@given(
    data=st.data(),
    length=st.integers(min_value=6, max_value=12),
)
def test_step_9_months_below_sixty_percent_never_fail_a_period_above(data, length):
    produced = data.draw(st.lists(st.integers(1, 1000), min_size=length, max_size=length))
    sent = [data.draw(st.integers(p // 2, p)) for p in produced]
    low = data.draw(st.integers(0, length - 1))
    # The weak month: strictly below 60 % (sent * 5 < produced * 3).
    sent[low] = data.draw(st.integers(0, (produced[low] * 3 - 1) // 5))
    months = [
        MonthUsage(dt.date(2026 + i // 12, i % 12 + 1, 1), p, s)
        for i, (p, s) in enumerate(zip(produced, sent, strict=True))
    ]
    assume(Fraction(sum(sent), sum(produced)) > Fraction(3, 5))
    assert sent[low] * 5 < produced[low] * 3
    assert period_gate(months).met  # whatever its weak months


@PROPERTY
@given(
    per_month=st.lists(st.integers(1, 10**6), min_size=6, max_size=24),
)
def test_step_9_exactly_sixty_percent_in_every_period_never_meets_more_than_sixty(per_month):
    months = [
        MonthUsage(dt.date(2026 + i // 12, i % 12 + 1, 1), 5 * k, 3 * k)
        for i, k in enumerate(per_month)
    ]
    assert not period_gate(months, comparison="gt").met
    assert period_gate(months, comparison="gte").met
