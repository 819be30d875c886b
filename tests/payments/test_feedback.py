"""Filings built from ready claims, and the agency's feedback: all or nothing, never twice."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.errors import RuleViolation
from core.journal import verify_chain
from core.models import JournalEntry
from payments.models import AspFiling, ClaimKind, ClaimStatus, FeedbackImport, FilingStatus
from payments.services import claims
from payments.services.filings import FeedbackRefused, build_filings, import_feedback
from tests.payments.factories import open_dispositif, signed_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_avances(admin_user):
    """Three ready avances of one vendor on one dispositif."""
    dispositif = open_dispositif()
    first = signed_now(admin_user, dispositif=dispositif)
    vendor = first.vendor
    orders = [first]
    for _ in range(2):
        orders.append(signed_now_same_vendor(admin_user, first))
    return (
        [
            claims.make_ready(
                claim=claims.open_claim(order=o, kind=ClaimKind.AVANCE, actor=admin_user),
                actor=admin_user,
            )
            for o in orders
        ],
        vendor,
        dispositif,
    )


def signed_now_same_vendor(user, first):
    from tests.sons.factories import signed_order

    return signed_order(referencing=first.referencing, actor=user, at=first.signed_at)


def feedback(items):
    return json.dumps(
        {"schema_version": "1.0", "issued_at": "2026-11-20T10:00:00+01:00", "items": items}
    ).encode()


def states(claim_list):
    return [c.__class__.objects.get(pk=c.pk).status for c in claim_list]


def test_ready_claims_are_split_into_numbered_filings(ready_avances, admin_user):
    ready, vendor, dispositif = ready_avances
    filings = build_filings(
        vendor=vendor, dispositif=dispositif, kind=ClaimKind.AVANCE, actor=admin_user, max_lines=2
    )
    assert [f.sequence for f in filings] == [1, 2]
    assert filings[0].name == f"SONS_avance_{dispositif.code}_{vendor.siret}_0001"
    lines = sorted(
        (c.filing.sequence, c.line_number)
        for c in ready[0].__class__.objects.filter(filing__isnull=False)
    )
    assert lines == [(1, 1), (1, 2), (2, 1)]
    assert set(states(ready)) == {ClaimStatus.SUBMITTED}
    assert (
        JournalEntry.objects.filter(
            transition="submit", object_repr__startswith="Demande d'avance"
        ).count()
        == 3
    )
    with pytest.raises(RuleViolation) as exc:
        build_filings(vendor=vendor, dispositif=dispositif, kind=ClaimKind.AVANCE, actor=admin_user)
    assert exc.value.code == "nothing_to_file"


@pytest.fixture
def filed(ready_avances, admin_user):
    ready, vendor, dispositif = ready_avances
    (filing,) = build_filings(
        vendor=vendor, dispositif=dispositif, kind=ClaimKind.AVANCE, actor=admin_user
    )
    return ready, filing


def test_feedback_moves_each_claim_and_acknowledges_the_filing(filed, admin_user):
    ready, filing = filed
    done = import_feedback(
        content=feedback(
            [
                {"filing": filing.name, "line_number": 1, "decision": "validee"},
                {
                    "filing": filing.name,
                    "line_number": 2,
                    "decision": "decidee_et_payee",
                    "paid_on": "2026-11-19",
                    "paid_amount_cents": ready[1].amount_ttc_cents,
                },
                {
                    "filing": filing.name,
                    "line_number": 3,
                    "decision": "a_modifier",
                    "reason": "RPPS du client illisible sur le BDC.",
                },
            ]
        ),
        file_name="retour-1.json",
        actor="asp",
    )
    assert (done.item_count, done.moved_count) == (3, 3)
    assert states(ready) == [ClaimStatus.VALIDATED, ClaimStatus.PAID, ClaimStatus.TO_CORRECT]
    filing.refresh_from_db()
    assert filing.status == FilingStatus.ACKNOWLEDGED
    ready[2].refresh_from_db()
    assert ready[2].agency_reason == "RPPS du client illisible sur le BDC."


@pytest.mark.parametrize(
    ("bad_item", "needle"),
    [
        ({"filing": "SONS_inconnu_0001", "line_number": 1, "decision": "validee"}, "dépôt inconnu"),
        ({"line_number": 9, "decision": "validee"}, "ligne inconnue"),
        ({"line_number": 1, "decision": "validee"}, "citée deux fois"),
    ],
)
def test_one_bad_line_refuses_the_whole_file(filed, bad_item, needle):
    ready, filing = filed
    journal = JournalEntry.objects.count()
    item = {"filing": filing.name, **bad_item}
    with pytest.raises(FeedbackRefused) as exc:
        import_feedback(
            content=feedback(
                [
                    {"filing": filing.name, "line_number": 1, "decision": "validee"},
                    {"filing": filing.name, "line_number": 2, "decision": "validee"},
                    item,
                ]
            ),
            file_name="retour-faux.json",
            actor="asp",
        )
    assert any(needle in p for p in exc.value.problems)
    assert states(ready) == [ClaimStatus.SUBMITTED] * 3
    assert JournalEntry.objects.count() == journal
    assert not FeedbackImport.objects.exists()
    filing.refresh_from_db()
    assert filing.status == FilingStatus.GENERATED


def test_an_impossible_move_refuses_the_file(filed):
    _ready, filing = filed
    first = feedback(
        [{"filing": filing.name, "line_number": 1, "decision": "rejetee", "reason": "Hors délai"}]
    )
    import_feedback(content=first, file_name="r1.json", actor="asp")
    with pytest.raises(FeedbackRefused) as exc:
        import_feedback(
            content=feedback([{"filing": filing.name, "line_number": 1, "decision": "validee"}]),
            file_name="r2.json",
            actor="asp",
        )
    assert "impossible de passer" in exc.value.problems[0]


def test_importing_the_same_file_twice_changes_nothing(filed):
    ready, filing = filed
    content = feedback(
        [
            {
                "filing": filing.name,
                "line_number": 1,
                "decision": "decidee_et_payee",
                "paid_on": "2026-11-19",
                "paid_amount_cents": ready[0].amount_ttc_cents,
            }
        ]
    )
    import_feedback(content=content, file_name="r.json", actor="asp")
    journal = JournalEntry.objects.count()
    again = import_feedback(content=content, file_name="r.json", actor="asp")
    assert again.moved_count == 1
    assert JournalEntry.objects.count() == journal
    assert FeedbackImport.objects.count() == 1


def test_a_malformed_file_is_refused_with_its_reason(filed):
    with pytest.raises(FeedbackRefused) as exc:
        import_feedback(
            content=feedback([{"filing": "x", "line_number": 1, "decision": "decidee_et_payee"}]),
            file_name="r.json",
            actor="asp",
        )
    assert "date et le montant" in exc.value.problems[0]


def test_the_command_lists_the_problems_and_exits_non_zero(filed, tmp_path, capsys):
    _ready, filing = filed
    path = tmp_path / "retour.json"
    path.write_bytes(feedback([{"filing": filing.name, "line_number": 7, "decision": "validee"}]))
    with pytest.raises(CommandError):
        call_command("import_asp_feedback", str(path))
    assert "ligne inconnue" in capsys.readouterr().err
    assert AspFiling.objects.get().status == FilingStatus.GENERATED


def test_a_file_applied_slice_by_slice_moves_and_journals_every_line(filed, monkeypatch):
    """The claims are moved by slices (memory): every line still moves once, journaled once."""
    from payments.services import filings

    monkeypatch.setattr(filings, "FEEDBACK_SLICE", 2)
    ready, filing = filed
    journal = JournalEntry.objects.filter(transition="validate").count()
    done = import_feedback(
        content=feedback(
            [{"filing": filing.name, "line_number": n, "decision": "validee"} for n in (1, 2, 3)]
        ),
        file_name="retour-tranches.json",
        actor="asp",
    )
    assert (done.item_count, done.moved_count) == (3, 3)
    assert states(ready) == [ClaimStatus.VALIDATED] * 3
    assert JournalEntry.objects.filter(transition="validate").count() == journal + 3
    _count, broken = verify_chain()
    assert broken is None


def test_the_command_applies_a_file_and_says_what_it_moved(filed, tmp_path, capsys):
    ready, filing = filed
    path = tmp_path / "retour-commande.json"
    path.write_bytes(
        feedback(
            [
                {
                    "filing": filing.name,
                    "line_number": n,
                    "decision": "decidee_et_payee",
                    "paid_on": "2026-11-19",
                    "paid_amount_cents": ready[n - 1].amount_ttc_cents,
                }
                for n in (1, 2, 3)
            ]
        )
    )
    call_command("import_asp_feedback", str(path))
    assert "retour-commande.json : 3 décisions, 3 demandes modifiées" in capsys.readouterr().out
    assert states(ready) == [ClaimStatus.PAID] * 3
    assert AspFiling.objects.get().status == FilingStatus.ACKNOWLEDGED
    pay = JournalEntry.objects.filter(transition="pay").order_by("sequence")
    assert [e.snapshot["line"] for e in pay] == [1, 2, 3]
    assert {e.actor_label for e in pay} == {"commande:import_asp_feedback"}
    _count, broken = verify_chain()
    assert broken is None
