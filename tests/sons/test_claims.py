"""The solde selector: the one answer to « may this solde be claimed now, and if not, why ».

The end of réalisation is read as SONS.md « End of réalisation, exactly » says it (seed 003, COSUI
#7 of 5 April 2023): by that deadline the vendor must have filed its solde or notified the ASP of
the completion of its prestation; the VA may be signed after it; the solde deadline still holds."""

import datetime as dt
from decimal import Decimal

import pytest

from catalogue.models import Deadline, UsageGate
from catalogue.services import publish_calendar_version
from sons.models import PurchaseOrder
from sons.selectors import claim_blockers, with_claim_facts
from sons.services import acceptance, completion, gates
from sons.services.acceptance import Signer
from tests.factories import CalendarVersionFactory, DeadlineFactory, SolutionVersionFactory
from tests.sons.factories import (
    ClientFactory,
    at_paris,
    lgc_dispositif,
    referenced,
    signed_order,
)

pytestmark = pytest.mark.django_db

BEFORE_SOLDES = at_paris(2023, 10, 2, 9, 0)
SOLDES_END = at_paris(2023, 12, 14, 14, 0)


def codes(order, at, prestation="main"):
    return [u.code for u in claim_blockers(order=order, at=at, prestation=prestation)]


def accept_by_va(order, user, at, capture):
    with capture(execute=True):
        va = acceptance.create_va(order=order, delivered_summary="Mise à jour Ségur", actor=user)
        va = acceptance.issue_va(va=va, actor=user, at=at)
    va.refresh_from_db()
    with capture(execute=True):
        return acceptance.sign_va(
            va=va,
            signer=Signer(name="Dr Marie Curie", role="Médecin", identity_method="otp"),
            confirmed=list(va.statements),
            document_sha256=va.pdf_sha256,
            at=at,
        )


def notify_in_time(order, user, at=None):
    """The completion notified to the ASP before the end of réalisation (20/09/2023): given,
    and its filing deposited at the ASP at the same instant (SONS.md step 4)."""
    from tests.payments.factories import deposit_completions_now

    at = at or at_paris(2023, 9, 1, 12, 0)
    notice = completion.notify_completion(order=order, actor=user, at=at)
    deposit_completions_now(order, user, at)
    return notice


@pytest.fixture
def order(admin_user):
    return signed_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=admin_user), actor=admin_user
    )


def test_a_signed_order_without_acceptance_lists_only_that(order):
    unmet = claim_blockers(order=order, at=at_paris(2023, 1, 2, 9, 0))
    assert [u.code for u in unmet] == ["acceptance_missing"]
    assert unmet[0].message == "La VA signée par le client est requise."
    assert unmet[0].as_dict() == {"code": "acceptance_missing", "message": unmet[0].message}


def test_a_va_in_time_but_nothing_told_to_the_asp_misses_the_end_of_realisation(
    order, admin_user, django_capture_on_commit_callbacks
):
    """SONS.md « End of réalisation, exactly » (COSUI 5 April 2023): the VA alone does not
    tell the ASP; by the end of réalisation the solde is filed or the completion notified."""
    accept_by_va(
        order, admin_user, at_paris(2023, 9, 20, 13, 59), django_capture_on_commit_callbacks
    )
    assert codes(order, at_paris(2023, 9, 20, 13, 59, 59)) == []
    assert codes(order, BEFORE_SOLDES) == ["realisation_deadline_passed"]


def test_a_va_signed_after_the_end_of_realisation_is_claimable_with_a_notice_in_time(
    order, admin_user, django_capture_on_commit_callbacks
):
    """Replaces the former reading (« a VA at or after the end of réalisation is too late »):
    SONS.md « End of réalisation, exactly » (COSUI 5 April 2023) lets the client's checks and
    the VA follow a completion notified in time; the solde is due by the solde deadline."""
    notify_in_time(order, admin_user, at=at_paris(2023, 9, 20, 13, 59, 59))
    accept_by_va(
        order, admin_user, at_paris(2023, 10, 15, 10, 0), django_capture_on_commit_callbacks
    )
    assert codes(order, at_paris(2023, 10, 16, 9, 0)) == []
    assert codes(order, SOLDES_END) == ["soldes_deadline_passed"]


def test_a_va_signed_after_the_end_of_realisation_without_a_notice_is_not_claimable(
    order, admin_user, django_capture_on_commit_callbacks
):
    """SONS.md « End of réalisation, exactly » (COSUI 5 April 2023): neither notified nor
    soldé by the end of réalisation, the prestation is missed whatever the VA says later."""
    accept_by_va(
        order, admin_user, at_paris(2023, 9, 20, 14, 0), django_capture_on_commit_callbacks
    )
    assert codes(order, at_paris(2023, 10, 16, 9, 0)) == ["realisation_deadline_passed"]


def test_a_notice_at_the_realisation_cut_off_is_refused(order, admin_user):
    """The notice counts before the end of réalisation in force (20/09/2023 14:00): at 14:00
    it is refused with the rule's code, and nothing is written."""
    from core.commands import ItemsRefused
    from sons.models import CompletionNotice

    with pytest.raises(ItemsRefused) as refused:
        notify_in_time(order, admin_user, at=at_paris(2023, 9, 20, 14, 0))
    assert [(e.index, e.field, e.code) for e in refused.value.errors] == [
        (0, "notified_at", "realisation_deadline_passed")
    ]
    assert not CompletionNotice.objects.exists()


def test_the_solde_cut_off_at_14h(order, admin_user, django_capture_on_commit_callbacks):
    accept_by_va(order, admin_user, at_paris(2023, 9, 1, 10, 0), django_capture_on_commit_callbacks)
    notify_in_time(order, admin_user)
    assert codes(order, at_paris(2023, 12, 14, 13, 59, 59)) == []
    assert codes(order, SOLDES_END) == ["soldes_deadline_passed"]


def test_no_acceptance_after_the_end_of_realisation_says_both(order):
    assert codes(order, at_paris(2023, 10, 2, 9, 0)) == [
        "acceptance_missing",
        "realisation_deadline_passed",
    ]


def test_an_open_conflict_blocks(order, admin_user):
    other = referenced(
        dispositif=order.dispositif, actor=admin_user, version=SolutionVersionFactory()
    )
    signed_order(referencing=other, actor=admin_user, client=order.client)
    assert "conflict_unresolved" in codes(order, BEFORE_SOLDES)


def test_a_mom_is_enough_where_the_dispositif_accepts_it(admin_user):
    dispositif = lgc_dispositif(acceptance="va_or_mom")
    order = signed_order(
        referencing=referenced(dispositif=dispositif, actor=admin_user), actor=admin_user
    )
    acceptance.declare_mom(
        order=order,
        signer=Signer(name="Jean Éditeur", role="Chef de projet", identity_method="compte"),
        statement="La solution est en ordre de marche.",
        actor=admin_user,
        at=at_paris(2023, 9, 1, 10, 0),
    )
    notify_in_time(order, admin_user)
    assert codes(order, BEFORE_SOLDES) == []


def test_every_unmet_condition_is_listed_at_once(admin_user):
    dispositif = lgc_dispositif(requires_on_preseries=True, pilot_size=3)
    UsageGate.objects.create(
        dispositif=dispositif,
        prestation="main",
        indicator="dmp_documents_with_qualified_ins",
        label="Au moins dix documents avec INS qualifiée envoyés au DMP",
        comparison="gte",
        threshold=Decimal(10),
    )
    order = signed_order(
        referencing=referenced(dispositif=dispositif, actor=admin_user), actor=admin_user
    )
    gates.record_usage(order=order, month=at_paris(2023, 1, 1).date(), produced=40, sent=7)
    unmet = claim_blockers(order=order, at=SOLDES_END)
    assert [u.code for u in unmet] == [
        "acceptance_missing",
        "realisation_deadline_passed",
        "on_preseries_not_validated",
        "pilot_not_published",
        "usage_gate_unmet",
        "soldes_deadline_passed",
    ]
    usage = next(u for u in unmet if u.code == "usage_gate_unmet")
    assert "7 documents envoyés (seuil : 10)" in usage.message


def test_gates_clear_one_by_one(admin_user, django_capture_on_commit_callbacks):
    dispositif = lgc_dispositif(requires_on_preseries=True)
    UsageGate.objects.create(
        dispositif=dispositif,
        prestation="main",
        indicator="dmp_documents_with_qualified_ins",
        label="Au moins dix documents avec INS qualifiée envoyés au DMP",
        comparison="gte",
        threshold=Decimal(10),
    )
    ref = referenced(dispositif=dispositif, actor=admin_user)
    order = signed_order(referencing=ref, actor=admin_user)
    accept_by_va(order, admin_user, at_paris(2023, 9, 1, 10, 0), django_capture_on_commit_callbacks)
    notify_in_time(order, admin_user)
    assert codes(order, BEFORE_SOLDES) == ["on_preseries_not_validated", "usage_gate_unmet"]

    preseries = gates.start_preseries(
        solution_version=ref.solution_version,
        pilots=[
            {"name": "Dr A", "role": "medecin", "rpps": ClientFactory.build().rpps},
            {"name": "Pharmacie B", "role": "pharmacien", "rpps": ClientFactory.build().rpps},
        ],
        actor=admin_user,
    )
    preseries = gates.submit_preseries(preseries=preseries, actor=admin_user)
    gates.validate_preseries(preseries=preseries, actor=admin_user)
    assert codes(order, BEFORE_SOLDES) == ["usage_gate_unmet"]

    gates.record_usage(order=order, month=at_paris(2023, 2, 1).date(), produced=12, sent=10)
    assert codes(order, BEFORE_SOLDES) == []


def test_pilot_sites_do_not_wait_for_publication_but_the_others_do(admin_user):
    dispositif = lgc_dispositif(pilot_size=3, acceptance="pilot_pv")
    ref = referenced(dispositif=dispositif, actor=admin_user)
    pilots = [signed_order(referencing=ref, actor=admin_user) for _ in range(3)]
    other = signed_order(referencing=ref, actor=admin_user)
    for pilot in pilots:
        gates.designate_pilot(order=pilot, actor=admin_user)
        gates.record_pilot_pv(
            order=pilot, signed_on=at_paris(2023, 3, 1).date(), pv_sha256="a" * 64, actor=admin_user
        )
        notify_in_time(pilot, admin_user)
    assert codes(pilots[0], BEFORE_SOLDES) == []
    assert codes(other, BEFORE_SOLDES) == [
        "acceptance_missing",
        "realisation_deadline_passed",
        "pilot_not_published",
    ]
    gates.publish_pilot_success(referencing=ref, actor=admin_user)
    assert "pilot_not_published" not in codes(other, BEFORE_SOLDES)


def test_secondary_prestation_rate_gate(admin_user, django_capture_on_commit_callbacks):
    dispositif = lgc_dispositif()
    UsageGate.objects.create(
        dispositif=dispositif,
        prestation="secondary",
        indicator="mes_documents_sent_ratio",
        label="Plus de 60 % des documents produits envoyés à Mon espace santé",
        comparison="gt",
        threshold=Decimal("0.60"),
        observation_months=6,
        reading="each_month",  # the former reading; LGC vague 2's is tests/sons/test_usage_gate.py
    )
    order = signed_order(
        referencing=referenced(dispositif=dispositif, actor=admin_user), actor=admin_user
    )
    accept_by_va(order, admin_user, at_paris(2023, 9, 1, 10, 0), django_capture_on_commit_callbacks)
    notify_in_time(order, admin_user)
    for month in range(1, 6):
        gates.record_usage(
            order=order, month=at_paris(2023, month, 1).date(), produced=100, sent=61
        )
    assert codes(order, BEFORE_SOLDES, "secondary") == ["usage_gate_unmet"]
    assert codes(order, BEFORE_SOLDES) == []  # the main prestation is not gated by usage here
    gates.record_usage(order=order, month=at_paris(2023, 6, 1).date(), produced=100, sent=60)
    assert codes(order, BEFORE_SOLDES, "secondary") == ["usage_gate_unmet"]  # 60 % is not > 60 %
    gates.record_usage(order=order, month=at_paris(2023, 6, 1).date(), produced=100, sent=61)
    assert codes(order, BEFORE_SOLDES, "secondary") == []


def test_a_dispositif_without_secondary_prestation_says_so(order):
    assert "no_secondary_prestation" in codes(order, BEFORE_SOLDES, "secondary")


def test_a_prolongation_applies_from_its_day_and_the_message_names_the_one_in_force(
    order, admin_user, django_capture_on_commit_callbacks
):
    """SONS.md « Calendar and deadlines »: the calendar in force is the newest version applied
    on or before the Paris day of the act; the same process judges either side of it."""
    prolongation = CalendarVersionFactory(dispositif=order.dispositif)
    DeadlineFactory(version=prolongation, kind="realisation", at=at_paris(2023, 12, 1, 14, 0))
    DeadlineFactory(version=prolongation, kind="soldes", at=at_paris(2024, 3, 1, 14, 0))
    publish_calendar_version(
        version=prolongation,
        published_on=dt.date(2023, 10, 1),
        actor=admin_user,
        at=at_paris(2023, 10, 1, 9, 0),
    )
    accept_by_va(order, admin_user, at_paris(2023, 9, 1, 10, 0), django_capture_on_commit_callbacks)
    before = claim_blockers(order=order, at=at_paris(2023, 9, 30, 23, 59, 59))
    assert [u.code for u in before] == ["realisation_deadline_passed"]
    assert "(20/09/2023 à 14:00)" in before[0].message
    assert codes(order, at_paris(2023, 10, 1, 0, 0)) == []
    after = claim_blockers(order=order, at=at_paris(2023, 12, 1, 14, 0))
    assert [u.code for u in after] == ["realisation_deadline_passed"]
    assert "(01/12/2023 à 14:00)" in after[0].message
    soldes = claim_blockers(order=order, at=at_paris(2024, 3, 1, 14, 0))
    assert soldes[-1].code == "soldes_deadline_passed"
    assert "01/03/2024 à 14:00" in soldes[-1].message


def test_each_order_is_judged_on_its_own_facts(
    order, admin_user, django_capture_on_commit_callbacks
):
    other = signed_order(referencing=order.referencing, actor=admin_user)
    accept_by_va(order, admin_user, at_paris(2023, 9, 1, 10, 0), django_capture_on_commit_callbacks)
    notify_in_time(order, admin_user)
    assert codes(order, BEFORE_SOLDES) == []
    assert codes(other, BEFORE_SOLDES) == ["acceptance_missing", "realisation_deadline_passed"]
    assert codes(order, BEFORE_SOLDES) == []


def test_the_deadlines_and_the_facts_are_read_in_one_statement(order, django_assert_num_queries):
    order = PurchaseOrder.objects.select_related("dispositif").get(pk=order.pk)
    with django_assert_num_queries(1):
        assert codes(order, BEFORE_SOLDES) == ["acceptance_missing", "realisation_deadline_passed"]


def test_without_an_end_of_realisation_published_a_notice_counts_whenever_given(order, admin_user):
    """`_told_before` with no deadline: any evidence on file counts (nothing can be late)."""
    notify_in_time(order, admin_user)
    Deadline.objects.filter(version__dispositif=order.dispositif, kind="realisation").delete()
    orders = PurchaseOrder.objects.filter(pk=order.pk)
    facts = with_claim_facts(orders, day=dt.date(2023, 10, 2)).get()
    assert facts.claim_realisation_at is None
    assert facts.claim_told_in_time
    assert codes(order, BEFORE_SOLDES) == ["acceptance_missing"]
