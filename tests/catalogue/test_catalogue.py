"""The real catalogue: loaded idempotently, with its calendar history and public tariffs."""

import datetime as dt
import json

import pytest
from django.core import serializers
from django.core.management import call_command

from catalogue.catalogue import DATA_FILE, load_catalogue
from catalogue.deadlines import PARIS, DeadlineKind
from catalogue.models import CalendarVersion, Deadline, Dispositif, Tariff
from catalogue.selectors import calendar_in_force, deadline_for, price
from core.errors import RuleViolation

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    load_catalogue()


def _dump() -> str:
    rows = [
        *Dispositif.objects.order_by("pk"),
        *CalendarVersion.objects.order_by("pk"),
        *Deadline.objects.order_by("pk"),
        *Tariff.objects.order_by("pk"),
    ]
    return serializers.serialize("json", rows)


def test_loading_twice_leaves_the_same_rows(capsys):
    call_command("load_dispositifs")
    first = _dump()
    call_command("load_dispositifs")
    assert _dump() == first
    # 16 since issue 14 added the DUI PA/PH/Domicile dispositif (seeds 003 and 004).
    assert "16 dispositifs" in capsys.readouterr().out


def test_every_dispositif_of_the_scheme_is_loaded(catalogue):
    codes = set(Dispositif.objects.values_list("code", flat=True))
    assert {
        "MDV-LGC-V1",
        "HOP-DPI-V1",
        "HOP-PFI-V1",
        "HOP-RI-V1",
        "IMG-RIS-V1",
        "BIO-SGL-V1",
        "BIO-LOINC-V1",
        "OFF-LGO-V1",
        "MSS-OPE-V1",
        "ESMS-DUI-PDS-V1",
        "ESMS-DUI-PDE-V1",
        "HOP-DPI-V2",
        "HOP-PFI-V2",
        "IMG-DRIMBOX-V2",
        "MDV-LGC-V2",
    } <= codes


def test_mssante_operators_history_has_both_versions_and_the_move(catalogue):
    mss = Dispositif.objects.get(code="MSS-OPE-V1")
    versions = list(mss.calendar_versions.order_by("in_force_on"))
    assert len(versions) == 2
    assert "8 mars 2023" in versions[1].legal_reference
    before = deadline_for(
        dispositif=mss, kind=DeadlineKind.ADVANCES, at=dt.datetime(2023, 3, 1, tzinfo=PARIS)
    )
    after = deadline_for(
        dispositif=mss, kind=DeadlineKind.ADVANCES, at=dt.datetime(2023, 5, 1, tzinfo=PARIS)
    )
    # Issue 14: the founding 23/03/2023 has no hour in seed 003 (end of that day); the move to
    # « 26/07 14h » keeps its sourced hour.
    assert before.at == dt.datetime(2023, 3, 24, 0, 0, tzinfo=PARIS)
    assert not before.hour_sourced
    assert after.at == dt.datetime(2023, 7, 26, 14, 0, tzinfo=PARIS)
    assert after.version == versions[1]


def test_medico_social_pds_moves_referencing_advances_and_soldes(catalogue):
    pds = Dispositif.objects.get(code="ESMS-DUI-PDS-V1")
    assert pds.calendar_versions.count() == 2
    now = calendar_in_force(dispositif=pds, at=dt.datetime(2023, 6, 1, tzinfo=PARIS))
    assert now[DeadlineKind.REFERENCING_DOSSIER].at == dt.datetime(2023, 6, 28, 14, tzinfo=PARIS)
    # Issue 14: seed 003 gives 10/01/24 and 10/07/24 without an hour: the end of those days.
    assert now[DeadlineKind.ADVANCES].at == dt.datetime(2024, 1, 11, 0, tzinfo=PARIS)
    assert now[DeadlineKind.SOLDES].at == dt.datetime(2024, 7, 11, 0, tzinfo=PARIS)


def test_medico_social_pde_keeps_its_pending_modification_out_of_force(catalogue):
    pde = Dispositif.objects.get(code="ESMS-DUI-PDE-V1")
    versions = list(pde.calendar_versions.all())
    assert len(versions) == 2
    assert [v.is_pending for v in versions] == [False, True]
    applied = deadline_for(
        dispositif=pde, kind=DeadlineKind.SOLDES, at=dt.datetime(2024, 1, 1, tzinfo=PARIS)
    )
    assert applied.version.founding


def test_vague1_solde_is_14h_on_14_december_2023(catalogue):
    lgc = Dispositif.objects.get(code="MDV-LGC-V1")
    solde = deadline_for(dispositif=lgc, kind=DeadlineKind.SOLDES, at=dt.datetime.now(tz=PARIS))
    assert solde.at == dt.datetime(2023, 12, 14, 13, 0, tzinfo=dt.UTC)


def test_drimbox_cutoffs_are_at_noon(catalogue):
    drimbox = Dispositif.objects.get(code="IMG-DRIMBOX-V2")
    applied = calendar_in_force(dispositif=drimbox, at=dt.datetime(2026, 1, 1, tzinfo=PARIS))
    assert {a.at.astimezone(PARIS).time() for a in applied.values()} == {dt.time(12, 0)}
    assert drimbox.cutoff_time == dt.time(12, 0)


def test_mssante_tariff_from_the_loaded_catalogue(catalogue):
    mss = Dispositif.objects.get(code="MSS-OPE-V1")
    characteristics = {
        "applicative_mailboxes": 10,
        "organisational_mailboxes": 20,
        "personal_mailboxes": 300,
    }
    amount = price(dispositif=mss, characteristics=characteristics)[1]
    assert amount.ht_cents == 916657  # 583.30 + 416.60 + 1500.00 + 6666.67
    assert amount.ttc_cents == 1099988
    big = {**characteristics, "applicative_mailboxes": 10_000}
    assert price(dispositif=mss, characteristics=big)[1].ht_cents == 25_000_000


def test_a_dispositif_without_a_public_tariff_says_so(catalogue):
    # Officines now carry their public range (issue 14): a dispositif with no tariff at all.
    dpi = Dispositif.objects.get(code="HOP-DPI-V1")
    with pytest.raises(RuleViolation) as exc:
        price(dispositif=dpi, characteristics={})
    assert exc.value.code == "tariff_missing"
    assert "barème" in " ".join(dpi.missing_data())


def test_nothing_in_the_real_catalogue_is_marked_demo():
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    for item in data["dispositifs"]:
        assert item.get("sources"), item["code"]
        for tariff in item.get("tariffs", []):
            assert not tariff.get("demo"), item["code"]


def test_an_unknown_deadline_kind_in_the_data_is_an_error(tmp_path):
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    data["dispositifs"][0]["calendar"][0]["deadlines"]["lunch"] = "2022-01-01T12:00"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError):
        load_catalogue(path)
    assert Dispositif.objects.count() == 0  # all or nothing


def test_every_loaded_row_passes_model_validation(catalogue):
    """Field lengths and choices hold on every database (SQLite does not enforce lengths)."""
    for model in (Dispositif, CalendarVersion, Deadline, Tariff):
        for row in model.objects.all():
            row.full_clean()
