"""The lock order of core.transitions, raced: the pairs of writers that meet in real life run in
threads on PostgreSQL, released together behind a barrier, round after round; none may
deadlock, each ends as a success or as the clean refusal a real user would get, and the rows,
the journal and its chain end consistent.

SQLite serialises whole-database writes, so these run where concurrency is real. What the
services queue for after their commit (PDFs, mails, the worker's first link) runs outside the
transactions raced here: it is left out to keep the rounds fast, the worker's link being sent by
`send_va_link` as its task does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
import traceback

import pytest
from django.db import connection, connections
from django.utils import timezone

from core.errors import RuleViolation
from core.journal import verify_chain
from core.models import JournalEntry
from core.transitions import reload
from payments.models import (
    AspFiling,
    ClaimKind,
    ClaimStatus,
    PaymentClaim,
    Recovery,
    RecoveryCause,
)
from payments.services import claims as claim_services
from payments.services.filings import build_filings, import_feedback
from payments.services.recovery import open_recovery
from payments.sweep import plan, sweep
from signing import services as signing_services
from signing.models import SigningLink
from signing.services import Identity, Origin
from sons.models import (
    ClientConflict,
    ConflictPosition,
    ConflictStatus,
    OrderStatus,
    PurchaseOrder,
    VaDecision,
    VaStatus,
    VerificationAptitude,
)
from sons.models.acceptance import IdentityMethod
from sons.services import acceptance
from sons.services import orders as order_services
from sons.services.acceptance import Signer
from tests.factories import SolutionVersionFactory
from tests.payments.factories import invoice_pdf, open_dispositif
from tests.sons.factories import (
    SIGNED_AT,
    ClientFactory,
    at_paris,
    draft_order,
    lgc_dispositif,
    referenced,
    signed_order,
)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL's row locks"
)

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 10
WORLDLY_ROUNDS = 6  # for the worlds that take many services to build
DAY = dt.timedelta(days=1)
WORKER = "système:émission de la VA"  # the actor of the worker's link (sons.tasks)
ASP = "asp"
ORIGIN = Origin(ip_address="203.0.113.9", user_agent="Mozilla/5.0 (Linux; Android 14) Chrome")
PDF = invoice_pdf()  # any PDF: the VA's rendering (the worker's) and the vendor's invoice


@pytest.fixture(autouse=True)
def _no_side_effects(monkeypatch):
    """What the services queue for after the commit is not run (see the module docstring)."""
    import payments.services.filings
    import payments.services.recovery
    import sons.services.conflicts

    for module in (
        signing_services,
        acceptance,
        order_services,
        sons.services.conflicts,
        payments.services.filings,
        payments.services.recovery,
    ):
        monkeypatch.setattr(module, "after_commit", lambda task, *args: None, raising=False)


# -- racing -----------------------------------------------------------------------------------


def _run_in_threads(*targets) -> list:
    """Runs each target in its own thread, all released at once by a barrier; returns each
    one's result or exception, in the order of `targets`."""
    barrier = threading.Barrier(len(targets))
    outcomes: list = [None] * len(targets)

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index] = targets[index]()
        except Exception as exc:  # the outcome is what the test asserts on
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(targets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racer never finished"
    return outcomes


class _Spread:
    """Races round after round, the last racer of each started at a different offset each
    time. Every other race the offset is small (a few milliseconds either way: the transactions
    run side by side, where an opposite lock order deadlocks); in between it moves from just
    after the others begin to just before they end, so that the last racer meets each of their
    steps. The offsets follow the durations the racers took so far."""

    CLOSE = (0.0, 1 / 16, -1 / 16, 1 / 8, -1 / 8, 1 / 32, -1 / 32)
    ACROSS = 5

    def __init__(self):
        self.rounds = 0
        self.last, self.others = 0.0, 0.0  # the longest each side has taken

    def offset(self) -> float:
        k, self.rounds = self.rounds // 2, self.rounds + 1
        if self.rounds % 2:
            return min(self.last, self.others) * self.CLOSE[k % len(self.CLOSE)]
        step = (k % self.ACROSS + 1) / (self.ACROSS + 1)
        return -self.last + (self.last + self.others) * step

    def race(self, *targets) -> list:
        return self.race_groups([targets])[0]

    def race_groups(self, groups: list) -> list[list]:
        """Several independent races at once, each at its own offset: more meetings a round."""
        runs, durations = [], {}
        for g, group in enumerate(groups):
            offset = self.offset()
            for i, target in enumerate(group):
                shifted = i == len(group) - 1
                wait = max(offset, 0.0) if shifted else max(-offset, 0.0)
                runs.append(self._timed(target, wait, durations, (g, shifted)))
        outcomes = iter(_run_in_threads(*runs))
        grouped = [[next(outcomes) for _ in group] for group in groups]
        self.last = max(self.last, *(d for (_g, last), d in durations.items() if last))
        self.others = max(self.others, *(d for (_g, last), d in durations.items() if not last))
        return grouped

    @staticmethod
    def _timed(target, wait: float, durations: dict, key):
        def run():
            time.sleep(wait)
            start = time.monotonic()
            try:
                return target()
            finally:
                durations[key] = max(durations.get(key, 0.0), time.monotonic() - start)

        return run


def _failure(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


class Deadlock(AssertionError):
    """A racer died of a deadlock."""


def _clean(outcomes: list) -> list:
    """Fails on a deadlock, or on any error a user would not get; returns the outcomes."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            if "deadlock" in str(outcome).lower():
                raise Deadlock(_failure(outcome))
            assert isinstance(outcome, RuleViolation), _failure(outcome)
    return outcomes


def _code(outcome) -> str | None:
    """The refusal's rule code, None for a success."""
    return outcome.code if isinstance(outcome, RuleViolation) else None


def _journal(obj, transition: str) -> int:
    return JournalEntry.objects.for_object(obj).filter(transition=transition).count()


def _moved(*counts: dict) -> dict:
    """What sweeps moved in all, for the steps these tests know."""
    steps = ("lapse", "flag_firm_date", "expire_conflict", "open_recovery", "claim_deadline_missed")
    return {step: sum(c[step] for c in counts) for step in steps}


def _chain_unbroken() -> None:
    _checked, broken = verify_chain()
    assert broken is None, broken


# -- worlds -----------------------------------------------------------------------------------


def _awaiting_signature(order, user) -> tuple[VerificationAptitude, SigningLink]:
    """An issued VA with its document, and the link the worker mails the client."""
    va = acceptance.create_va(order=order, delivered_summary="Mise à jour livrée", actor=user)
    va = acceptance.issue_va(va=va, actor=user)
    acceptance.record_va_pdf(
        va_id=va.pk,
        field="pdf",
        name=f"va-{va.pk}.pdf",
        content=PDF,
        sha256=hashlib.sha256(PDF).hexdigest(),
    )
    reload(va)
    return va, signing_services.send_va_link(va=va, actor=WORKER)


def _sign_online(link_id: int):
    """The client, identified by the code mailed to the link's address, signs its VA."""
    link = SigningLink.objects.select_related("va").get(pk=link_id)
    return signing_services.sign_va_online(
        link=link,
        identity=Identity(
            method=IdentityMethod.EMAIL_CODE, subject=link.sent_to, email=link.sent_to
        ),
        signer_name="Dr Marie Curie",
        signer_role="Médecin titulaire",
        confirmed=list(link.va.statements),
        document_sha256=link.va.pdf_sha256,
        origin=ORIGIN,
    )


def _sign_bdc(order_id: int, at: dt.datetime = SIGNED_AT):
    return order_services.sign_order(
        order=PurchaseOrder.objects.get(pk=order_id),
        signatory_name="Dr Marie Curie",
        signatory_role="Médecin titulaire",
        method="cps",
        actor="client:Dr Marie Curie",
        at=at,
    )


def _feedback(items: list[dict]) -> bytes:
    return json.dumps(
        {"schema_version": "1.0", "issued_at": "2026-11-20T10:00:00+01:00", "items": items}
    ).encode()


def _paid_items(claims: list[PaymentClaim]) -> list[dict]:
    """The agency's « paid » on each of these filed claims."""
    items = []
    for claim in claims:
        claim = PaymentClaim.objects.select_related("filing").get(pk=claim.pk)
        items.append(
            {
                "filing": claim.filing.name,
                "line_number": claim.line_number,
                "decision": "decidee_et_payee",
                "paid_on": "2026-11-19",
                "paid_amount_cents": claim.amount_ttc_cents,
            }
        )
    return items


def _file(claims: list[PaymentClaim], kind: str, user, at=None) -> AspFiling:
    order = claims[0].order
    (filing,) = build_filings(
        vendor=order.vendor, dispositif=order.dispositif, kind=kind, actor=user, at=at
    )
    return filing


def _paid_avances(orders: list[PurchaseOrder], user, at=None) -> None:
    """Each order's avance made ready, filed and paid by the agency, through the services."""
    avances = [
        claim_services.make_ready(
            claim=claim_services.open_claim(order=o, kind=ClaimKind.AVANCE, actor=user, at=at),
            actor=user,
            at=at,
        )
        for o in orders
    ]
    _file(avances, ClaimKind.AVANCE, user, at=at)
    import_feedback(
        content=_feedback(_paid_items(avances)),
        file_name=f"retour-avances-{avances[0].pk}.json",
        actor=ASP,
        at=at,
    )


# -- 1. the client signs its VA while its link is (re-)sent ----------------------------------


def test_a_va_signed_online_while_its_link_is_sent_again(django_user_model):
    user = django_user_model.objects.create_user("agent")
    # Three clients a round, each in a dispositif of its own (a VA signature waits for others
    # in its dispositif, and would not meet its link's sending as often).
    referencings = [referenced(dispositif=lgc_dispositif(), actor=user) for _ in range(3)]
    seen, spread = set(), _Spread()
    for _ in range(ROUNDS):
        worlds = [
            _awaiting_signature(signed_order(referencing=r, actor=user), user) for r in referencings
        ]
        outcomes = spread.race_groups(
            [
                (
                    lambda link=link: _sign_online(link.pk),
                    lambda va=va: signing_services.send_va_link(
                        va=VerificationAptitude.objects.get(pk=va.pk), actor=user
                    ),
                )
                for va, link in worlds
            ]
        )
        for (va, link), (signed, sent) in zip(worlds, outcomes, strict=True):
            _clean([signed, sent])
            seen.add((_code(signed), _code(sent)))
            if _code(sent) is None:
                # The new link came first: the one the client held is refused as replaced,
                # and the client signs with the new one, as the mail just received invites.
                assert _code(signed) == "link_replaced"
                assert SigningLink.objects.get(pk=link.pk).revoked_at is not None
                assert _sign_online(sent.pk).status == VaStatus.SIGNED
            else:
                assert _code(sent) == "va_not_awaiting_signature"
                assert signed.status == VaStatus.SIGNED
                assert SigningLink.objects.filter(va=va).count() == 1
            reload(va)
            assert va.status == VaStatus.SIGNED
            assert VaDecision.objects.filter(va=va).count() == 1
            assert _journal(va, "sign") == 1
            assert SigningLink.objects.filter(va=va, used_at__isnull=False).count() == 1
            assert va.order.status == OrderStatus.SIGNED
    assert seen <= {("link_replaced", None), (None, "va_not_awaiting_signature")}
    _chain_unbroken()


# -- 2. the client signs while the deadline sweep runs ---------------------------------------


def test_a_va_signed_while_the_sweep_opens_recoveries(django_user_model):
    """The sweep, now, finds the end of réalisation passed: it flags the undelivered orders,
    expires a conflict nobody answered and opens the recovery of the paid avances of orders
    whose completion was not notified in time, among them the one whose client is signing its
    VA: whoever comes first, each order is recovered once and nothing deadlocks."""
    user = django_user_model.objects.create_user("agent")
    dispositif = lgc_dispositif()
    first = referenced(dispositif=dispositif, actor=user)
    second = referenced(dispositif=dispositif, actor=user, version=SolutionVersionFactory())
    in_time = SIGNED_AT + DAY  # the avances were filed and paid back then
    seen, spread = set(), _Spread()
    for _ in range(WORLDLY_ROUNDS):
        signing, other = (signed_order(referencing=first, actor=user) for _ in range(2))
        _paid_avances([signing, other], user, at=in_time)
        va, link = _awaiting_signature(signing, user)
        client = ClientFactory()  # two vendors, and neither answered the conflict
        rivals = [
            signed_order(referencing=referencing, actor=user, client=client)
            for referencing in (first, second)
        ]
        world = [signing, other, *rivals]
        at = timezone.now()
        swept, signed = _clean(
            spread.race(lambda at=at: sweep(at), lambda link=link: _sign_online(link.pk))
        )
        caught_up = sweep(at)  # what the first skipped, a row being signed, it does now
        assert plan(at) == []
        seen.add(_code(signed))

        reload(va)
        # A VA signed after the end of réalisation does not stand for the completion notice
        # (SONS.md, « End of réalisation, exactly »): the order is recovered either way, once.
        assert Recovery.objects.get(order=signing).cause == RecoveryCause.REALISATION
        assert PurchaseOrder.objects.get(pk=signing.pk).status == OrderStatus.IN_RECOVERY
        if _code(signed) is None:  # the signature came first: it stands, signed
            assert va.status == VaStatus.SIGNED
        else:  # the sweep came first: the order is in recovery, its VA no longer signable
            assert _code(signed) == "document_closed"
            assert va.status == VaStatus.ISSUED
        assert Recovery.objects.get(order=other).cause == RecoveryCause.REALISATION
        for order in (signing, other):
            reload(order)
            assert _journal(order, "start_recovery") == Recovery.objects.filter(order=order).count()
        conflict = ClientConflict.objects.get(client=client)
        assert conflict.status == ConflictStatus.EXPIRED
        assert _journal(conflict, "expire") == 1
        for order in rivals:
            reload(order)
            assert order.status == OrderStatus.CANCELLED
            assert _journal(order, "cancel") == 1
        flagged = PurchaseOrder.objects.filter(
            pk__in=[o.pk for o in world], firm_date_flagged_at__isnull=False
        )
        assert _moved(swept, caught_up) == {
            "lapse": 0,
            "flag_firm_date": flagged.count(),
            "expire_conflict": 1,
            "open_recovery": Recovery.objects.filter(order__in=world).count(),
            "claim_deadline_missed": 0,
        }
        assert all(_journal(o, "flag_missing_firm_date") == 1 for o in flagged)
    assert seen <= {None, "document_closed"}
    _chain_unbroken()


def test_a_bdc_signed_while_the_sweep_lapses_the_rival_conditional_order(django_user_model):
    """At the close of a conditional window the sweep lapses the conditional orders and
    expires an old conflict; meanwhile another vendor signs a BDC for the client of one of
    those conditional orders, a rival if it is still conditional when it looks."""
    from catalogue import services as referencing_services

    user = django_user_model.objects.create_user("agent")
    dispositif = lgc_dispositif(conditional_window_amount=4, conditional_window_unit="months")
    pending = SolutionVersionFactory()  # its referencing is filed, never decided
    filed = referencing_services.create_referencing(
        solution_version=pending,
        dispositif=dispositif,
        vendor=pending.solution.editor,
        actor=user,
        at=at_paris(2022, 3, 1, 9),
    )
    firm = referenced(dispositif=dispositif, actor=user, version=SolutionVersionFactory())
    other = referenced(dispositif=dispositif, actor=user, version=SolutionVersionFactory())
    conditional_at = at_paris(2022, 3, 15, 10)
    until = at_paris(2022, 7, 15, 10)  # four months later: the windows close

    def conditional():
        return _sign_bdc(draft_order(referencing=filed, actor=user).pk, at=conditional_at)

    seen, spread = set(), _Spread()
    for _ in range(WORLDLY_ROUNDS):
        contested, alone = (conditional() for _ in range(2))
        assert contested.conditional_until == until
        newcomer = draft_order(referencing=firm, actor=user, client=contested.client)
        silent_client = ClientFactory()  # a conflict opened in June, unanswered since
        silent = [
            signed_order(
                referencing=r, actor=user, client=silent_client, at=at_paris(2022, 6, 20, 10)
            )
            for r in (firm, other)
        ]
        signed, swept = _clean(
            spread.race(lambda o=newcomer: _sign_bdc(o.pk, at=until), lambda: sweep(until))
        )
        caught_up = sweep(until)
        assert plan(until) == []
        assert _moved(swept, caught_up) == {
            "lapse": 2,
            "flag_firm_date": 0,
            "expire_conflict": 1,
            "open_recovery": 0,
            "claim_deadline_missed": 0,
        }
        assert signed.status == OrderStatus.SIGNED
        for order in (contested, alone):
            reload(order)
            assert order.status == OrderStatus.LAPSED
            assert _journal(order, "lapse") == 1
        # A conflict if the newcomer saw the conditional order before it lapsed, else none.
        conflicts = ClientConflict.objects.filter(client=contested.client)
        seen.add(conflicts.count())
        for conflict in conflicts:
            assert set(conflict.positions.values_list("order_id", flat=True)) == {
                contested.pk,
                newcomer.pk,
            }
            assert _journal(conflict, "open") == 1
        expired = ClientConflict.objects.get(client=silent_client)
        assert expired.status == ConflictStatus.EXPIRED
        for order in silent:
            reload(order)
            assert (order.status, _journal(order, "cancel")) == (OrderStatus.CANCELLED, 1)
    assert seen <= {0, 1}
    _chain_unbroken()


# -- 3. a claim made ready while the vendor's filing is built ------------------------------


def test_claims_made_ready_while_the_filing_is_built(django_user_model):
    user = django_user_model.objects.create_user("agent")
    dispositif = open_dispositif()
    now = timezone.now()
    referencing = referenced(dispositif=dispositif, actor=user, at=now - 10 * DAY)
    vendor = referencing.vendor

    def avance():
        order = signed_order(referencing=referencing, actor=user, at=now - 5 * DAY)
        return claim_services.open_claim(order=order, kind=ClaimKind.AVANCE, actor=user)

    spread = _Spread()
    for _ in range(WORLDLY_ROUNDS + 2):
        ready = [claim_services.make_ready(claim=avance(), actor=user)]
        drafts = [avance() for _ in range(3)]
        *made_ready, built = _clean(
            spread.race(
                *(lambda c=c: claim_services.make_ready(claim=c, actor=user) for c in drafts),
                lambda: build_filings(
                    vendor=vendor, dispositif=dispositif, kind=ClaimKind.AVANCE, actor=user
                ),
            )
        )
        assert all(c.status == ClaimStatus.READY for c in made_ready)
        (filing,) = built
        lines = PaymentClaim.objects.filter(filing=filing)
        assert sorted(lines.values_list("line_number", flat=True)) == list(
            range(1, lines.count() + 1)
        )
        assert JournalEntry.objects.for_object(filing).get().snapshot["lines"] == lines.count()
        assert set(lines.values_list("status", flat=True)) == {ClaimStatus.SUBMITTED}
        assert {c.pk for c in ready} <= set(lines.values_list("pk", flat=True))
        for claim in drafts:  # in the filing, or ready outside it: never lost
            reload(claim)
            assert (claim.status, claim.filing_id) in {
                (ClaimStatus.SUBMITTED, filing.pk),
                (ClaimStatus.READY, None),
            }
            assert _journal(claim, "make_ready") == 1
            assert _journal(claim, "submit") == (claim.status == ClaimStatus.SUBMITTED)
        left = PaymentClaim.objects.filter(status=ClaimStatus.READY)
        if left.exists():  # the next filing takes them
            later = _file(list(left), ClaimKind.AVANCE, user)
            assert PaymentClaim.objects.filter(filing=later).count() == 4 - lines.count()
        assert not PaymentClaim.objects.filter(status=ClaimStatus.READY).exists()
    _chain_unbroken()


# -- 4. the agency pays a solde while a recovery opens on the same order -------------------


def test_a_solde_paid_while_a_recovery_opens_on_its_order(django_user_model):
    user = django_user_model.objects.create_user("agent")
    dispositif = open_dispositif()
    now = timezone.now()
    referencing = referenced(dispositif=dispositif, actor=user, at=now - 10 * DAY)
    seen, spread = set(), _Spread()
    for _ in range(WORLDLY_ROUNDS):
        orders = [
            signed_order(referencing=referencing, actor=user, at=now - 5 * DAY) for _ in range(2)
        ]
        _paid_avances(orders, user)
        soldes = []
        for order in orders:
            va, _link = _awaiting_signature(order, user)
            acceptance.sign_va(
                va=va,
                signer=Signer(name="Dr Marie Curie", role="Médecin", identity_method="otp"),
                confirmed=list(va.statements),
                document_sha256=va.pdf_sha256,
            )
            solde = claim_services.open_claim(order=order, kind=ClaimKind.SOLDE, actor=user)
            solde = claim_services.attach_invoice(
                claim=solde,
                number=f"F-{order.pk}",
                date=now.date(),
                amount_ttc_cents=order.amount_ttc_cents,
                pdf=PDF,
                actor=user,
            )
            soldes.append(claim_services.make_ready(claim=solde, actor=user))
        _file(soldes, ClaimKind.SOLDE, user)
        recovering = orders[0]
        imported, recovery = _clean(
            spread.race(
                lambda soldes=soldes: import_feedback(
                    content=_feedback(_paid_items(soldes)),
                    file_name=f"retour-soldes-{soldes[0].pk}.json",
                    actor=ASP,
                ),
                lambda order=recovering: open_recovery(
                    order=order,
                    cause=RecoveryCause.CONTROL,
                    reason="Contrôle sur place : prestation non constatée",
                    actor=user,
                ),
            )
        )
        assert _code(recovery) is None  # a control may recover a completed order too
        seen.add(_code(imported))
        for order in orders:
            reload(order)
        for solde in soldes:
            reload(solde)
        avance_paid = PaymentClaim.objects.get(order=recovering, kind=ClaimKind.AVANCE)
        if _code(imported) is None:  # the soldes paid first: both orders completed
            assert [s.status for s in soldes] == [ClaimStatus.PAID] * 2
            assert [_journal(o, "complete") for o in orders] == [1, 1]
            assert orders[1].status == OrderStatus.COMPLETED
            received = avance_paid.paid_amount_cents + soldes[0].paid_amount_cents
        else:  # the recovery first: the file is refused whole, nothing of it applied
            assert _code(imported) == "feedback_refused"
            assert recovering.reference in imported.message
            assert [s.status for s in soldes] == [ClaimStatus.SUBMITTED] * 2
            assert [_journal(o, "complete") for o in orders] == [0, 0]
            assert orders[1].status == OrderStatus.SIGNED
            received = avance_paid.paid_amount_cents
        assert recovering.status == OrderStatus.IN_RECOVERY
        assert _journal(recovering, "start_recovery") == 1
        assert (recovery.received_cents, recovery.amount_cents) == (received, received)
        assert _journal(recovery, "open") == 1
    assert seen <= {None, "feedback_refused"}
    _chain_unbroken()


# -- 5. two vendors sign for the same client and dispositif at once --------------------------


def test_two_vendors_signing_for_one_client_open_one_conflict(django_user_model):
    user = django_user_model.objects.create_user("agent")
    dispositif = lgc_dispositif()
    first = referenced(dispositif=dispositif, actor=user)
    second = referenced(dispositif=dispositif, actor=user, version=SolutionVersionFactory())
    spread = _Spread()
    for _ in range(ROUNDS):
        clients = [ClientFactory() for _ in range(3)]  # three clients a round
        pairs = [
            [draft_order(referencing=r, actor=user, client=client) for r in (first, second)]
            for client in clients
        ]
        outcomes = spread.race_groups(
            [[lambda o=o: _sign_bdc(o.pk) for o in orders] for orders in pairs]
        )
        for client, orders, signed in zip(clients, pairs, outcomes, strict=True):
            _clean(signed)
            for order in orders:
                reload(order)
                assert order.status == OrderStatus.SIGNED
                assert _journal(order, "sign") == 1
            conflict = ClientConflict.objects.get(client=client, dispositif=dispositif)
            assert conflict.status == ConflictStatus.OPEN
            assert set(
                ConflictPosition.objects.filter(conflict=conflict).values_list(
                    "order_id", flat=True
                )
            ) == {o.pk for o in orders}
            assert _journal(conflict, "open") == 1
    _chain_unbroken()


# -- known deadlocks (application code to fix; see each reason) ------------------------------
#
# PostgreSQL checks Django's foreign keys (DEFERRABLE INITIALLY DEFERRED) at COMMIT, after
# the journal's head, which a transaction holds from its first journal entry: a row inserted
# takes FOR KEY SHARE on the rows it references there, and so does a row updated twice in the
# transaction (on every row it references). A row that a journaling transaction may reference
# must therefore never be held FOR UPDATE by another transaction that then waits for the head.

DISPOSITIF_LOCKED = (
    "Regression (fixed: of=('self',), and every lock FOR NO KEY UPDATE): "
    "sons.services.acceptance._locked_signed_order locks the client and the dispositif FOR "
    "UPDATE (select_for_update with select_related, no of=('self',)) before journaling a VA "
    "signature; a transaction that inserted a row referencing that dispositif or client "
    "(create_order, build_filings' AspFiling, open_or_join_conflict's ClientConflict) waits "
    "for them at COMMIT, holding the journal head the signature waits for: deadlock"
)


def test_a_va_signed_while_rows_of_its_dispositif_are_written(django_user_model):
    user = django_user_model.objects.create_user("agent")
    dispositif = open_dispositif()
    now = timezone.now()
    referencing = referenced(dispositif=dispositif, actor=user, at=now - 10 * DAY)
    rival = referenced(
        dispositif=dispositif, actor=user, at=now - 10 * DAY, version=SolutionVersionFactory()
    )
    spread = _Spread()

    def order():
        return signed_order(referencing=referencing, actor=user, at=now - 5 * DAY)

    for _ in range(ROUNDS):
        _va, link = _awaiting_signature(order(), user)
        filed = claim_services.open_claim(order=order(), kind=ClaimKind.AVANCE, actor=user)
        claim_services.make_ready(claim=filed, actor=user)
        contested = order()  # another vendor signs for its client: a conflict opens
        newcomer = draft_order(referencing=rival, actor=user, client=contested.client)
        _clean(
            spread.race(
                lambda: draft_order(referencing=referencing, actor=user),
                lambda: build_filings(
                    vendor=referencing.vendor,
                    dispositif=dispositif,
                    kind=ClaimKind.AVANCE,
                    actor=user,
                ),
                lambda o=newcomer: _sign_bdc(o.pk, at=now),
                lambda link=link: _sign_online(link.pk),
            )
        )
    _chain_unbroken()


ORDERS_LOCKED_BY_CLAIM = (
    "Regression (fixed: of=('self',), and every lock FOR NO KEY UPDATE): "
    "payments.services.filings.build_filings locks the ready claims before their orders: its "
    "select_for_update() joins the orders (order__vendor, order__dispositif) without "
    "of=('self',), locking each claim then its order, claim by claim; and, each claim being "
    "updated twice (apply_transition_many's update then bulk_update), its order is KEY SHARE "
    "locked again at COMMIT, after the journal head. make_ready asked again for a claim "
    "already ready (a second click, a retried request) locks the order then waits for the "
    "claim: deadlock. Locking the orders first (lock_in_order) avoids both"
)


def test_a_ready_claim_made_ready_again_while_the_filing_is_built(django_user_model):
    user = django_user_model.objects.create_user("agent")
    dispositif = open_dispositif()
    now = timezone.now()
    referencing = referenced(dispositif=dispositif, actor=user, at=now - 10 * DAY)
    for _ in range(ROUNDS):
        ready = [
            claim_services.make_ready(
                claim=claim_services.open_claim(
                    order=signed_order(referencing=referencing, actor=user, at=now - 5 * DAY),
                    kind=ClaimKind.AVANCE,
                    actor=user,
                ),
                actor=user,
            )
            for _ in range(5)
        ]
        *again, (filing,) = _clean(
            _run_in_threads(
                *(lambda c=c: claim_services.make_ready(claim=c, actor=user) for c in ready),
                lambda: build_filings(
                    vendor=referencing.vendor,
                    dispositif=dispositif,
                    kind=ClaimKind.AVANCE,
                    actor=user,
                ),
            )
        )
        assert {_code(o) for o in again} == {"transition_not_allowed"}
        assert PaymentClaim.objects.filter(filing=filing).count() == 5
    _chain_unbroken()
