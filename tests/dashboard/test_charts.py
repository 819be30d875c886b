"""The weekly charts: figures aggregated per ISO week (Paris time), drawn as inline SVG."""

import datetime as dt

import pytest

from catalogue.deadlines import PARIS
from dashboard.charts import Series, compact, nice_step, week_range, weekly_chart
from tests.dashboard.conftest import URL
from tests.payments.factories import accept_by_va
from tests.sons.factories import at_paris

PAGE = URL + "DASH-LGC-V1/"


def chart(response, key):
    return next(c for c in response.context["figures"].charts if c.key == key)


def figures(c):
    return {row["week"]: row["values"] for row in c.rows}


@pytest.mark.django_db
def test_orders_signed_per_week_in_paris_time(staff, world, frozen):
    frozen(at_paris(2023, 1, 10, 12))
    world.order(at=at_paris(2022, 9, 5, 10))  # Monday
    world.order(at=at_paris(2022, 9, 11, 23, 30))  # Sunday night, Paris: same week
    world.order(at=at_paris(2022, 9, 12, 0, 30))  # Monday 00:30 Paris (Sunday 22:30 UTC)
    world.order(at=at_paris(2022, 9, 26, 9))
    response = staff.get(PAGE)
    orders = chart(response, "orders")
    assert figures(orders) == {
        dt.date(2022, 9, 5): ["2"],
        dt.date(2022, 9, 12): ["1"],
        dt.date(2022, 9, 26): ["1"],
    }
    assert orders.weeks[0] == dt.date(2022, 9, 5) and len(orders.weeks) == 4  # empty week kept
    html = response.content.decode()
    assert '<svg viewBox="0 0 720 240" role="img"' in html
    assert "BDC signés, semaine du 05/09/2022 : 2" in html
    assert "4 semaines du 05/09/2022 au 26/09/2022" in html


@pytest.mark.django_db
def test_orders_signed_after_the_instant_judged_are_not_drawn(staff, world, frozen):
    world.order(at=at_paris(2022, 9, 5, 10))
    world.order(at=at_paris(2022, 10, 5, 10))
    frozen(at_paris(2022, 9, 20, 12))
    assert sum(int(v[0]) for v in figures(chart(staff.get(PAGE), "orders")).values()) == 1


@pytest.mark.django_db
def test_money_claimed_and_paid_per_week(staff, world, frozen):
    frozen(at_paris(2023, 1, 10, 12))
    for day in (19, 21):
        claim = world.avance(world.order())
        world.pay(claim, submitted_at=at_paris(2022, 9, day, 10), paid_on=dt.date(2022, 10, 4))
    money = chart(staff.get(PAGE), "money")
    assert figures(money) == {
        dt.date(2022, 9, 19): ["1\u202f080,00\u00a0€", "0,00\u00a0€"],
        dt.date(2022, 10, 3): ["0,00\u00a0€", "1\u202f080,00\u00a0€"],
    }
    assert money.totals == ["1\u202f080,00\u00a0€", "1\u202f080,00\u00a0€"]


@pytest.mark.django_db
def test_va_signed_per_week(staff, admin_user, frozen, django_capture_on_commit_callbacks):
    from tests.payments.factories import open_dispositif, signed_now

    dispositif = open_dispositif(code="DASH-VA")
    order = signed_now(admin_user, dispositif)
    signed_at = accept_by_va(
        order, admin_user, django_capture_on_commit_callbacks
    ).decision.decided_at
    frozen(signed_at + dt.timedelta(days=1))
    vas = chart(staff.get(URL + "DASH-VA/"), "vas")
    day = signed_at.astimezone(PARIS).date()
    assert figures(vas) == {day - dt.timedelta(days=day.weekday()): ["1"]}


@pytest.mark.django_db
def test_no_data_says_so(staff, world, frozen):
    frozen(at_paris(2022, 9, 1, 9))
    html = staff.get(PAGE).content.decode()
    assert html.count("Aucune donnée pour l'instant.") == 3


def test_scale_steps_and_labels():
    assert [nice_step(x) for x in (0.3, 1, 1.5, 3, 7, 12, 4500)] == [1, 1, 2, 5, 10, 20, 5000]
    assert compact(123456789, money=True) == "1,2\u00a0M€"
    assert compact(3_500_000, money=True) == "35\u00a0k€"
    assert compact(1200, money=False) == "1\u202f200"


def test_weeks_run_from_the_first_to_the_last_figure_two_years_at_most():
    start = dt.date(2020, 1, 6)
    series = [Series("x", "series-a", {start: 1, start + dt.timedelta(weeks=200): 2})]
    weeks = week_range(series)
    assert len(weeks) == 104 and weeks[-1] == start + dt.timedelta(weeks=200)


def test_bars_are_as_tall_as_their_figure():
    c = weekly_chart(
        "k", "t", [Series("x", "series-a", {dt.date(2023, 1, 2): 4, dt.date(2023, 1, 9): 2})]
    )
    heights = [float(b["height"]) for b in c.bars]
    assert heights[0] == pytest.approx(2 * heights[1])
    assert [t["label"] for t in c.ticks] == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("weeks", [1, 7, 12, 13, 51, 104])
def test_no_week_label_passes_the_edges_of_the_drawing(weeks):
    """The last label of a long chart used to be centred under its bar, half outside the
    drawing, clipped: each label now fits whole (digits of the 15 px axis font, 0.6 em wide)."""
    first = dt.date(2022, 1, 3)
    by_week = {first + dt.timedelta(weeks=n): n + 1 for n in range(weeks)}
    c = weekly_chart("orders", "BDC", [Series("BDC", "series-a", by_week)])
    assert c.x_labels
    for label in c.x_labels:
        width = len(label["label"]) * 15 * 0.6
        x = float(label["x"])
        left, right = {
            "middle": (x - width / 2, x + width / 2),
            "end": (x - width, x),
        }[label["anchor"]]
        assert left >= 0 and right <= c.width, label
