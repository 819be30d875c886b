"""Set-based moves (core.transitions): a fixed number of statements whatever the number of rows,
one array parameter for the ids, every row judged on its locked version, row versions raised once,
and the same journal as one move at a time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.errors import TransitionRefused
from core.journal import verify_chain
from core.models import JournalEntry
from core.transitions import (
    any_of,
    apply_transition_many,
    apply_transition_set,
    insert_rows,
    update_rows,
)
from sons.models import OrderStatus, PurchaseOrder
from sons.services import orders as order_services
from tests.sons.factories import at_paris, lgc_dispositif, referenced, signed_order

pytestmark = pytest.mark.django_db

AT = at_paris(2023, 1, 10, 9)
ACTOR = "système:test"


@pytest.fixture
def referencing(admin_user):
    return referenced(dispositif=lgc_dispositif(), actor=admin_user)


def orders(referencing, actor, count):
    return [signed_order(referencing=referencing, actor=actor).pk for _ in range(count)]


def start_recovery(ids, *, many=False):
    move = apply_transition_many if many else apply_transition_set
    return move(
        PurchaseOrder,
        ids,
        "start_recovery",
        actor=ACTOR,
        arguments=lambda o: {"at": AT},
        snapshot=lambda o: {"at": AT.isoformat()},
        reason=lambda o: f"motif {o.pk}",
        related=("client",),
    )


def test_any_of_names_the_rows_by_one_parameter_whatever_their_number():
    users = [get_user_model().objects.create(username=f"u{n}") for n in range(5)]
    wanted = [users[0].pk, users[3].pk, users[4].pk]
    found = get_user_model().objects.filter(any_of("pk", wanted))
    assert sorted(u.pk for u in found) == wanted
    _sql, params = found.query.sql_with_params()
    assert len(params) == 1
    assert not get_user_model().objects.filter(any_of("pk", [])).exists()


def test_a_set_move_costs_the_same_statements_for_3_and_30_rows(referencing, admin_user):
    few, many = orders(referencing, admin_user, 3), orders(referencing, admin_user, 30)
    with CaptureQueriesContext(connection) as small:
        assert start_recovery(few) == 3
    with CaptureQueriesContext(connection) as large:
        assert start_recovery(many) == 30
    assert len(large) == len(small)
    assert set(
        PurchaseOrder.objects.filter(pk__in=few + many).values_list("status", flat=True)
    ) == {OrderStatus.IN_RECOVERY}


def test_a_set_move_journals_each_row_as_a_single_move_would(referencing, admin_user):
    ids = orders(referencing, admin_user, 4)
    start_recovery(ids)
    for pk in ids:
        order = PurchaseOrder.objects.select_related("client").get(pk=pk)
        entry = JournalEntry.objects.for_object(order).last()
        assert (entry.transition, entry.source_state, entry.target_state) == (
            "start_recovery",
            OrderStatus.SIGNED,
            OrderStatus.IN_RECOVERY,
        )
        assert (entry.reason, entry.snapshot, entry.actor_label) == (
            f"motif {pk}",
            {"at": AT.isoformat()},
            ACTOR,
        )
        assert entry.object_repr == str(order)
    assert verify_chain()[1] is None


def test_a_column_changed_on_some_rows_only_keeps_the_others_values(referencing, admin_user):
    """start_recovery keeps an end already recorded (`ended_at or at`): the first order, ended
    by its cancellation, keeps that instant; the second takes the recovery's."""
    first, second = orders(referencing, admin_user, 2)
    cancelled_at = at_paris(2022, 12, 1, 10)
    order_services.cancel_order(
        order=PurchaseOrder.objects.get(pk=first),
        actor=admin_user,
        sworn_statement="Le client renonce.",
        at=cancelled_at,
    )
    start_recovery([first, second])
    ended = dict(PurchaseOrder.objects.filter(pk__in=[first, second]).values_list("pk", "ended_at"))
    assert ended == {first: cancelled_at, second: AT}


def test_the_rows_returned_carry_the_row_version_written_once(referencing, admin_user):
    ids = orders(referencing, admin_user, 3)
    before = dict(PurchaseOrder.objects.filter(pk__in=ids).values_list("pk", "row_version"))
    rows = start_recovery(ids, many=True)
    after = dict(PurchaseOrder.objects.filter(pk__in=ids).values_list("pk", "row_version"))
    assert after == {pk: version + 1 for pk, version in before.items()}
    assert {row.pk: row.row_version for row in rows} == after


def test_one_missing_row_refuses_the_set(referencing, admin_user):
    ids = orders(referencing, admin_user, 2)
    with pytest.raises(TransitionRefused) as refused:
        start_recovery([*ids, max(ids) + 1000])
    assert refused.value.code == "object_missing"
    assert not PurchaseOrder.objects.filter(status=OrderStatus.IN_RECOVERY).exists()


def test_one_refusal_refuses_the_set(referencing, admin_user):
    ids = orders(referencing, admin_user, 3)
    start_recovery(ids[1:2])
    with pytest.raises(TransitionRefused):
        start_recovery(ids)  # the second is in recovery already: the transition refuses it
    statuses = dict(PurchaseOrder.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses == {
        ids[0]: OrderStatus.SIGNED,
        ids[1]: OrderStatus.IN_RECOVERY,
        ids[2]: OrderStatus.SIGNED,
    }


def test_skip_from_skips_the_rows_already_moved(referencing, admin_user):
    ids = orders(referencing, admin_user, 3)
    start_recovery(ids[:1])
    moved = apply_transition_set(
        PurchaseOrder,
        ids,
        "start_recovery",
        actor=ACTOR,
        arguments=lambda o: {"at": AT},
        skip_from=[OrderStatus.SIGNED],
        related=("client",),
    )
    assert moved == 2
    assert JournalEntry.objects.filter(transition="start_recovery").count() == 3


def test_update_rows_writes_shared_and_per_row_values_in_one_statement():
    users = [get_user_model().objects.create(username=f"u{n}") for n in range(3)]
    pks = [u.pk for u in users]
    joined = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        update_rows(
            get_user_model(),
            pks,
            same={"is_staff": True},
            varying={"first_name": ["Anne", "Bruno", "Chloé"], "date_joined": [joined] * 3},
        )
    if connection.vendor == "postgresql":
        assert len(captured) == 1
    written = get_user_model().objects.filter(pk__in=pks).order_by("pk")
    assert [(u.first_name, u.is_staff, u.date_joined) for u in written] == [
        ("Anne", True, joined),
        ("Bruno", True, joined),
        ("Chloé", True, joined),
    ]


def test_insert_rows_inserts_in_one_statement_and_returns_the_ids_in_order():
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        pks = insert_rows(
            get_user_model(), {"username": ["x", "y", "z"]}, same={"first_name": "Même"}
        )
    if connection.vendor == "postgresql":
        assert len(captured) == 1
    users = get_user_model().objects.in_bulk(pks)
    assert [users[pk].username for pk in pks] == ["x", "y", "z"]
    assert {u.first_name for u in users.values()} == {"Même"}
    assert all(u.is_active and u.password == "" for u in users.values())  # field defaults
