"""Counts by state and the four lists, each with its filters, as an administrator uses them."""

import pytest

from dashboard import views
from payments.services import claims
from sons.models import PurchaseOrder
from sons.services import orders
from tests.dashboard.conftest import URL
from tests.sons.factories import at_paris, draft_order

pytestmark = pytest.mark.django_db

PAGE = URL + "DASH-LGC-V1/"
AT_RISK = at_paris(2023, 9, 10, 12)  # réalisation ends 20/09/2023 14:00: J-10
BEFORE_AVANCES_END = at_paris(2022, 11, 20, 12)  # avances end 30/11/2022 14:00: J-10


def counts(response, key):
    block = next(b for b in response.context["figures"].counts if b.key == key)
    return {value: n for value, _label, n in block.rows}, block.total


def references(response):
    return [row[0]["text"] for row in response.context["rows"]]


def test_counts_by_state_for_each_model(staff, world, frozen, admin_user):
    frozen(AT_RISK)
    signed = [world.order() for _ in range(3)]
    draft = draft_order(referencing=world.ref_a, actor=admin_user)
    # Recorded before the instant judged (an order created after it is not counted).
    PurchaseOrder.objects.filter(pk=draft.pk).update(created_at=at_paris(2022, 9, 1, 9))
    orders.cancel_order(order=signed[0], actor=admin_user, sworn_statement="Pas engagée")
    claim = world.avance(signed[1])
    claims.make_ready(claim=claim, actor=admin_user, at=at_paris(2022, 9, 6, 10))
    world.avance(signed[2])
    world.defaulted_with_recovery()

    response = staff.get(PAGE)
    by_state, total = counts(response, "orders")
    assert (by_state["signed"], by_state["draft"], by_state["cancelled"]) == (2, 1, 1)
    assert by_state["in_recovery"] == 1 and total == 5  # the defaulted one, now recovered
    by_state, total = counts(response, "claims")
    assert (by_state["ready"], by_state["draft"], by_state["paid"], total) == (1, 1, 1, 3)
    assert counts(response, "recoveries")[0]["open"] == 1
    assert counts(response, "deployments")[1] == 0
    html = response.content.decode()
    assert "Signé sous condition de référencement" in html  # every state is listed, 0 included


def test_orders_at_risk_filtered_by_vendor_and_reference(staff, world, frozen):
    frozen(AT_RISK)
    a1, a2, b1 = world.order(vendor="a"), world.order(vendor="a"), world.order(vendor="b")
    list_url = PAGE + "bdc-a-risque/"

    response = staff.get(list_url)
    assert references(response) == [a1.reference, a2.reference, b1.reference]
    assert "Fin de réalisation : 20/09/2023 à 14:00 (J-10)" in response.content.decode()
    assert references(staff.get(list_url, {"fournisseur": world.vendor_b.pk})) == [b1.reference]
    assert references(staff.get(list_url, {"recherche": a2.reference})) == [a2.reference]
    assert references(staff.get(list_url, {"recherche": a1.client.rpps})) == [a1.reference]
    assert references(staff.get(list_url, {"recherche": "zzz-personne"})) == []


def test_no_order_is_at_risk_while_the_end_of_realisation_is_far(staff, world, frozen):
    frozen(at_paris(2023, 6, 1, 12))
    world.order()
    response = staff.get(PAGE)
    preview = next(p for p in response.context["previews"] if p["list"].slug == "bdc-a-risque")
    assert preview["count"] == 0 and "Aucun BDC à risque." in response.content.decode()


def test_claims_to_file_before_the_next_cut_off(staff, world, frozen, admin_user):
    frozen(BEFORE_AVANCES_END)
    draft = world.avance(world.order(vendor="a"))
    ready = claims.make_ready(
        claim=world.avance(world.order(vendor="b")), actor=admin_user, at=at_paris(2022, 9, 6, 9)
    )
    world.pay(world.avance(world.order()), submitted_at=at_paris(2022, 9, 20), paid_on=None)
    list_url = PAGE + "demandes-a-deposer/"

    response = staff.get(list_url)
    rows = response.context["rows"]
    assert [row[0]["text"] for row in rows] == [
        f"BDC-{draft.order_id:08d}",
        f"BDC-{ready.order_id:08d}",
    ]
    cells = {cell["header"]: cell["text"] for cell in rows[0]}
    assert cells["À déposer avant le"] == "30/11/2022 à 14:00"
    assert cells["Compte à rebours"] == "J-10"
    assert cells["Montant TTC"] == "540,00\u00a0€"
    assert references(staff.get(list_url, {"etat": "ready"})) == [f"BDC-{ready.order_id:08d}"]
    assert references(staff.get(list_url, {"nature": "solde"})) == []

    # Once the avances' cut-off has passed, they are no longer « to file »: the sweep marks them.
    frozen(at_paris(2022, 11, 30, 14))
    assert references(staff.get(list_url)) == []


def test_running_conflicts_filtered_by_vendor(staff, world, frozen, admin_user):
    frozen(at_paris(2022, 11, 10, 9))
    first, second = world.conflict()
    other = world.order(vendor="a")  # no conflict
    list_url = PAGE + "conflits/"

    response = staff.get(list_url)
    (row,) = response.context["rows"]
    cells = {cell["header"]: cell["text"] for cell in row}
    assert cells["Client"] == first.client.legal_name
    assert cells["Réponses attendues avant le"] == "23/11/2022 à 00:00"  # 11/11 is a holiday
    assert cells["Compte à rebours"] == "J-13"
    assert world.vendor_a.name in cells["Positions"] and world.vendor_b.name in cells["Positions"]
    assert len(staff.get(list_url, {"fournisseur": world.vendor_b.pk}).context["rows"]) == 1
    assert staff.get(list_url, {"recherche": other.reference}).context["rows"] == []
    assert len(staff.get(list_url, {"recherche": second.reference}).context["rows"]) == 1


def test_open_recoveries_filtered_by_cause_and_state(staff, world, frozen):
    frozen(at_paris(2022, 11, 1, 9))
    opened = world.defaulted_with_recovery(vendor="b")
    list_url = PAGE + "recouvrements/"

    (row,) = staff.get(list_url).context["rows"]
    cells = {cell["header"]: cell["text"] for cell in row}
    assert cells["BDC"] == f"BDC-{opened.order_id:08d}"
    assert cells["À recouvrer"] == "540,00\u00a0€"
    assert cells["Cause"] == "Défaillance du fournisseur après une avance payée"
    assert staff.get(list_url, {"cause": "control"}).context["rows"] == []
    assert staff.get(list_url, {"etat": "notified"}).context["rows"] == []
    assert len(staff.get(list_url, {"etat": "open"}).context["rows"]) == 1


def test_long_lists_are_paginated_and_counted_up_to_a_cap(staff, world, frozen, monkeypatch):
    frozen(AT_RISK)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    monkeypatch.setattr(views, "COUNT_CAP", 3)
    monkeypatch.setattr(views, "PREVIEW_COUNT_CAP", 2)
    made = [world.order() for _ in range(5)]
    list_url = PAGE + "bdc-a-risque/"

    first = staff.get(list_url)
    assert references(first) == [o.reference for o in made[:2]]
    html = first.content.decode()
    assert "Lignes 1 à 2 sur plus de 3." in html
    assert first.context["next_url"] == "?page=2"
    last = staff.get(list_url, {"page": 3})
    assert references(last) == [made[4].reference]
    assert last.context["next_url"] == ""
    preview = next(
        p for p in staff.get(PAGE).context["previews"] if p["list"].slug == "bdc-a-risque"
    )
    # The dispositif's page counts its lists up to a lower cap; their own pages up to theirs.
    assert (preview["count"], preview["more"]) == (2, True)
    assert "plus de 2" in staff.get(PAGE).content.decode()


def test_an_invalid_filter_is_shown_and_not_applied(staff, world, frozen):
    frozen(AT_RISK)
    world.order()
    response = staff.get(PAGE + "bdc-a-risque/", {"etat": "inconnu"})
    assert len(response.context["rows"]) == 1
    assert response.context["form"].errors["etat"]


def test_counts_are_kept_a_few_minutes_and_lists_stay_fresh(staff, world, frozen, settings):
    from django.core.cache import cache

    settings.DASHBOARD_FIGURES_SECONDS = 300
    cache.clear()
    frozen(AT_RISK)
    first = world.order()
    response = staff.get(PAGE)
    assert counts(response, "orders")[1] == 1
    assert "recalculés au plus toutes les 5 minutes" in response.content.decode()
    world.order()
    response = staff.get(PAGE)
    assert counts(response, "orders")[1] == 1  # kept
    preview = next(p for p in response.context["previews"] if p["list"].slug == "bdc-a-risque")
    assert preview["count"] == 2  # the list is read afresh
    assert first.reference in response.content.decode()
    cache.clear()


def test_conflicts_awaiting_a_decision_are_listed_and_counted(staff, world, frozen, admin_user):
    """SONS.md, « The life of one Prestation Ségur », step 3: both vendors kept their order
    and their 10 working days are over: the administration must decide which one is financed."""
    from payments.sweep import sweep
    from sons.models import Decision
    from sons.services.conflicts import respond_to_conflict

    first, second = world.conflict()
    for order in (first, second):
        respond_to_conflict(
            order=order, decision=Decision.KEEP, actor=admin_user, at=at_paris(2022, 11, 8, 9)
        )
    sweep(at_paris(2022, 11, 23, 0, 0))
    frozen(at_paris(2022, 11, 24, 9))
    assert staff.get(PAGE + "conflits/").context["rows"] == []  # no longer running

    (row,) = staff.get(PAGE + "conflits-a-trancher/").context["rows"]
    cells = {cell["header"]: cell["text"] for cell in row}
    assert cells["Client"] == first.client.legal_name
    assert cells["Délais échus le"] == "23/11/2022 à 00:00"
    assert first.reference in cells["Commandes maintenues"]
    assert second.reference in cells["Commandes maintenues"]
    assert "Conflits en attente de décision" in staff.get(PAGE).content.decode()
    index = staff.get(URL)
    assert "Conflits à trancher" in index.content.decode()
