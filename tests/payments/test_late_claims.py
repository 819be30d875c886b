"""Never a late claim in a filing.

SONS.md, « The life of one Prestation Ségur », step 4: « The instant that counts is the deposit
at the ASP: a claim prepared in time but deposited after the cut-off is late, and the engine must
never put a late claim in a filing. » Building a filing and transmitting it judge each claim
against its filing deadline in force at that instant (`payments.selectors.past_filing_deadline`);
the claim's `submit` transition declares the same rule as its guard.
"""

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from django.core import mail

from catalogue.models import Tariff
from catalogue.rules import TariffKind
from core.errors import RuleViolation
from core.guards import transition_refusals
from core.models import JournalEntry
from payments import selectors
from payments.models import AspFiling, ClaimKind, ClaimStatus, FilingStatus, PaymentClaim
from payments.selectors import filing_deadline_missed, late_claims, past_filing_deadline
from payments.services import claims
from payments.services.filings import build_filings, require_transmitted, transmit_filing
from payments.sweep import sweep
from sons import tasks as sons_tasks
from tests.factories import CalendarVersionFactory, DeadlineFactory, DispositifFactory
from tests.sons.factories import at_paris, lgc_dispositif, referenced, signed_order

pytestmark = pytest.mark.django_db

SECOND = dt.timedelta(seconds=1)
# lgc_dispositif: the end of avances, 30/11/2022 at 14:00 Paris time (CET, 13:00 UTC).
LAST_DAY_CUT_OFF = at_paris(2022, 11, 30, 14, 0)
JUST_BEFORE = at_paris(2022, 11, 30, 13, 59, 59)
NEXT_DAY = at_paris(2022, 12, 1, 10, 0)
REASON = "Fin des demandes d'avance le 30/11/2022 à 14:00"


def world(user, *, dispositif=None, count=2, ready_at=JUST_BEFORE, bdc=False):
    """`count` avances of one vendor made ready at `ready_at`; the vendor has a mailbox."""
    dispositif = dispositif or lgc_dispositif()
    ref = referenced(dispositif=dispositif, actor=user)
    vendor = ref.vendor
    vendor.contact_email = "depots@editeur.example"
    vendor.save(update_fields=["contact_email"])
    ready = []
    for _ in range(count):
        order = signed_order(referencing=ref, actor=user)
        if bdc:
            sons_tasks.render_order_pdf(order.pk)  # the BDC the filing's zip carries
        claim = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=user, at=ready_at)
        ready.append(claims.make_ready(claim=claim, actor=user, at=ready_at))
    return vendor, dispositif, ready


def fresh(rows):
    return [PaymentClaim.objects.get(pk=c.pk) for c in rows]


def build(vendor, dispositif, user, at, capture, *, execute=True):
    """Builds at `at`; with `execute`, what follows the commit runs (files, mail)."""
    with capture(execute=execute):
        return build_filings(
            vendor=vendor, dispositif=dispositif, kind=ClaimKind.AVANCE, actor=user, at=at
        )


# --- Building a filing ---------------------------------------------------------------------------


def test_step4_made_ready_at_135959_on_the_last_day_then_built_the_next_day_is_left_out(
    admin_user, django_capture_on_commit_callbacks
):
    vendor, dispositif, ready = world(admin_user)
    assert {c.status for c in ready} == {ClaimStatus.READY}  # in time when made ready

    built = build(vendor, dispositif, admin_user, NEXT_DAY, django_capture_on_commit_callbacks)

    assert list(built) == [] and not AspFiling.objects.exists()  # never in a filing
    assert sorted(c.claim_id for c in built.left_out) == sorted(c.pk for c in ready)
    for claim in fresh(ready):
        assert claim.status == ClaimStatus.READY and claim.filing_id is None
        assert claim.deadline_missed_at == NEXT_DAY
        assert claim.deadline_missed_reason.startswith(REASON)
        entry = JournalEntry.objects.for_object(claim).last()
        assert entry.transition == "flag_deadline_missed"
        assert entry.reason == claim.deadline_missed_reason
    # The vendor is told, once, which claims and why.
    (message,) = mail.outbox
    assert message.to == ["depots@editeur.example"]
    for claim in fresh(ready):
        assert claim.order.reference in message.body
        assert claim.deadline_missed_notified_at is not None
    assert REASON in message.body
    # Building again leaves them out again, without a second mail or journal entry.
    entries = JournalEntry.objects.count()
    again = build(
        vendor, dispositif, admin_user, NEXT_DAY + SECOND, django_capture_on_commit_callbacks
    )
    assert list(again) == [] and len(again.left_out) == 2
    assert len(mail.outbox) == 1 and JournalEntry.objects.count() == entries


def test_step4_a_claim_marked_late_by_the_sweep_stays_out_with_the_sweeps_instant_and_reason(
    admin_user, django_capture_on_commit_callbacks
):
    vendor, dispositif, ready = world(admin_user, count=1)
    assert sweep(LAST_DAY_CUT_OFF)["claim_deadline_missed"] == 1
    (marked,) = fresh(ready)
    assert marked.deadline_missed_at == LAST_DAY_CUT_OFF
    assert marked.deadline_missed_reason.startswith(REASON)

    built = build(vendor, dispositif, admin_user, NEXT_DAY, django_capture_on_commit_callbacks)

    assert list(built) == [] and [c.reason for c in built.left_out] == [
        marked.deadline_missed_reason
    ]
    (claim,) = fresh(ready)
    assert (claim.status, claim.deadline_missed_at) == (ClaimStatus.READY, LAST_DAY_CUT_OFF)
    assert len(mail.outbox) == 1  # the sweep marks, the filing that leaves it out tells


def test_step4_the_filing_holds_the_claims_in_time_and_leaves_out_the_late_one(
    admin_user, django_capture_on_commit_callbacks, monkeypatch
):
    """Every line of a filing answers today to one deadline (one dispositif, one kind), so a
    filing is late whole or not at all; the selection is still judged line by line. Here the
    compensations, which travel in the solde's filing, are made to answer to the end of avances
    (a rule of the test only) so that one filing has a late line and lines in time."""
    monkeypatch.setattr(
        selectors,
        "FILING_DEADLINES",
        (
            ([ClaimKind.AVANCE, ClaimKind.COMPENSATION], "advances"),
            ([ClaimKind.SOLDE, ClaimKind.SECONDAIRE], "soldes"),
        ),
    )
    dispositif = lgc_dispositif()
    ref = referenced(dispositif=dispositif, actor=admin_user)
    vendor = ref.vendor
    rows = {}
    for kind in (ClaimKind.SOLDE, ClaimKind.SOLDE, ClaimKind.COMPENSATION):
        order = signed_order(referencing=ref, actor=admin_user)
        rows.setdefault(kind, []).append(
            PaymentClaim.objects.create(
                order=order,
                kind=kind,
                status=ClaimStatus.READY,
                amount_ht_cents=0 if kind == ClaimKind.COMPENSATION else 105000,
                amount_ttc_cents=0 if kind == ClaimKind.COMPENSATION else 126000,
                created_at=JUST_BEFORE,
                ready_at=JUST_BEFORE,
            )
        )
    with django_capture_on_commit_callbacks(execute=False):
        built = build_filings(
            vendor=vendor,
            dispositif=dispositif,
            kind=ClaimKind.SOLDE,
            actor=admin_user,
            at=NEXT_DAY,
        )
    (filing,) = built
    (late,) = rows[ClaimKind.COMPENSATION]
    assert [c.claim_id for c in built.left_out] == [late.pk]
    assert sorted(filing.claims.values_list("pk", flat=True)) == sorted(
        c.pk for c in rows[ClaimKind.SOLDE]
    )
    assert sorted(filing.claims.values_list("line_number", flat=True)) == [1, 2]
    late = PaymentClaim.objects.get(pk=late.pk)
    assert (late.status, late.filing_id) == (ClaimStatus.READY, None)
    assert late.deadline_missed_reason == built.left_out[0].reason
    assert late.deadline_missed_reason.startswith(REASON)


# --- Transmitting a filing -----------------------------------------------------------------------


def rendered(vendor, dispositif, user, at, capture):
    (filing,) = build(vendor, dispositif, user, at, capture)
    filing.refresh_from_db()
    assert filing.json_sha256  # written after commit
    return filing


def stored_bytes(field) -> bytes:
    with field.open("rb") as handle:
        return handle.read()


def test_step4_built_at_135959_and_transmitted_at_140000_is_set_aside_whole(
    admin_user, django_capture_on_commit_callbacks
):
    vendor, dispositif, ready = world(admin_user, ready_at=JUST_BEFORE - SECOND, bdc=True)
    filing = rendered(
        vendor, dispositif, admin_user, JUST_BEFORE, django_capture_on_commit_callbacks
    )
    json_before, zip_before = stored_bytes(filing.json_file), stored_bytes(filing.zip_file)
    hashes = (filing.json_sha256, filing.zip_sha256)
    assert {c.status for c in fresh(ready)} == {ClaimStatus.SUBMITTED}  # in time when built

    with django_capture_on_commit_callbacks(execute=True):
        result = transmit_filing(filing=filing, actor=admin_user, at=LAST_DAY_CUT_OFF)

    # The whole transmission is refused: the filing never counts as deposited, for good.
    assert result.status == FilingStatus.SET_ASIDE and result.transmitted_at is None
    assert result.set_aside_at == LAST_DAY_CUT_OFF and REASON in result.set_aside_reason
    with pytest.raises(RuleViolation) as refused:
        require_transmitted(result)
    assert refused.value.code == "filing_deadline_passed"
    # Its files stay the bytes built, true to their hashes: nothing was rewritten.
    filing.refresh_from_db()
    assert (filing.json_sha256, filing.zip_sha256) == hashes
    assert stored_bytes(filing.json_file) == json_before
    assert stored_bytes(filing.zip_file) == zip_before
    assert hashlib.sha256(json_before).hexdigest() == hashes[0]
    # Its late lines left it, their reason recorded and journaled; the vendor is told.
    for claim in fresh(ready):
        assert (claim.status, claim.filing_id, claim.line_number, claim.submitted_at) == (
            ClaimStatus.READY,
            None,
            None,
            None,
        )
        assert claim.deadline_missed_at == LAST_DAY_CUT_OFF
        assert claim.deadline_missed_reason.startswith(REASON)
        assert [e.transition for e in JournalEntry.objects.for_object(claim)][-2:] == [
            "withdraw_from_filing",
            "flag_deadline_missed",
        ]
    (message,) = mail.outbox
    assert all(c.order.reference in message.body for c in fresh(ready))
    # Nothing can bring it back, nor put its claims in a new filing at this instant.
    with pytest.raises(RuleViolation):
        transmit_filing(filing=filing, actor=admin_user, at=LAST_DAY_CUT_OFF)
    again = build(
        vendor, dispositif, admin_user, LAST_DAY_CUT_OFF, django_capture_on_commit_callbacks
    )
    assert list(again) == [] and len(again.left_out) == 2


def test_step4_a_claim_in_time_when_built_and_when_transmitted_goes_through_unchanged(
    admin_user, django_capture_on_commit_callbacks
):
    vendor, dispositif, ready = world(admin_user, ready_at=JUST_BEFORE - 2 * SECOND, bdc=True)
    filing = rendered(
        vendor, dispositif, admin_user, JUST_BEFORE - SECOND, django_capture_on_commit_callbacks
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = require_transmitted(
            transmit_filing(filing=filing, actor=admin_user, at=JUST_BEFORE)
        )
    assert result.status == FilingStatus.TRANSMITTED and result.transmitted_at == JUST_BEFORE
    for number, claim in enumerate(fresh(ready), start=1):
        assert (claim.status, claim.filing_id, claim.line_number) == (
            ClaimStatus.SUBMITTED,
            filing.pk,
            number,
        )
        assert claim.submitted_at == JUST_BEFORE - SECOND
        assert (claim.deadline_missed_at, claim.deadline_missed_reason) == (None, "")
    assert mail.outbox == []


# --- The guard, the rule and the sweep -----------------------------------------------------------


def test_the_submit_transition_declares_the_filing_deadline_guard(admin_user):
    _vendor, _dispositif, (claim, _other) = world(admin_user)
    assert transition_refusals(claim, "submit", at=JUST_BEFORE) == []
    (refusal,) = transition_refusals(claim, "submit", at=LAST_DAY_CUT_OFF)
    assert refusal.code == "filing_deadline_passed" and refusal.field == "status"
    assert refusal.message.startswith("Demande hors délai : l'échéance de dépôt en vigueur")
    assert REASON in refusal.message
    conditions = PaymentClaim.submit._django_fsm.get_transition(ClaimStatus.READY).conditions
    assert [c.code for c in conditions] == ["filing_deadline_passed"]


def dispositif_closing_avances(at):
    """A dispositif whose orders and avances close at `at` (a daylight-saving day)."""
    dispositif = DispositifFactory()
    version = CalendarVersionFactory(dispositif=dispositif, founding=True)
    for kind, when in {
        "orders": at,
        "advances": at,
        "firm_date": at + dt.timedelta(days=60),
        "realisation": at + dt.timedelta(days=120),
        "soldes": at + dt.timedelta(days=200),
    }.items():
        DeadlineFactory(version=version, kind=kind, at=when)
    Tariff.objects.create(
        dispositif=dispositif, kind=TariffKind.FLAT, flat_cents=150000, vat_rate=Decimal("0.20")
    )
    return dispositif


@pytest.mark.parametrize(
    ("day", "cut_off_utc"),
    [
        # 26/03/2023: clocks go from 02:00 CET to 03:00 CEST; 14:00 Paris is 12:00 UTC.
        (dt.date(2023, 3, 26), dt.datetime(2023, 3, 26, 12, 0, tzinfo=dt.UTC)),
        # 29/10/2023: clocks go back from 03:00 CEST to 02:00 CET; 14:00 Paris is 13:00 UTC.
        (dt.date(2023, 10, 29), dt.datetime(2023, 10, 29, 13, 0, tzinfo=dt.UTC)),
    ],
)
def test_step4_the_cut_off_is_14h00_paris_time_on_a_daylight_saving_day(
    day, cut_off_utc, admin_user, django_capture_on_commit_callbacks
):
    cut_off = at_paris(day.year, day.month, day.day, 14, 0)
    assert cut_off == cut_off_utc
    dispositif = dispositif_closing_avances(cut_off)
    vendor, dispositif, ready = world(
        admin_user, dispositif=dispositif, count=1, ready_at=cut_off - 10 * SECOND
    )
    (claim,) = ready
    # A rule that read the other offset would be an hour off either way: it reads Paris time.
    half_hour = dt.timedelta(minutes=30)
    assert filing_deadline_missed(claim, cut_off_utc - SECOND) is None
    assert filing_deadline_missed(claim, cut_off_utc - half_hour) is None
    assert filing_deadline_missed(claim, cut_off_utc) is not None
    assert filing_deadline_missed(claim, cut_off_utc + half_hour) is not None
    late = build(vendor, dispositif, admin_user, cut_off_utc, django_capture_on_commit_callbacks)
    assert list(late) == [] and [c.claim_id for c in late.left_out] == [claim.pk]

    # The same claim built at 13:59:59 Paris time that day: filed, its mark of lateness gone.
    (filing,) = build(
        vendor,
        dispositif,
        admin_user,
        cut_off_utc - SECOND,
        django_capture_on_commit_callbacks,
        execute=False,
    )
    claim = filing.claims.get()
    assert (claim.pk, claim.deadline_missed_at, claim.deadline_missed_reason) == (
        ready[0].pk,
        None,
        "",
    )


def test_step4_the_sweep_and_the_filing_judge_with_one_rule(
    admin_user, django_capture_on_commit_callbacks
):
    """At any instant, the claims the sweep would mark late are those a filing leaves out, with
    the same reason, and the set answer agrees with the per-claim answer on every row."""
    vendor, dispositif, ready = world(admin_user, count=3)
    for at in (JUST_BEFORE, LAST_DAY_CUT_OFF, NEXT_DAY):
        swept = dict(late_claims(at).values_list("pk", "filing_late_reason"))
        judged = dict(
            past_filing_deadline(PaymentClaim.objects.all(), at).values_list(
                "pk", "filing_late_reason"
            )
        )
        one_by_one = {
            c.pk: reason for c in ready if (reason := filing_deadline_missed(c, at)) is not None
        }
        assert swept == judged == one_by_one
    built = build(
        vendor, dispositif, admin_user, LAST_DAY_CUT_OFF, django_capture_on_commit_callbacks
    )
    assert {c.claim_id: c.reason for c in built.left_out} == swept_at(LAST_DAY_CUT_OFF, ready)


def swept_at(at, ready):
    return {c.pk: filing_deadline_missed(c, at) for c in ready}


def test_building_judges_the_deadline_with_a_constant_number_of_queries(
    admin_user, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """The rule is judged once for the set, not once per claim (the submit guard included)."""
    counts = []
    for size in (2, 6):
        vendor, dispositif, _ready = world(admin_user, count=size, ready_at=JUST_BEFORE - SECOND)
        with django_assert_max_num_queries(100) as captured:
            build(
                vendor,
                dispositif,
                admin_user,
                JUST_BEFORE,
                django_capture_on_commit_callbacks,
                execute=False,
            )
        counts.append(
            sum(
                "catalogue_deadline" in q["sql"] or "catalogue_dispositif" in q["sql"]
                for q in captured.captured_queries
            )
        )
    assert counts[0] == counts[1], counts


def test_step4_the_transmit_command_refuses_a_late_filing_and_says_why(
    admin_user, django_capture_on_commit_callbacks
):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    vendor, dispositif, _ready = world(admin_user, count=1, ready_at=JUST_BEFORE - SECOND, bdc=True)
    filing = rendered(
        vendor, dispositif, admin_user, JUST_BEFORE, django_capture_on_commit_callbacks
    )
    with pytest.raises(
        CommandError, match=r"\[filing_deadline_passed\].*Fin des demandes d'avance"
    ):
        call_command("transmit_filing", filing.name)  # now: years after the cut-off
    filing.refresh_from_db()
    assert filing.status == FilingStatus.SET_ASIDE
