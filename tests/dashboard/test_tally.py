"""The tally the database keeps (`dashboard.tally`): whatever writes the rows (the services,
set-based UPDATEs moving instants, states and dispositifs, DELETEs), a dispositif's figures
read from it are those the rows themselves give at any instant, the week of the instant
included, before and after the tally is folded; and its triggers come back after `migrate`
when a table lost them."""

import datetime as dt
import random
import threading

import pytest
from django.apps import apps as global_apps
from django.db import connection

from core.clock import PARIS, paris_monday
from dashboard import tally
from dashboard.apps import ensure_tally
from dashboard.models import Tally
from payments.models import ClaimStatus, PaymentClaim
from sons.models import Deployment, DeploymentStatus, OrderStatus, PurchaseOrder
from sons.services import deployments
from tests.dashboard.conftest import World
from tests.sons.factories import at_paris

pytestmark = pytest.mark.django_db


def from_rows(dispositif, at: dt.datetime) -> dict:
    """The figures the rows give at `at`, read one by one in Python."""
    day = at.astimezone(PARIS).date()
    out = {"order": [{}, {}], "claim": [{}, {}, {}], "deployment": [{}]}

    def add(d, key, value):
        d[key] = d.get(key, 0) + value

    for o in PurchaseOrder.objects.filter(dispositif=dispositif):
        if o.created_at <= at or (o.signed_at and o.signed_at <= at):
            add(out["order"][0], o.status, 1)
            if o.signed_at and o.signed_at <= at:
                add(out["order"][1], paris_monday(o.signed_at), 1)
    for c in PaymentClaim.objects.filter(dispositif=dispositif):
        if c.created_at <= at:
            add(out["claim"][0], c.status, 1)
            if c.submitted_at and c.submitted_at <= at:
                add(out["claim"][1], paris_monday(c.submitted_at), c.amount_ttc_cents)
            if c.paid_on and c.paid_on <= day and c.paid_amount_cents is not None:
                add(out["claim"][2], paris_monday(c.paid_on), c.paid_amount_cents)
    for d in Deployment.objects.filter(dispositif=dispositif):
        if d.firm_date_confirmed_at <= at:
            add(out["deployment"][0], d.status, 1)
    return out


def from_tally(dispositif, at: dt.datetime) -> dict:
    found = tally.figures(dispositif, at)
    return {
        subject: [
            {k: v for k, v in counts.states.items() if v},
            *({k: v for k, v in s.items() if v} for s in counts.series),
        ]
        for subject, counts in found.items()
    }


def instants(rng: random.Random, around: list[dt.datetime]) -> dt.datetime:
    """An instant near one of `around`: the same week, often the same day."""
    base = rng.choice(around)
    return base + dt.timedelta(hours=rng.randint(-80, 80), minutes=rng.randint(0, 59))


@pytest.fixture
def busy(admin_user):
    """Two dispositifs, orders with claims and deployments, then rewritten every way."""
    rng = random.Random(20261204)
    first, second = World(admin_user), World(admin_user, code="DASH-LGC-V2")
    weeks = [at_paris(2022, 9, 1, 10), at_paris(2022, 9, 12, 0, 30), at_paris(2022, 10, 30, 2)]
    for world in (first, second):
        for i in range(6):
            order = world.order(vendor="ab"[i % 2])
            world.avance(order)
            if i % 3 == 0:
                deployments.schedule_deployment(
                    order=order,
                    firm_date=dt.date(2023, 3, 1),
                    actor=admin_user,
                    at=at_paris(2022, 9, 10, 9),
                )
    # Set-based writes: instants moved near the weeks judged, states changed, claims filed
    # and paid, rows moved from one dispositif to the other, a claim deleted.
    for order in PurchaseOrder.objects.all():
        PurchaseOrder.objects.filter(pk=order.pk).update(
            created_at=instants(rng, weeks), signed_at=instants(rng, weeks)
        )
    PurchaseOrder.objects.filter(pk__in=PurchaseOrder.objects.values("pk")[:3]).update(
        status=OrderStatus.COMPLETED
    )
    for claim in PaymentClaim.objects.all():
        submitted = instants(rng, weeks)
        paid = rng.random() < 0.6
        PaymentClaim.objects.filter(pk=claim.pk).update(
            created_at=instants(rng, weeks),
            status=ClaimStatus.PAID if paid else ClaimStatus.SUBMITTED,
            submitted_at=submitted,
            paid_on=(submitted + dt.timedelta(days=rng.randint(0, 9))).date() if paid else None,
            paid_amount_cents=claim.amount_ttc_cents - rng.randint(0, 500) if paid else None,
        )
    for deployment in Deployment.objects.all():
        Deployment.objects.filter(pk=deployment.pk).update(
            firm_date_confirmed_at=instants(rng, weeks)
        )
    Deployment.objects.filter(pk__in=Deployment.objects.values("pk")[:1]).update(
        status=DeploymentStatus.ABANDONED
    )
    moved = list(
        PurchaseOrder.objects.filter(dispositif=first.dispositif).values_list("pk", flat=True)[:2]
    )
    PurchaseOrder.objects.filter(pk__in=moved).update(dispositif=second.dispositif)
    PaymentClaim.objects.filter(order__in=moved).update(dispositif=second.dispositif)
    Deployment.objects.filter(order__in=moved).update(dispositif=second.dispositif)
    PaymentClaim.objects.filter(pk__in=PaymentClaim.objects.values("pk")[:1]).delete()
    return [first.dispositif, second.dispositif], weeks, rng


def judged_instants(weeks, rng) -> list[dt.datetime]:
    """Instants in the weeks of the rows, their first and last minutes, before and after all."""
    found = [at_paris(2022, 1, 1, 12), at_paris(2024, 1, 1, 12)]
    for base in weeks:
        monday = dt.datetime.combine(paris_monday(base), dt.time(), tzinfo=PARIS)
        found += [monday, monday - dt.timedelta(minutes=1), base]
        found += [instants(rng, weeks) for _ in range(3)]
    return found


def test_the_tally_gives_what_the_rows_give_at_every_instant(busy):
    dispositifs, weeks, rng = busy
    for at in judged_instants(weeks, rng):
        for dispositif in dispositifs:
            assert from_tally(dispositif, at) == from_rows(dispositif, at), at


def test_folding_the_tally_changes_no_figure(busy):
    dispositifs, weeks, rng = busy
    before_rows = Tally.objects.count()
    at_list = judged_instants(weeks, rng)
    before = [from_tally(d, at) for d in dispositifs for at in at_list]

    kept = tally.compact(connection)

    assert kept == Tally.objects.count() < before_rows
    assert Tally.objects.filter(n=0).count() == 0
    assert [from_tally(d, at) for d in dispositifs for at in at_list] == before


def test_a_table_that_lost_its_triggers_gets_them_back_and_is_counted_again(busy):
    dispositifs, _weeks, _rng = busy
    at = at_paris(2022, 12, 1, 12)
    expected = from_rows(dispositifs[0], at)
    tally.remove(connection)
    # Written while uncounted: the tally no longer says what the rows say.
    PurchaseOrder.objects.filter(dispositif=dispositifs[0]).update(status=OrderStatus.DEFAULTED)
    assert tally.missing_triggers(connection)
    assert from_tally(dispositifs[0], at) != from_rows(dispositifs[0], at) != expected

    ensure_tally(global_apps.get_app_config("dashboard"), using=connection.alias)

    assert tally.missing_triggers(connection) == []
    assert from_tally(dispositifs[0], at) == from_rows(dispositifs[0], at)
    PurchaseOrder.objects.filter(dispositif=dispositifs[0]).update(status=OrderStatus.COMPLETED)
    assert from_tally(dispositifs[0], at) == from_rows(dispositifs[0], at)


def test_a_write_that_moves_no_count_adds_nothing(busy):
    count = Tally.objects.count()
    PurchaseOrder.objects.update(installation_scenario="Sur site")
    PaymentClaim.objects.update(amount_ttc_cents=12_000)  # amounts do change: one row per key
    after_claims = Tally.objects.count()
    PaymentClaim.objects.update(amount_ttc_cents=12_000)
    assert Tally.objects.count() == after_claims
    if connection.vendor == "postgresql":  # one row per key and statement
        assert after_claims - count <= PaymentClaim.objects.count()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_writers_and_the_folding_at_once_lose_no_count(admin_user):
    """Two writers committing set-based UPDATEs while the tally is folded, again and again:
    nobody waits on anybody's counter, and the tally still says what the rows say."""
    from django.db import connections

    world = World(admin_user)
    for i in range(8):
        world.avance(world.order(vendor="ab"[i % 2]))
    pks = list(PurchaseOrder.objects.order_by("pk").values_list("pk", flat=True))
    start = threading.Barrier(3)
    errors = []

    def run(work):
        try:
            start.wait(timeout=30)
            for round_ in range(15):
                work(round_)
        except Exception as exc:  # reported by the test below
            errors.append(exc)
        finally:
            connections.close_all()

    def states(round_):
        status = OrderStatus.COMPLETED if round_ % 2 else OrderStatus.SIGNED
        PurchaseOrder.objects.filter(pk__in=pks[::2]).update(status=status)

    def instants_and_claims(round_):
        moved = at_paris(2022, 9, 1 + round_, 10)
        PurchaseOrder.objects.filter(pk__in=pks[1::2]).update(signed_at=moved)
        PaymentClaim.objects.filter(order__in=pks[1::2]).update(
            status=ClaimStatus.SUBMITTED, submitted_at=moved
        )

    threads = [
        threading.Thread(target=run, args=(work,))
        for work in (states, instants_and_claims, lambda _r: tally.compact())
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    for at in (at_paris(2022, 9, 8, 12), at_paris(2022, 9, 15, 12), at_paris(2023, 1, 1, 12)):
        assert from_tally(world.dispositif, at) == from_rows(world.dispositif, at)
