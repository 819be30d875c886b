"""Purchase orders (BDC): signature at the cut-off, conditional orders, endings, frozen amounts."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from core.errors import RuleViolation, TransitionRefused
from core.models import JournalEntry
from sons.models import OrderStatus, PurchaseOrder
from sons.services import orders as services
from tests.factories import SolutionVersionFactory
from tests.sons.factories import (
    ORDERS_END,
    ClientFactory,
    at_paris,
    draft_order,
    lgc_dispositif,
    referenced,
    signed_order,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def referencing(admin_user):
    return referenced(dispositif=lgc_dispositif(), actor=admin_user)


def sign(order, user, at):
    return services.sign_order(
        order=order,
        signatory_name="Dr Marie Curie",
        signatory_role="Médecin titulaire",
        method="cps",
        actor=user,
        at=at,
    )


def snapshot(order):
    order.refresh_from_db()
    return (
        order.status,
        order.signed_at,
        order.amount_ht_cents,
        JournalEntry.objects.for_object(order).count(),
    )


def test_signed_at_13_59_59_on_the_last_day_is_accepted(referencing, admin_user):
    order = draft_order(referencing=referencing, actor=admin_user)
    order = sign(order, admin_user, ORDERS_END - dt.timedelta(seconds=1))
    assert order.status == OrderStatus.SIGNED
    assert order.referencing == referencing
    assert (order.amount_ht_cents, order.amount_ttc_cents) == (150000, 180000)
    entry = JournalEntry.objects.for_object(order).last()
    assert entry.transition == "sign"
    assert entry.snapshot["deadline"]["deadline_at"] == "2022-11-30T14:00:00+01:00"
    assert entry.snapshot["amount"]["ht_cents"] == 150000


def test_signed_at_14_00_00_on_the_last_day_is_refused_and_nothing_changes(referencing, admin_user):
    order = draft_order(referencing=referencing, actor=admin_user)
    before = snapshot(order)
    with pytest.raises(RuleViolation) as exc:
        sign(order, admin_user, ORDERS_END)
    assert exc.value.code == "orders_deadline_passed"
    assert "30/11/2022 à 14:00:00" in exc.value.message
    assert snapshot(order) == before == (OrderStatus.DRAFT, None, None, 1)


def test_the_amount_is_frozen_at_signature(admin_user):
    from catalogue.models import Tariff
    from catalogue.rules import TariffKind

    dispositif = lgc_dispositif()
    Tariff.objects.filter(dispositif=dispositif).delete()
    tariff = Tariff.objects.create(
        dispositif=dispositif, kind=TariffKind.TIERED, characteristic="doctors"
    )
    tariff.tiers.create(lower=0, upper=3, amount_cents=62500)
    tariff.tiers.create(lower=3, upper=None, amount_cents=87500)
    ref = referenced(dispositif=dispositif, actor=admin_user)
    client = ClientFactory(characteristics={"doctors": 2})
    order = signed_order(referencing=ref, actor=admin_user, client=client)
    assert order.amount_ht_cents == 62500
    client.characteristics = {"doctors": 5}
    client.save()
    order.refresh_from_db()
    assert order.amount_ht_cents == 62500
    assert order.pricing_snapshot["characteristics"] == {"doctors": 2}


def test_a_missing_characteristic_refuses_the_signature(admin_user):
    from catalogue.models import Tariff
    from catalogue.rules import TariffKind

    dispositif = lgc_dispositif()
    Tariff.objects.filter(dispositif=dispositif).update(
        kind=TariffKind.TIERED, characteristic="doctors", flat_cents=None
    )
    ref = referenced(dispositif=dispositif, actor=admin_user)
    order = draft_order(referencing=ref, actor=admin_user)
    with pytest.raises(RuleViolation) as exc:
        sign(order, admin_user, at_paris(2022, 9, 1, 10, 0))
    assert exc.value.code == "characteristic_missing"
    assert snapshot(order)[0] == OrderStatus.DRAFT


def test_unreferenced_solution_without_conditional_orders_is_refused(admin_user):
    dispositif = lgc_dispositif()
    ref = referenced(dispositif=dispositif, actor=admin_user)
    other_version = SolutionVersionFactory(solution=ref.solution_version.solution)
    order = services.create_order(
        vendor=ref.solution_version.solution.editor,
        client=ClientFactory(),
        dispositif=dispositif,
        solution_version=other_version,
        installation_scenario="Poste unique",
        actor=admin_user,
    )
    with pytest.raises(RuleViolation) as exc:
        sign(order, admin_user, at_paris(2022, 9, 1, 10, 0))
    assert exc.value.code == "solution_not_referenced"


def test_a_referencing_decided_after_the_signature_does_not_count(admin_user):
    dispositif = lgc_dispositif()
    ref = referenced(dispositif=dispositif, actor=admin_user, at=at_paris(2022, 10, 1, 9, 0))
    order = draft_order(referencing=ref, actor=admin_user)
    with pytest.raises(RuleViolation) as exc:
        sign(order, admin_user, at_paris(2022, 9, 30, 9, 0))
    assert exc.value.code == "solution_not_referenced"


@pytest.fixture
def conditional_dispositif():
    return lgc_dispositif(conditional_window_amount=4, conditional_window_unit="months")


def _unreferenced_draft(dispositif, admin_user):
    from catalogue import services as ref_services

    version = SolutionVersionFactory()
    ref = ref_services.create_referencing(
        solution_version=version,
        dispositif=dispositif,
        vendor=version.solution.editor,
        actor=admin_user,
        at=at_paris(2022, 3, 1, 9, 0),
    )
    ref = ref_services.submit_referencing(
        referencing=ref, actor=admin_user, at=at_paris(2022, 3, 1, 9, 0)
    )
    order = services.create_order(
        vendor=version.solution.editor,
        client=ClientFactory(),
        dispositif=dispositif,
        solution_version=version,
        installation_scenario="Poste unique",
        actor=admin_user,
    )
    return ref, order


def test_conditional_order_gets_its_window_and_is_confirmed_by_a_referencing_inside_it(
    conditional_dispositif, admin_user
):
    from catalogue import services as ref_services

    ref, order = _unreferenced_draft(conditional_dispositif, admin_user)
    order = sign(order, admin_user, at_paris(2022, 3, 15, 10, 0))
    assert order.status == OrderStatus.CONDITIONAL
    assert order.conditional_until == at_paris(2022, 7, 15, 10, 0)
    ref = ref_services.start_review(referencing=ref, actor=admin_user)
    ref_services.reference_solution(
        referencing=ref, actor=admin_user, ans_number="ANS-C1", at=at_paris(2022, 7, 15, 9, 59)
    )
    order = services.confirm_conditional_order(
        order=order, actor=admin_user, at=at_paris(2022, 7, 20, 8, 0)
    )
    assert order.status == OrderStatus.SIGNED
    assert order.referencing == ref


def test_conditional_order_lapses_when_the_window_closes_first(conditional_dispositif, admin_user):
    from catalogue import services as ref_services

    ref, order = _unreferenced_draft(conditional_dispositif, admin_user)
    order = sign(order, admin_user, at_paris(2022, 3, 15, 10, 0))
    with pytest.raises(RuleViolation) as exc:
        services.lapse_order(order=order, actor=admin_user, at=at_paris(2022, 7, 15, 9, 59))
    assert exc.value.code == "conditional_window_open"
    order = services.lapse_order(order=order, actor=admin_user, at=at_paris(2022, 7, 15, 10, 0))
    assert order.status == OrderStatus.LAPSED
    # A referencing that arrives after the window cannot revive it.
    ref = ref_services.start_review(referencing=ref, actor=admin_user)
    ref_services.reference_solution(
        referencing=ref, actor=admin_user, ans_number="ANS-C2", at=at_paris(2022, 8, 1, 9, 0)
    )
    with pytest.raises(TransitionRefused):
        services.confirm_conditional_order(order=order, actor=admin_user)


def test_referencing_after_the_window_cannot_confirm(conditional_dispositif, admin_user):
    from catalogue import services as ref_services

    ref, order = _unreferenced_draft(conditional_dispositif, admin_user)
    order = sign(order, admin_user, at_paris(2022, 3, 15, 10, 0))
    ref = ref_services.start_review(referencing=ref, actor=admin_user)
    ref_services.reference_solution(
        referencing=ref, actor=admin_user, ans_number="ANS-C3", at=at_paris(2022, 7, 15, 10, 0)
    )
    with pytest.raises(RuleViolation) as exc:
        services.confirm_conditional_order(order=order, actor=admin_user)
    assert exc.value.code == "referencing_outside_window"
    assert snapshot(order)[0] == OrderStatus.CONDITIONAL


def test_one_live_order_per_vendor_client_and_dispositif(referencing, admin_user):
    client = ClientFactory()
    first = draft_order(referencing=referencing, actor=admin_user, client=client)
    with pytest.raises(RuleViolation) as exc:
        draft_order(referencing=referencing, actor=admin_user, client=client)
    assert exc.value.code == "order_already_open"
    # The database refuses it too, whatever path writes.
    with pytest.raises(IntegrityError), transaction.atomic():
        PurchaseOrder.objects.create(
            vendor=first.vendor,
            client=client,
            dispositif=first.dispositif,
            solution_version=first.solution_version,
            installation_scenario="x",
        )
    services.cancel_order(order=first, actor=admin_user, sworn_statement="")
    assert draft_order(referencing=referencing, actor=admin_user, client=client).pk != first.pk


def test_cancelling_a_signed_order_needs_a_sworn_statement(referencing, admin_user):
    order = signed_order(referencing=referencing, actor=admin_user)
    with pytest.raises(RuleViolation) as exc:
        services.cancel_order(order=order, actor=admin_user, sworn_statement=" ")
    assert exc.value.code == "sworn_statement_required"
    order = services.cancel_order(
        order=order,
        actor=admin_user,
        sworn_statement="Je déclare sur l'honneur que la prestation n'a pas commencé.",
        client_renunciation="Le client renonce par courrier du 02/09/2022.",
    )
    assert order.status == OrderStatus.CANCELLED
    assert order.client_renunciation.startswith("Le client renonce")


def test_default_tells_the_client_and_the_agency_and_forbids_billing(
    referencing, admin_user, mailoutbox, django_capture_on_commit_callbacks, settings
):
    order = signed_order(referencing=referencing, actor=admin_user)
    with pytest.raises(RuleViolation):
        services.declare_default(order=order, actor=admin_user, reason="")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        order = services.declare_default(
            order=order, actor=admin_user, reason="Fin de commercialisation du logiciel."
        )
    assert order.status == OrderStatus.DEFAULTED
    recipients = {r for m in mailoutbox for r in m.to}
    assert recipients == {order.contact.email, settings.PAYING_AGENCY_EMAIL}
    assert all("ne peut en aucun cas vous être facturée" in m.body for m in mailoutbox)
    order.refresh_from_db()
    assert order.client_notified_at is not None and order.agency_notified_at is not None


def test_completion_and_recovery(referencing, admin_user):
    order = signed_order(referencing=referencing, actor=admin_user)
    order = services.complete_order(order=order, actor="système:paiements")
    assert order.status == OrderStatus.COMPLETED
    order = services.start_recovery(order=order, actor=admin_user, reason="Contrôle a posteriori")
    assert order.status == OrderStatus.IN_RECOVERY
    with pytest.raises(TransitionRefused):
        services.complete_order(order=order, actor=admin_user)


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        (services.complete_order, {}),
        (services.lapse_order, {}),
        (services.declare_default, {"reason": "x"}),
        (services.confirm_conditional_order, {}),
    ],
)
def test_transitions_from_draft_are_refused(referencing, admin_user, call, kwargs):
    order = draft_order(referencing=referencing, actor=admin_user)
    with pytest.raises((TransitionRefused, RuleViolation)):
        call(order=order, actor=admin_user, **kwargs)
    assert snapshot(order)[0] == OrderStatus.DRAFT


def test_status_is_never_set_by_hand(referencing, admin_user):
    order = draft_order(referencing=referencing, actor=admin_user)
    with pytest.raises(AttributeError):
        order.status = OrderStatus.SIGNED
