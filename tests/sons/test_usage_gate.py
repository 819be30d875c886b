"""LGC vague 2's secondary prestation: one rate over an observation period of at least 6 months
(SONS.md, life of a Prestation, step 9; seed 000), read from the catalogue, with the monthly
figures beside the rate in `claim_blockers`, the portal's order page and the admin."""

import datetime as dt
from decimal import Decimal

import pytest

from catalogue.catalogue import load_catalogue
from catalogue.models import Dispositif, UsageGate
from sons.selectors import claim_blockers, usage_gate_outcomes
from sons.services import gates
from tests.sons.factories import at_paris, lgc_dispositif, referenced, signed_order

pytestmark = pytest.mark.django_db

BEFORE_SOLDES = at_paris(2023, 10, 2, 9, 0)
LABEL = "Plus de 60 % des documents produits envoyés à Mon espace santé, sur au moins 6 mois"


@pytest.fixture
def order(admin_user):
    dispositif = lgc_dispositif()
    UsageGate.objects.create(
        dispositif=dispositif,
        prestation="secondary",
        indicator="mes_documents_sent_ratio",
        label=LABEL,
        comparison="gt",
        threshold=Decimal("0.60"),
        observation_months=6,
    )
    return signed_order(
        referencing=referenced(dispositif=dispositif, actor=admin_user), actor=admin_user
    )


def record(order, figures):
    for number, (produced, sent) in enumerate(figures, start=1):
        gates.record_usage(
            order=order, month=dt.date(2023, number, 1), produced=produced, sent=sent
        )


def usage_messages(order):
    return [
        u.message
        for u in claim_blockers(order=order, at=BEFORE_SOLDES, prestation="secondary")
        if u.code == "usage_gate_unmet"
    ]


def test_step_9_lgc_vague_2_reads_one_rate_over_the_period_from_the_catalogue():
    load_catalogue()
    gate = UsageGate.objects.get(dispositif=Dispositif.objects.get(code="MDV-LGC-V2"))
    assert (gate.prestation, gate.comparison, gate.threshold, gate.observation_months) == (
        "secondary",
        "gt",
        Decimal("0.6000"),
        6,
    )
    assert gate.reading == UsageGate.Reading.PERIOD_RATE


def test_step_9_a_gate_created_without_a_reading_reads_one_rate_over_the_period(order):
    assert order.dispositif.usage_gates.get().reading == "period_rate"


def test_step_9_a_weak_month_does_not_block_a_period_above_sixty_percent(order):
    # Five months at 70 %, June at 40 %: 390 / 600 = 65 % over the period.
    record(order, [(100, 70)] * 5 + [(100, 40)])
    assert usage_messages(order) == []
    ((_gate, outcome),) = usage_gate_outcomes(order)
    assert outcome.met and "taux de 65 % sur 6 mois consécutifs" in outcome.observed
    assert [m.month.month for m in outcome.months] == [1, 2, 3, 4, 5, 6]


def test_step_9_the_blocker_shows_the_rate_and_every_month_beside_it(order):
    # 61, 59, 61, 59, 61, 59 %: exactly 60 %, which is not more than 60 %.
    record(order, [(100, 61 if n % 2 else 59) for n in range(1, 7)])
    (message,) = usage_messages(order)
    assert message == (
        f"{LABEL} : taux au mieux de 60 % sur 6 mois consécutifs (01/2023 à 06/2023) : 360 "
        "documents envoyés sur 600 produits (exigé : plus de 60 % sur au moins 6 mois "
        "consécutifs). Mois : 01/2023 : 61 envoyés / 100 produits (61 %) ; 02/2023 : 59 envoyés "
        "/ 100 produits (59 %) ; 03/2023 : 61 envoyés / 100 produits (61 %) ; 04/2023 : 59 "
        "envoyés / 100 produits (59 %) ; 05/2023 : 61 envoyés / 100 produits (61 %) ; 06/2023 "
        ": 59 envoyés / 100 produits (59 %)."
    )
    gates.record_usage(order=order, month=dt.date(2023, 6, 1), produced=100, sent=60)
    assert usage_messages(order) == []  # 361 / 600


def test_step_9_the_former_reading_stays_available_as_data(order):
    order.dispositif.usage_gates.update(reading=UsageGate.Reading.EACH_MONTH)
    record(order, [(100, 70)] * 5 + [(100, 40)])
    (message,) = usage_messages(order)
    assert "0 mois consécutif au-dessus de 60 %" not in message
    assert "5 mois consécutifs au-dessus de 60 % (exigé : 6)" in message
    assert "06/2023 : 40 envoyés / 100 produits (40 %)" in message


def test_step_9_the_admin_shows_the_gate_its_rate_and_its_months(order, client, admin_user):
    record(order, [(100, 70)] * 5 + [(100, 40)])
    client.force_login(admin_user)
    page = client.get(f"/admin/sons/purchaseorder/{order.pk}/change/").content.decode()
    assert "Conditions d&#x27;usage : taux et chiffres mensuels" in page
    assert "Prestation secondaire – atteinte : " in page
    assert "taux de 65 % sur 6 mois consécutifs (01/2023 à 06/2023)" in page
    assert "06/2023 : 40 envoyés / 100 produits (40 %)" in page
