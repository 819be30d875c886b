"""Issue 14, points 4 and 6: the real catalogue, fact by fact, each test naming its source.

Sources are those of ../shared/domain/SONS.md (« Calendar and deadlines », « Money ») and the
provenance written in catalogue/data/dispositifs.json.
"""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core import serializers
from django.core.management import call_command

from catalogue.catalogue import DATA_FILE, load_catalogue
from catalogue.deadlines import PARIS, DeadlineKind
from catalogue.models import CalendarVersion, Deadline, Dispositif, Tariff, TariffTier
from catalogue.selectors import calendar_in_force, deadline_for, deadline_passed, price
from catalogue.services import publish_calendar_version
from core.errors import RuleViolation
from core.models import JournalEntry

pytestmark = pytest.mark.django_db


def paris(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


@pytest.fixture
def catalogue():
    load_catalogue()


def _data() -> dict:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def _item(code: str) -> dict:
    return next(x for x in _data()["dispositifs"] if x["code"] == code)


def _dump() -> str:
    rows = [
        *Dispositif.objects.order_by("pk"),
        *CalendarVersion.objects.order_by("pk"),
        *Deadline.objects.order_by("pk"),
        *Tariff.objects.order_by("pk"),
        *TariffTier.objects.order_by("pk"),
    ]
    return serializers.serialize("json", rows)


# --- Point 4: a day without an hour runs to midnight -------------------------------------------


VAGUE1_DAYS = {
    # SONS.md « Vague 1 sanitaire »: orders and avances by 30/11/2022, réalisation 20/09/2023,
    # all without an hour [seed 003; esante-occitanie; lequotidiendumedecin].
    "HOP-DPI-V1": {"orders": dt.date(2022, 11, 30), "realisation": dt.date(2023, 9, 20)},
    "MDV-LGC-V1": {"advances": dt.date(2022, 11, 30), "firm_date": dt.date(2023, 6, 15)},
    "BIO-LOINC-V1": {"realisation": dt.date(2023, 10, 31)},
}


@pytest.mark.parametrize(
    ("code", "kind", "day"),
    [(code, kind, day) for code, kinds in VAGUE1_DAYS.items() for kind, day in kinds.items()],
)
def test_a_day_without_an_hour_accepts_23_59_59_and_refuses_midnight(catalogue, code, kind, day):
    """SONS.md « Calendar and deadlines »: a day without an hour runs to 24:00 Paris (art. 642
    CPC); the old 14:00 « par convention » refused acts of the last afternoon."""
    dispositif = Dispositif.objects.get(code=code)
    last_second = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=PARIS)
    next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=PARIS)
    applied = deadline_for(dispositif=dispositif, kind=kind, at=last_second)
    assert not applied.hour_sourced
    assert applied.at == next_midnight
    assert deadline_passed(dispositif=dispositif, kind=kind, at=last_second) is None
    afternoon = dt.datetime.combine(day, dt.time(14, 0), tzinfo=PARIS)
    assert deadline_passed(dispositif=dispositif, kind=kind, at=afternoon) is None
    assert deadline_passed(dispositif=dispositif, kind=kind, at=next_midnight) is not None
    assert applied.shown == f"{day:%d/%m/%Y} (fin de journée)"


def test_the_vague1_solde_keeps_its_sourced_14h(catalogue):
    """SONS.md « Vague 1 sanitaire »: solde by 14/12/2023 14:00 [seed 003]: unchanged."""
    lgc = Dispositif.objects.get(code="MDV-LGC-V1")
    at = paris(2023, 12, 14, 13, 59, 59)
    applied = deadline_for(dispositif=lgc, kind=DeadlineKind.SOLDES, at=at)
    assert applied.hour_sourced and applied.at == paris(2023, 12, 14, 14, 0)
    assert deadline_passed(dispositif=lgc, kind=DeadlineKind.SOLDES, at=at) is None
    assert deadline_passed(dispositif=lgc, kind=DeadlineKind.SOLDES, at=paris(2023, 12, 14, 14))
    assert applied.shown == "14/12/2023 à 14:00"


@pytest.mark.parametrize(
    ("code", "kind", "at"),
    [
        # SONS.md: MSS avances moved to 26/07/2023 14:00 (arrêté du 8 mars 2023) [seed 003].
        ("MSS-OPE-V1", DeadlineKind.ADVANCES, paris(2023, 7, 26, 14)),
        # SONS.md: PDS referencing dossier moved to 28/06/2023 14:00 [seed 003].
        ("ESMS-DUI-PDS-V1", DeadlineKind.REFERENCING_DOSSIER, paris(2023, 6, 28, 14)),
        # LGO orders « avant le 15/03/2023 à 14h » (FAQ industriels; SONS.md: 15/03/2023).
        ("OFF-LGO-V1", DeadlineKind.ORDERS, paris(2023, 3, 15, 14)),
        # SONS.md « HOP vague 2 »: avances PFI by 17/09/2025 12:00 [ASP vague 2 page].
        ("HOP-PFI-V2", DeadlineKind.ADVANCES, paris(2025, 9, 17, 12)),
    ],
)
def test_sourced_hours_are_kept(catalogue, code, kind, at):
    dispositif = Dispositif.objects.get(code=code)
    applied = deadline_for(dispositif=dispositif, kind=kind, at=at - dt.timedelta(days=1))
    assert applied.hour_sourced and applied.at == at
    before = at - dt.timedelta(seconds=1)
    assert deadline_passed(dispositif=dispositif, kind=kind, at=before) is None
    assert deadline_passed(dispositif=dispositif, kind=kind, at=at) is not None


def test_no_deadline_of_the_data_is_at_14h_by_convention():
    """Issue 14 point 4: every 14:00 that was « par convention » is now a day; the hours left
    are the sourced ones (SONS.md « Calendar and deadlines »)."""
    text = DATA_FILE.read_text(encoding="utf-8")
    assert "par convention" not in text
    sourced = {
        (item["code"], kind, value)
        for item in _data()["dispositifs"]
        for version in item["calendar"]
        for kind, value in version["deadlines"].items()
        if "T" in value
    }
    allowed_hours = {"2023-12-14T14:00", "2023-07-26T14:00", "2023-06-28T14:00"}
    allowed_hours |= {"2023-03-15T14:00"}  # LGO, FAQ industriels « avant le 15/03/2023 à 14h »
    for code, kind, value in sourced:
        assert value in allowed_hours or value.endswith("T12:00"), (code, kind, value)


# --- Point 6: the catalogue, fact by fact ------------------------------------------------------


def test_mssante_orders_close_with_the_avances_and_deployment_ends_30_june(catalogue):
    """SONS.md: « For MSS and PDS the seed writes "demandes d'avance (commandes)" »; founding
    arrêté in force the day after its publication; connector and mailboxes at 30/06/2023 [ARS
    Grand Est]."""
    mss = Dispositif.objects.get(code="MSS-OPE-V1")
    assert (mss.arrete.startswith("Arrêté du 9 septembre 2022"), mss.nor) == (True, "SPRD2226029A")
    assert mss.jorf_date == dt.date(2022, 9, 18)
    founding = mss.calendar_versions.get(founding=True)
    assert founding.published_on == dt.date(2022, 9, 18)
    assert founding.in_force_on == dt.date(2022, 9, 19)
    assert (
        deadline_for(dispositif=mss, kind=DeadlineKind.ADVANCES, at=paris(2022, 9, 18, 12)) is None
    )
    early = calendar_in_force(dispositif=mss, at=paris(2022, 10, 1))
    assert early[DeadlineKind.ORDERS].at == early[DeadlineKind.ADVANCES].at == paris(2023, 3, 24)
    assert early[DeadlineKind.REALISATION].at == paris(2023, 7, 1)
    late = calendar_in_force(dispositif=mss, at=paris(2023, 5, 1))
    assert late[DeadlineKind.ORDERS].at == late[DeadlineKind.ADVANCES].at == paris(2023, 7, 26, 14)
    assert "30/06/2023" in mss.tariffs.get().source


def test_the_8_march_2023_arrete_has_its_signature_date_and_no_publication_date(catalogue):
    """SONS.md: « the arrêté du 8 mars 2023 recorded with its signature date as such, its
    publication date as unknown » (issue 14)."""
    for code in ("MSS-OPE-V1", "ESMS-DUI-PDS-V1"):
        version = CalendarVersion.objects.get(
            dispositif__code=code, legal_reference__startswith="Arrêté du 8 mars 2023"
        )
        assert version.signed_on == dt.date(2023, 3, 8)
        assert version.published_on is None
        assert not version.is_pending  # an extension, applied from its signature (see source)
        assert "date de publication au JORF inconnue" in version.source


def test_pds_orders_close_with_the_avances(catalogue):
    """SONS.md « Médico-social PDS »: avances 31/12/2023 -> 10/01/2024, « (commandes) »."""
    pds = Dispositif.objects.get(code="ESMS-DUI-PDS-V1")
    now = calendar_in_force(dispositif=pds, at=paris(2023, 6, 1))
    assert now[DeadlineKind.ORDERS].at == now[DeadlineKind.ADVANCES].at == paris(2024, 1, 11)


def test_lgo_orders_and_avances_by_15_march_2023(catalogue):
    """SONS.md « Officines (LGO vague 1) »: orders and avances by 15/03/2023 [seed 003]."""
    lgo = Dispositif.objects.get(code="OFF-LGO-V1")
    now = calendar_in_force(dispositif=lgo, at=paris(2023, 1, 1))
    assert now[DeadlineKind.ORDERS].at.date() == now[DeadlineKind.ADVANCES].at.date()
    assert now[DeadlineKind.ADVANCES].at.astimezone(PARIS).date() == dt.date(2023, 3, 15)


def test_lgo_tariff_is_a_maximum_by_turnover_with_unknown_bounds(catalogue):
    """SONS.md « Money »: officines a maximum of 625 € to 875 € HT indexed on turnover, tier
    bounds not public: nothing is computed until an administrator enters them."""
    tariff = Tariff.objects.get(dispositif__code="OFF-LGO-V1", prestation="main")
    assert tariff.amount_is_maximum and not tariff.tier_bounds_known
    assert (tariff.floor_cents, tariff.cap_cents) == (62500, 87500)
    assert not tariff.is_demo
    lgo = tariff.dispositif
    with pytest.raises(RuleViolation) as exc:
        price(dispositif=lgo, characteristics={"annual_reimbursed_turnover": 1_000_000})
    assert exc.value.code == "tariff_bounds_unknown"
    assert "625,00" in exc.value.message and "875,00" in exc.value.message
    assert "bornes des tranches du barème" in lgo.missing_data()
    # An administrator enters bounds: they are used, and a reload keeps them.
    TariffTier.objects.create(
        tariff=tariff, lower=Decimal(0), upper=Decimal(500000), amount_cents=62500
    )
    TariffTier.objects.create(tariff=tariff, lower=Decimal(500000), upper=None, amount_cents=87500)
    Tariff.objects.filter(pk=tariff.pk).update(tier_bounds_known=True)
    load_catalogue()
    amount = price(dispositif=lgo, characteristics={"annual_reimbursed_turnover": 600000})[1]
    assert amount.ht_cents == 87500


def test_dui_pa_ph_domicile_is_in_the_catalogue_with_its_unknowns(catalogue):
    """Seeds 003 and 004 name the DUI PA/PH/Domicile next to PDS and PDE (issue 14)."""
    dui = Dispositif.objects.get(code="ESMS-DUI-PA-PH-DOM-V1")
    assert dui.couloir == "medico_social" and dui.vague == 1
    assert dui.arrete == "" and dui.jorf_date is None
    assert calendar_in_force(dispositif=dui, at=paris(2023, 6, 1)) == {}
    for kind in DeadlineKind.values:  # nothing published: nothing enforced
        assert deadline_passed(dispositif=dui, kind=kind, at=paris(2030, 1, 1)) is None
    missing = " ".join(dui.missing_data())
    assert "arrêté" in missing and "échéance" in missing and "barème" in missing


def test_hop_vague2_has_the_v1_plus_v2_prestation_and_its_14h_opening(catalogue):
    """SONS.md: HOP « vague 1 + vague 2 » prestation for establishments financed by neither
    HOP-DPI nor HOP-PFI vague 1 [esante.gouv.fr FAQ SONS]; the HOP avance portal opened
    12/09/2024 14:00 and imagerie at 14:00 [ASP vague 2 pages]."""
    for code in ("HOP-DPI-V2", "HOP-PFI-V2"):
        dispositif = Dispositif.objects.get(code=code)
        variants = {v["code"]: v for v in dispositif.prestation_variants}
        assert variants["v1_v2"]["not_financed_by"] == ["HOP-DPI-V1", "HOP-PFI-V1"]
        assert [o["at"] for o in dispositif.asp_openings] == ["2024-09-12T14:00"]
    drimbox = Dispositif.objects.get(code="IMG-DRIMBOX-V2")
    assert [o["at"] for o in drimbox.asp_openings] == ["2025-05-15T14:00", "2025-07-10T14:00"]


def test_each_provenance_says_one_thing_about_the_advance_rate():
    """Issue 14: no provenance says « not taken » and then « 30 % »."""
    for item in _data()["dispositifs"]:
        assert "advance_rate null" not in item["sources"], item["code"]
        assert item["sources"].count("Taux d'avance : 30 %") == 1, item["code"]
        assert item["advance_rate"] == "0.30", item["code"]


def test_loading_the_corrected_catalogue_twice_changes_nothing(capsys):
    """`load_dispositifs` is idempotent with the new data (hour flags, variants, openings,
    signature dates, the LGO range)."""
    call_command("load_dispositifs")
    first = _dump()
    call_command("load_dispositifs")
    assert _dump() == first
    assert Deadline.objects.filter(hour_sourced=False).exists()


# --- Point 6: the PDE announced version, published by an administrator --------------------------


def test_pde_announced_moves_apply_from_their_recorded_publication(catalogue, admin_user):
    """SONS.md « Médico-social PDS … PDE »: moves to 28/06/2023 14:00, 10/01/2024, 10/07/2024,
    « arrêté à paraître » in April 2023: shown as announced, applied from the publication an
    administrator records."""
    pde = Dispositif.objects.get(code="ESMS-DUI-PDE-V1")
    announced = pde.calendar_versions.get(founding=False)
    assert announced.is_pending
    at = paris(2023, 6, 1)
    before = deadline_for(dispositif=pde, kind=DeadlineKind.REFERENCING_DOSSIER, at=at)
    assert before.at == paris(2023, 4, 29)  # 28/04/2023, end of day: already passed
    publish_calendar_version(
        version=announced,
        published_on=dt.date(2023, 5, 10),
        actor=admin_user,
        at=paris(2023, 5, 12, 9),
    )
    after = deadline_for(dispositif=pde, kind=DeadlineKind.REFERENCING_DOSSIER, at=at)
    assert after.at == paris(2023, 6, 28, 14) and after.version == announced
    assert deadline_for(dispositif=pde, kind=DeadlineKind.ADVANCES, at=at).at == paris(2024, 1, 11)
    # Before the recorded publication the founding calendar still applies.
    assert deadline_for(
        dispositif=pde, kind=DeadlineKind.REFERENCING_DOSSIER, at=paris(2023, 4, 1)
    ).version.founding
    entry = JournalEntry.objects.for_object(announced).get()
    assert (entry.transition, entry.source_state, entry.target_state) == (
        "publish",
        "announced",
        "published",
    )
    assert entry.snapshot["published_on"] == "2023-05-10"
    # A second publication is refused; reloading the data keeps the recorded one.
    with pytest.raises(RuleViolation) as exc:
        publish_calendar_version(
            version=announced, published_on=dt.date(2023, 5, 11), actor=admin_user
        )
    assert exc.value.code == "calendar_version_not_announced"
    load_catalogue()
    announced.refresh_from_db()
    assert announced.published_on == dt.date(2023, 5, 10)


def test_a_publication_in_the_future_or_before_its_date_is_refused(catalogue, admin_user):
    pde = Dispositif.objects.get(code="ESMS-DUI-PDE-V1")
    announced = pde.calendar_versions.get(founding=False)
    with pytest.raises(RuleViolation) as exc:
        publish_calendar_version(
            version=announced,
            published_on=dt.date(2023, 5, 10),
            actor=admin_user,
            at=paris(2023, 5, 9, 12),
        )
    assert exc.value.code == "publication_in_future"
    with pytest.raises(RuleViolation) as exc:
        publish_calendar_version(
            version=announced,
            published_on=dt.date(2023, 5, 10),
            in_force_on=dt.date(2023, 5, 1),
            actor=admin_user,
        )
    assert exc.value.code == "in_force_before_publication"
    founding = pde.calendar_versions.get(founding=True)
    with pytest.raises(RuleViolation):
        publish_calendar_version(
            version=founding, published_on=dt.date(2023, 1, 1), actor=admin_user
        )
    assert not JournalEntry.objects.exists()
