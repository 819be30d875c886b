"""Declared guards: what may happen now is read from the transitions' conditions and the acts,
without writing anything, and the services refuse with the very same rule."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import RuleViolation
from core.guards import Act, Refusal, guard, transition_refusals
from sons import acts
from sons.models import OrderStatus, PurchaseOrder
from sons.services import acceptance
from sons.services import orders as order_services
from tests.sons.factories import (
    ORDERS_END,
    ClientFactory,
    draft_order,
    lgc_dispositif,
    record_for,
    referenced,
    signed_order,
)

pytestmark = pytest.mark.django_db


@guard("too_big", field="size")
def at_most_three(obj, at):
    return None if obj["size"] <= 3 else f"{obj['size']} dépasse 3."


@guard("many")
def two_reasons(obj, at):
    return [Refusal("a", "première"), Refusal("b", "seconde")]


def test_a_guard_gives_its_code_field_and_sentence():
    assert at_most_three.refusal({"size": 3}, None) is None
    assert at_most_three.refusal({"size": 4}, None) == Refusal("too_big", "4 dépasse 3.", "size")
    act = Act("grow", "Grandir", (at_most_three, two_reasons))
    assert [r.code for r in act.refusals({"size": 9}, at=None)] == ["too_big", "a", "b"]
    with pytest.raises(RuleViolation) as exc:
        act.require({"size": 9}, at=None)
    assert (exc.value.code, exc.value.field) == ("too_big", "size")


def test_every_transition_guard_is_declared_with_a_code():
    """No anonymous condition: each one says its rule code (the page and the API show it)."""
    from django.apps import apps

    from core.guards import Guard

    found = 0
    for model in apps.get_models():
        for name in dir(model):
            meta = getattr(getattr(model, name, None), "_django_fsm", None)
            if meta is None:
                continue
            for transition in meta.transitions.values():
                for condition in transition.conditions:
                    found += 1
                    assert isinstance(condition, Guard), (model, name, condition)
                    assert condition.code
    assert found >= 6


@pytest.fixture
def referencing(admin_user):
    return referenced(dispositif=lgc_dispositif(), actor=admin_user)


def test_signing_guard_read_at_the_cut_off_agrees_with_the_service(referencing, admin_user):
    order = draft_order(referencing=referencing, actor=admin_user)
    just_in_time = ORDERS_END - dt.timedelta(seconds=1)
    with CaptureQueriesContext(connection) as queries:
        assert transition_refusals(order, "sign", at=just_in_time) == []
        late = transition_refusals(order, "sign", at=ORDERS_END)
    assert [r.code for r in late] == ["orders_deadline_passed"]
    assert "30/11/2022 à 14:00:00" in late[0].message
    assert not [q for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert not [q for q in queries if "FOR UPDATE" in q["sql"].upper()]

    with pytest.raises(RuleViolation) as exc:
        order_services.sign_order(
            order=order,
            signatory_name="Dr Marie Curie",
            signatory_role="Médecin",
            method="cps",
            actor=admin_user,
            at=ORDERS_END,
        )
    assert (exc.value.code, exc.value.message) == (late[0].code, late[0].message)
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_a_state_that_has_no_such_transition_is_named(referencing, admin_user):
    order = signed_order(referencing=referencing, actor=admin_user)
    refusals = transition_refusals(order, "sign", at=ORDERS_END)
    assert [r.code for r in refusals] == ["transition_not_allowed"]
    assert "Signé" in refusals[0].message


def test_issuing_a_va_needs_the_mssante_address_and_the_page_says_so_first(
    referencing, admin_user
):
    client = ClientFactory()
    order = signed_order(referencing=referencing, actor=admin_user, client=client)
    record_for(client, order.vendor, mssante_address="")
    order = PurchaseOrder.objects.get(pk=order.pk)  # the record is cached on the order
    at = ORDERS_END
    refusals = acts.ISSUE_VA.refusals(order, at=at)
    assert [r.code for r in refusals] == ["mssante_address_required"]
    assert refusals[0].field == "mssante_address"
    # A VA may still be prepared; issuing it is refused by the transition's own guard.
    va = acceptance.create_va(order=order, delivered_summary="Livré", actor=admin_user, at=at)
    with pytest.raises(RuleViolation) as exc:
        acceptance.issue_va(va=va, actor=admin_user, at=at)
    assert exc.value.code == "mssante_address_required"
