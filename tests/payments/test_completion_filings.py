"""Notices of completion travel to the ASP in filings of their own kind (« achevement »), built,
written and transmitted like the claims' filings, valid against their published schema.

Source: SONS.md « End of réalisation, exactly » (seed 003, COSUI #7 of 5 April 2023): by the end
of réalisation the vendor has filed its solde or notified the ASP of the completion.
"""

import datetime as dt
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from core.errors import RuleViolation
from core.models import JournalEntry
from payments.asp.filing import FILING_MODELS
from payments.asp.writer import write_filing_files
from payments.models import AspFiling, ClaimKind, ClaimStatus, FiledCompletion, PaymentClaim
from payments.services import claims, filings, recovery
from sons.services.completion import notify_completions
from tests.payments.factories import deposit_completions
from tests.sons.factories import at_paris, lgc_dispositif, referenced, signed_order

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).resolve().parents[2] / "payments" / "schemas"
SCHEMA = SCHEMAS / "achevement-v1.0.schema.json"
NOTIFIED_AT = at_paris(2023, 9, 15, 10, 0)
FILED_AT = at_paris(2023, 9, 16, 9, 0)


@pytest.fixture
def notified(admin_user):
    referencing = referenced(dispositif=lgc_dispositif(), actor=admin_user)
    orders = [signed_order(referencing=referencing, actor=admin_user) for _ in range(3)]
    notify_completions(
        vendor=orders[0].vendor,
        items=[{"order": o, "statement": f"Achevée ({n})."} for n, o in enumerate(orders[:2])],
        actor=admin_user,
        at=NOTIFIED_AT,
    )
    return orders


def test_the_notices_are_built_into_a_filing_written_valid_and_transmitted(
    notified, admin_user, django_capture_on_commit_callbacks
):
    order = notified[0]
    with django_capture_on_commit_callbacks(execute=False):
        (filing,) = filings.build_filings(
            vendor=order.vendor,
            dispositif=order.dispositif,
            kind="achevement",
            actor=admin_user,
            at=FILED_AT,
        )
    assert filing.name == f"SONS_achevement_{order.dispositif.code}_{order.vendor.siret}_0001"
    lines = FiledCompletion.objects.filter(filing=filing).order_by("line_number")
    # Each line carries its notice's order and that order's dispositif (what
    # `completion_deposited` judges by).
    assert [
        (line.line_number, line.notice.order_id, line.order_id, line.dispositif_id)
        for line in lines
    ] == [
        (1, notified[0].pk, notified[0].pk, order.dispositif_id),
        (2, notified[1].pk, notified[1].pk, order.dispositif_id),
    ]
    assert JournalEntry.objects.filter(transition="file_completion").count() == 2

    filing = AspFiling.objects.select_related("vendor", "dispositif").get(pk=filing.pk)
    write_filing_files(filing)
    filing.refresh_from_db()
    with filing.json_file.open("rb") as handle:
        raw = handle.read()
    doc = json.loads(raw)
    schema = json.loads(SCHEMA.read_text("utf-8"))
    errors = list(Draft202012Validator(schema).iter_errors(doc))
    assert not errors, [e.message for e in errors]
    FILING_MODELS["achevement"].model_validate_json(raw)
    assert doc["kind"] == "achevement"
    assert doc["totals"] == {"line_count": 2}
    assert [line["order_reference"] for line in doc["lines"]] == [
        notified[0].reference,
        notified[1].reference,
    ]
    assert doc["lines"][1]["statement"] == "Achevée (1)."
    assert doc["lines"][0]["notified_at"].startswith("2023-09-15T10:00:00")

    filing = filings.transmit_filing(filing=filing, actor=admin_user, at=FILED_AT)
    assert filing.status == "transmitted"

    # Filed once: nothing left for a second filing.
    with pytest.raises(RuleViolation) as exc:
        filings.build_filings(
            vendor=order.vendor,
            dispositif=order.dispositif,
            kind="achevement",
            actor=admin_user,
            at=FILED_AT,
        )
    assert exc.value.code == "nothing_to_file"


def deposit(order, admin_user, capture, at):
    return deposit_completions(order, admin_user, capture, at)


def test_a_notice_in_time_keeps_a_paid_avance_from_recovery(
    notified, admin_user, django_capture_on_commit_callbacks
):
    """SONS.md « End of réalisation, exactly »: recovery is for a prestation neither notified
    nor soldée by the end of réalisation (20/09/2023 for LGC vague 1), not for one notified
    (its filing deposited at the ASP in time, step 4)."""
    deposit(notified[0], admin_user, django_capture_on_commit_callbacks, FILED_AT)
    after = at_paris(2023, 10, 2, 9, 0)
    for order in notified:
        claim = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
        PaymentClaim.objects.filter(pk=claim.pk).update(
            status=ClaimStatus.PAID, paid_amount_cents=claim.amount_ttc_cents
        )
    assert [o.pk for o, _cause in recovery.recoveries_due(at=after)] == [notified[2].pk]
    assert not recovery.realisation_missed(notified[0], after)
    assert recovery.realisation_missed(notified[2], after)


def test_a_solde_filed_in_time_counts_as_telling_the_asp(notified, admin_user):
    """SONS.md « End of réalisation, exactly »: the solde filed by the end of réalisation
    tells the ASP as the notice does."""
    untold = notified[2]
    after = at_paris(2023, 10, 2, 9, 0)
    solde = claims.open_claim(order=untold, kind=ClaimKind.SOLDE, actor=admin_user)
    PaymentClaim.objects.filter(pk=solde.pk).update(
        status=ClaimStatus.SUBMITTED, submitted_at=at_paris(2023, 9, 19, 10, 0)
    )
    assert not recovery.realisation_missed(untold, after)
    PaymentClaim.objects.filter(pk=solde.pk).update(submitted_at=at_paris(2023, 9, 21, 10, 0))
    assert recovery.realisation_missed(untold, after)


# -- SONS.md, life of a Prestation, step 4: the instant that counts is the deposit at the ASP ----

END_OF_REALISATION = at_paris(2023, 9, 20, 14, 0)  # the test dispositif's end of réalisation


def test_step4_a_notice_given_in_time_counts_only_once_its_filing_is_deposited(
    notified, admin_user, django_capture_on_commit_callbacks
):
    from sons.selectors import order_completed_in_time

    order = notified[0]
    assert not order_completed_in_time(order, at=FILED_AT)  # given, not yet deposited
    deposit(order, admin_user, django_capture_on_commit_callbacks, FILED_AT)
    assert order_completed_in_time(order, at=at_paris(2023, 10, 2, 9, 0))


def test_step4_a_notice_given_in_time_but_deposited_late_is_late(
    notified, admin_user, django_capture_on_commit_callbacks
):
    """Given on 15/09/2023 (the vendor's click), deposited on 20/09/2023 at 14:00, the end of
    réalisation: late; at 13:59:59 it is in time."""
    from sons.selectors import order_completed_in_time

    order = notified[0]
    filing = deposit(order, admin_user, django_capture_on_commit_callbacks, END_OF_REALISATION)
    assert not order_completed_in_time(order, at=at_paris(2023, 10, 2, 9, 0))
    assert recovery.realisation_missed(order, at_paris(2023, 10, 2, 9, 0))
    AspFiling.objects.filter(pk=filing.pk).update(
        transmitted_at=END_OF_REALISATION - dt.timedelta(seconds=1)
    )
    assert order_completed_in_time(order, at=at_paris(2023, 10, 2, 9, 0))


def feedback(filing, decisions: list[tuple[int, str]], name: str) -> tuple[bytes, str]:
    items = [
        {"filing": filing.name, "line_number": line, "decision": decision, "reason": "Motif"}
        for line, decision in decisions
    ]
    content = {"schema_version": "1.0", "issued_at": "2023-09-30T10:00:00+02:00", "items": items}
    return json.dumps(content).encode(), name


def test_step4_the_asp_accepts_or_refuses_each_notice_all_or_nothing(
    notified, admin_user, django_capture_on_commit_callbacks
):
    from payments.models import CompletionDecision
    from sons.selectors import order_completed_in_time

    filing = deposit(notified[0], admin_user, django_capture_on_commit_callbacks, FILED_AT)
    after = at_paris(2023, 10, 2, 9, 0)
    # A file with one impossible decision (« à modifier » for a notice) changes nothing.
    content, name = feedback(filing, [(1, "validee"), (2, "a_modifier")], "retour-1.json")
    with pytest.raises(filings.FeedbackRefused) as refused:
        filings.import_feedback(content=content, file_name=name, actor=admin_user)
    assert "ligne 2" in str(refused.value.message)
    assert not FiledCompletion.objects.exclude(agency_decision="").exists()
    # Accepted for line 1, refused for line 2: the refused notice tells the ASP nothing.
    content, name = feedback(filing, [(1, "validee"), (2, "rejetee")], "retour-2.json")
    imported = filings.import_feedback(content=content, file_name=name, actor=admin_user)
    assert imported.moved_count == 2
    decisions = dict(FiledCompletion.objects.values_list("notice__order_id", "agency_decision"))
    assert decisions == {
        notified[0].pk: CompletionDecision.ACCEPTED,
        notified[1].pk: CompletionDecision.REFUSED,
    }
    assert order_completed_in_time(notified[0], at=after)
    assert not order_completed_in_time(notified[1], at=after)
    refused_notice = FiledCompletion.objects.get(notice__order=notified[1]).notice
    assert (
        JournalEntry.objects.for_object(refused_notice)
        .filter(transition="completion_refusee")
        .exists()
    )
    filing.refresh_from_db()
    assert filing.status == "acknowledged"
    # The same file again changes nothing; a contrary answer later is refused whole.
    assert filings.import_feedback(content=content, file_name=name, actor=admin_user) == imported
    content, name = feedback(filing, [(2, "validee")], "retour-3.json")
    with pytest.raises(filings.FeedbackRefused):
        filings.import_feedback(content=content, file_name=name, actor=admin_user)


def test_step4_a_notice_the_asp_refused_goes_again_in_the_next_filing_and_then_counts(
    notified, admin_user, django_capture_on_commit_callbacks
):
    """A refused notice tells the ASP nothing (step 4), but the vendor may still tell it before
    the end of réalisation: the next « achèvement » filing carries it again, once; the refused
    line stays as the record of the ASP's answer. Deposited again in time, it counts."""
    from django.db import IntegrityError, transaction

    from payments.models import CompletionDecision
    from sons.selectors import order_completed_in_time

    first = deposit(notified[0], admin_user, django_capture_on_commit_callbacks, FILED_AT)
    content, name = feedback(first, [(1, "validee"), (2, "rejetee")], "retour.json")
    filings.import_feedback(content=content, file_name=name, actor=admin_user)
    after = at_paris(2023, 10, 2, 9, 0)
    assert not order_completed_in_time(notified[1], at=after)

    again_at = at_paris(2023, 9, 19, 9, 0)
    second = deposit(notified[1], admin_user, django_capture_on_commit_callbacks, again_at)
    carried = list(second.completion_lines.values_list("notice__order_id", "line_number"))
    assert carried == [(notified[1].pk, 1)]  # the refused one only, not the accepted one
    lines = FiledCompletion.objects.filter(notice__order=notified[1]).order_by("pk")
    assert [(line.filing_id, line.agency_decision) for line in lines] == [
        (first.pk, CompletionDecision.REFUSED),
        (second.pk, CompletionDecision.PENDING),
    ]
    refiled = JournalEntry.objects.for_object(lines[0].notice).get(
        transition="file_completion", snapshot__filing=second.name
    )
    assert (refiled.source_state, refiled.target_state) == (
        "completion_refusee",
        "completion_filed",
    )
    assert order_completed_in_time(notified[1], at=after)

    # Nothing left to file: the pending line is live; the database holds one live line at most.
    with pytest.raises(RuleViolation) as nothing:
        filings.build_filings(
            vendor=notified[0].vendor,
            dispositif=notified[0].dispositif,
            kind="achevement",
            actor=admin_user,
            at=again_at,
        )
    assert nothing.value.code == "nothing_to_file"
    with pytest.raises(IntegrityError), transaction.atomic():
        FiledCompletion.objects.create(filing=first, notice=lines[1].notice, line_number=9)
