"""Demo marks in the dashboard's exports (README « The catalogue's data »: every amount priced
on a demo tariff carries « [DÉMO] »; SONS.md « Money »: a tariff is data of the dispositif,
never a figure to mistake for the State's): a file read away from the page says so too."""

import csv
import io

import pytest
from openpyxl import load_workbook

from catalogue.models import Tariff
from tests.dashboard.conftest import URL
from tests.sons.factories import at_paris

pytestmark = pytest.mark.django_db

CLAIMS = URL + "DASH-LGC-V1/demandes-a-deposer/"


def content(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def demo_and_real(world, frozen):
    frozen(at_paris(2022, 11, 20, 12))
    Tariff.objects.filter(dispositif__code="DASH-LGC-V1").update(is_demo=True)
    demo = world.avance(world.order(vendor="a"), at=at_paris(2022, 9, 5, 10, 30))
    Tariff.objects.filter(dispositif__code="DASH-LGC-V1").update(is_demo=False)
    real = world.avance(world.order(vendor="b"), at=at_paris(2022, 9, 6, 10, 30))
    return demo, real


def test_the_csv_export_marks_the_demo_amounts_beside_them(staff, demo_and_real):
    demo, real = demo_and_real
    response = staff.get(CLAIMS, {"format": "csv"})
    reader = csv.reader(io.StringIO(content(response).decode("utf-8-sig")), delimiter=";")
    header, *rows = list(reader)
    amount = header.index("Montant TTC")
    assert header[amount + 1] == "Montant de démonstration"
    marks = {row[0]: (row[amount], row[amount + 1]) for row in rows}
    assert marks[demo.order.reference] == ("540,00", "[DÉMO]")
    assert marks[real.order.reference] == ("540,00", "")


def test_the_xlsx_export_marks_the_demo_amounts_beside_them(staff, demo_and_real):
    demo, real = demo_and_real
    response = staff.get(CLAIMS, {"format": "xlsx"})
    header, *rows = list(load_workbook(io.BytesIO(content(response))).active.values)
    column = header.index("Montant de démonstration")
    assert {r[0]: r[column] for r in rows} == {
        demo.order.reference: "[DÉMO]",
        real.order.reference: None,
    }
