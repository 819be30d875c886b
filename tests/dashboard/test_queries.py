"""The pages cost the same number of queries with 5 orders as with 50: aggregates and LIMITed
lists only, never a query per row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments.models import ClaimKind
from payments.services import claims
from tests.dashboard.conftest import URL
from tests.sons.factories import at_paris

pytestmark = pytest.mark.django_db

PAGES = [
    "",
    "DASH-LGC-V1/",
    "DASH-LGC-V1/bdc-a-risque/",
    "DASH-LGC-V1/demandes-a-deposer/",
    "DASH-LGC-V1/conflits/",
    "DASH-LGC-V1/conflits-a-trancher/",
    "DASH-LGC-V1/recouvrements/",
    "DASH-LGC-V1/demandes-a-deposer/?format=csv",
    "DASH-LGC-V1/bdc-a-risque/?format=xlsx",
]


def grow(world, count):
    """`count` more orders of both vendors (undelivered: at risk), a solde to file for one in
    two, a recovery, a conflict and a conflict awaiting a decision for one in ten."""
    for n in range(count):
        order = world.order(vendor="ab"[n % 2])
        if n % 2:
            claims.open_claim(
                order=order, kind=ClaimKind.SOLDE, actor=world.actor, at=at_paris(2023, 9, 1, 10)
            )
    for _ in range(count // 10 or 1):
        world.defaulted_with_recovery()
        _running(world)
        _awaiting_decision(world)


def _running(world):
    """A conflict whose answers are still awaited at the instant judged (test shortcut: its
    window moved to end after 10/09/2023; a conflict past its window is no longer running)."""
    from sons.models import ConflictPosition

    first, second = world.conflict()
    ConflictPosition.objects.filter(order__in=[first, second]).update(
        respond_by=at_paris(2023, 9, 22, 18)
    )


def _awaiting_decision(world):
    """A conflict both vendors kept, their 10 working days over (SONS.md, step 3)."""
    from core.transitions import apply_transition
    from sons.models import ClientConflict, Decision
    from sons.services.conflicts import respond_to_conflict

    first, second = world.conflict()
    for order in (first, second):
        respond_to_conflict(
            order=order, decision=Decision.KEEP, actor=world.actor, at=at_paris(2022, 11, 8, 9)
        )
    conflict = ClientConflict.objects.get(positions__order=first)
    apply_transition(conflict, "await_decision", actor=world.actor, at=conflict.respond_by)


def queries(client, page):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL + page)
        assert response.status_code == 200
        if response.streaming:
            b"".join(response.streaming_content)
    return len(captured)


def test_query_counts_do_not_grow_with_the_orders(staff, world, frozen):
    frozen(at_paris(2023, 9, 10, 12))  # réalisation ends in 10 days, soldes in 95
    grow(world, 5)
    small = {page: queries(staff, page) for page in PAGES}
    rows = staff.get(URL + "DASH-LGC-V1/").context["previews"]
    assert all(preview["count"] for preview in rows)  # every list has rows
    grow(world, 45)
    large = {page: queries(staff, page) for page in PAGES}
    assert large == small
    assert small["DASH-LGC-V1/"] <= 40


def test_the_page_of_a_dispositif_with_its_figures_kept_reads_few_statements(
    staff, world, frozen, settings
):
    """With its counts and charts kept (`cached_figures`), the page reads its session and user
    (2), the dispositif (1), its calendar (2: versions and deadlines, one read for the calendar
    in force, the announced deadlines and the history) and its five lists afresh (2 each: the
    capped keys, then the rows shown; 1 more for each list of conflicts: their positions)."""
    from django.core.cache import cache

    settings.DASHBOARD_FIGURES_SECONDS = 300
    cache.clear()
    frozen(at_paris(2023, 9, 10, 12))
    grow(world, 5)
    assert queries(staff, "DASH-LGC-V1/") > queries(staff, "DASH-LGC-V1/")  # figures kept
    rows = staff.get(URL + "DASH-LGC-V1/").context["previews"]
    assert all(preview["count"] for preview in rows)  # every list has rows
    assert queries(staff, "DASH-LGC-V1/") <= 17
    cache.clear()
