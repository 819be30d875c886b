"""The notice of completion (« notification d'achèvement de la prestation »): one command on a
set, all or nothing, its guards declared, journaled, in the order's history.

Source: SONS.md « End of réalisation, exactly » (seed 003, COSUI #7 of 5 April 2023): by the end
of réalisation the vendor must have filed its solde or notified the ASP of the completion of its
prestation; the VA may follow; recovery applies to a prestation neither notified nor soldée.
"""

import pytest

from core.commands import ItemsRefused
from core.models import JournalEntry
from sons import acts
from sons.history import order_history
from sons.models import CompletionNotice
from sons.selectors import (
    completed_in_time,
    completion_due,
    orders_at_risk,
    realisation_missed,
)
from sons.services.completion import notify_completions
from tests.sons.factories import (
    at_paris,
    draft_order,
    lgc_dispositif,
    referenced,
    signed_order,
)

pytestmark = pytest.mark.django_db

# LGC vague 1: end of réalisation 20/09/2023 (seed 003).
BEFORE = at_paris(2023, 9, 1, 10, 0)
AFTER = at_paris(2023, 10, 2, 9, 0)


@pytest.fixture
def referencing(admin_user):
    return referenced(dispositif=lgc_dispositif(), actor=admin_user)


def test_a_set_of_orders_is_notified_at_once_journaled_and_in_their_history(
    referencing, admin_user
):
    orders = [signed_order(referencing=referencing, actor=admin_user) for _ in range(2)]
    results = notify_completions(
        vendor=orders[0].vendor,
        items=[{"order": orders[0]}, {"order": orders[1].reference, "statement": "Achevée."}],
        actor=admin_user,
        at=BEFORE,
    )
    assert [(r["index"], r["order"]) for r in results] == [(0, orders[0].pk), (1, orders[1].pk)]
    notices = {n.order_id: n for n in CompletionNotice.objects.all()}
    assert notices[orders[1].pk].statement == "Achevée."
    assert notices[orders[0].pk].notified_at == BEFORE
    entries = JournalEntry.objects.filter(transition="notify_completion")
    assert entries.count() == 2
    assert entries.first().snapshot["deadline"]["kind"] == "realisation"
    history = order_history(orders[0])
    assert any("notifié à l'ASP" in row.transition for row in history)


def test_all_or_nothing_each_refusal_by_index_field_and_code(referencing, admin_user):
    good = signed_order(referencing=referencing, actor=admin_user)
    draft = draft_order(referencing=referencing, actor=admin_user)
    with pytest.raises(ItemsRefused) as refused:
        notify_completions(
            vendor=good.vendor,
            items=[{"order": good}, {"order": draft}, {"order": "BDC-99999999"}],
            actor=admin_user,
            at=BEFORE,
        )
    # An unknown order is found before any rule is judged: the set is refused for it alone.
    assert [(e.index, e.field, e.code) for e in refused.value.errors] == [
        (2, "order", "does_not_exist")
    ]
    with pytest.raises(ItemsRefused) as refused:
        notify_completions(
            vendor=good.vendor,
            items=[{"order": good}, {"order": draft}],
            actor=admin_user,
            at=BEFORE,
        )
    assert [(e.index, e.field, e.code) for e in refused.value.errors] == [
        (1, "order", "order_not_signed")
    ]
    assert not CompletionNotice.objects.exists()
    assert not JournalEntry.objects.filter(transition="notify_completion").exists()


def test_a_dry_run_judges_and_writes_nothing(referencing, admin_user):
    order = signed_order(referencing=referencing, actor=admin_user)
    results = notify_completions(
        vendor=order.vendor, items=[{"order": order}], actor=admin_user, at=BEFORE, dry_run=True
    )
    assert results[0]["order"] == order.pk
    assert not CompletionNotice.objects.exists()


def test_the_guards_the_page_reads_are_the_commands(referencing, admin_user):
    order = signed_order(referencing=referencing, actor=admin_user)
    assert acts.NOTIFY_COMPLETION.refusals(order, at=BEFORE) == []
    late = acts.NOTIFY_COMPLETION.refusals(order, at=AFTER)
    assert [r.code for r in late] == ["realisation_deadline_passed"]
    notify_completions(vendor=order.vendor, items=[{"order": order}], actor=admin_user, at=BEFORE)
    assert [r.code for r in acts.NOTIFY_COMPLETION.refusals(order, at=BEFORE)] == [
        "completion_already_notified"
    ]


def test_another_vendors_order_is_unknown(referencing, admin_user):
    order = signed_order(referencing=referencing, actor=admin_user)
    other = referenced(dispositif=order.dispositif, actor=admin_user)
    with pytest.raises(ItemsRefused) as refused:
        notify_completions(
            vendor=other.vendor, items=[{"order": order.pk}], actor=admin_user, at=BEFORE
        )
    assert refused.value.errors[0].code == "does_not_exist"


def test_a_notice_in_time_keeps_the_order_from_risk_and_from_missing_the_realisation(
    referencing, admin_user, settings, django_capture_on_commit_callbacks
):
    """SONS.md « End of réalisation, exactly »: a notice in time is what counts (its filing
    deposited at the ASP, step 4); its absence makes the order at risk as the deadline nears
    and missed once it has passed."""
    from tests.payments.factories import deposit_completions

    settings.ORDERS_AT_RISK_DAYS = 30
    told = signed_order(referencing=referencing, actor=admin_user)
    untold = signed_order(referencing=referencing, actor=admin_user)
    notify_completions(vendor=told.vendor, items=[{"order": told}], actor=admin_user, at=BEFORE)
    everything = type(told).objects.all()
    assert told in set(completion_due(everything, at=AFTER))  # given, not yet deposited
    deposit_completions(told, admin_user, django_capture_on_commit_callbacks, BEFORE)
    assert set(completed_in_time(everything, at=AFTER)) == {told}
    assert set(completion_due(everything, at=AFTER)) == {untold}
    assert set(orders_at_risk(at=BEFORE)) == {untold}
    assert set(realisation_missed(everything, at=AFTER)) == {untold}
    assert set(realisation_missed(everything, at=BEFORE)) == set()
