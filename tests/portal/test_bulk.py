"""Bulk creation of orders from a CSV or XLSX file: per-line errors (line, column, rule) before
anything is saved, nothing saved until the file is clean and confirmed, large files by a task."""

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import Workbook

from catalogue.deadlines import PARIS
from core.models import JournalEntry
from portal.models import BulkImport, ImportStatus
from sons.models import Client, OrderStatus, PurchaseOrder
from tests.factories import SolutionVersionFactory
from tests.portal.conftest import vendor_referencing
from tests.responses import text
from tests.sons.factories import ClientFactory, record_for, valid_rpps

pytestmark = pytest.mark.django_db

HEADER = [
    "dispositif",
    "solution",
    "version",
    "client_nature",
    "client_nom",
    "client_rpps",
    "client_courriel",
    "client_mssante",
    "scenario_installation",
    "signe_le",
    "signataire",
    "qualite_signataire",
    "mode_signature",
]


@pytest.fixture
def referencing(vendor, staff):
    return vendor_referencing(vendor, staff)


def signed_text(days_ago=2):
    return (
        (timezone.now() - dt.timedelta(days=days_ago)).astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
    )


def line(referencing, n, **overrides):
    values = {
        "dispositif": referencing.dispositif.code,
        "solution": referencing.solution_version.solution.name,
        "version": referencing.solution_version.version,
        "client_nature": "Médecin libéral",
        "client_nom": f"Dr Client {n}",
        "client_rpps": valid_rpps(7000 + n),
        "client_courriel": f"dr{n}@example.invalid",
        "client_mssante": f"dr{n}@medecin.mssante.fr",
        "scenario_installation": "Poste du cabinet",
        "signe_le": signed_text(),
        "signataire": f"Dr Client {n}",
        "qualite_signataire": "Médecin",
        "mode_signature": "cps",
    }
    values.update(overrides)
    return [values[h] for h in HEADER]


UNSIGNED = {"signe_le": "", "signataire": "", "qualite_signataire": "", "mode_signature": ""}


def csv_bytes(rows, header=HEADER):
    return ("\n".join(";".join(r) for r in [header, *rows]) + "\n").encode("utf-8")


def upload(client, content, name="bdc.csv"):
    return client.post("/portail/imports/", {"file": SimpleUploadedFile(name, content)})


def state():
    return (PurchaseOrder.objects.count(), Client.objects.count(), JournalEntry.objects.count())


def test_a_file_with_bad_lines_shows_each_error_and_saves_nothing(
    staff_client, referencing, vendor
):
    someone_elses = SolutionVersionFactory()
    rows = [
        line(referencing, 1),
        line(referencing, 2, client_rpps="10000000000"),
        line(referencing, 3, dispositif="INCONNU-V9"),
        line(
            referencing,
            4,
            solution=someone_elses.solution.name,
            version=someone_elses.version,
        ),
        line(referencing, 5, client_rpps=valid_rpps(7001)),  # the same client as line 2
        line(referencing, 6, scenario_installation="", signe_le="demain"),
    ]
    before = state()
    response = upload(staff_client, csv_bytes(rows))
    bulk = BulkImport.objects.get()
    assert response["Location"] == f"/portail/imports/{bulk.pk}/"
    assert bulk.status == ImportStatus.INVALID
    found = {(e["line"], e["column"], e["code"]) for e in bulk.errors}
    assert found == {
        (3, "client_rpps", "rpps_checksum"),
        # The orders command's codes, the same as the API's for the same item.
        (4, "dispositif", "does_not_exist"),
        (5, "solution", "vendor_not_mandated"),
        (6, "client_nom", "order_already_open"),
        (7, "scenario_installation", "installation_scenario_required"),
        (7, "signe_le", "signed_at_invalid"),
    }
    assert state() == before  # the trial runs of the services left nothing behind
    page = text(staff_client.get(f"/portail/imports/{bulk.pk}/"))
    assert "6 erreurs à corriger" in page
    assert "Rien n'a été enregistré" in page
    assert "n'est ni l'éditeur" in page
    errors_csv = staff_client.get(f"/portail/imports/{bulk.pk}/erreurs.csv").content.decode()
    assert "5;solution;vendor_not_mandated;" in errors_csv
    assert staff_client.post(f"/portail/imports/{bulk.pk}/confirmer/").status_code == 302
    assert BulkImport.objects.get().status == ImportStatus.INVALID
    assert state() == before


def test_a_clean_file_is_created_only_once_confirmed(staff_client, referencing, staff):
    rows = [line(referencing, 1), line(referencing, 2, **UNSIGNED)]
    before = state()
    upload(staff_client, csv_bytes(rows))
    bulk = BulkImport.objects.get()
    assert bulk.status == ImportStatus.VALID
    assert bulk.planned == {"signed": 1, "draft": 1, "new_clients": 2}
    assert state() == before
    page = text(staff_client.get(f"/portail/imports/{bulk.pk}/"))
    assert "Confirmer et créer les 2 BDC" in page
    response = staff_client.post(f"/portail/imports/{bulk.pk}/confirmer/")
    assert response["Location"] == f"/portail/imports/{bulk.pk}/"
    bulk.refresh_from_db()
    assert bulk.status == ImportStatus.DONE
    orders = PurchaseOrder.objects.order_by("pk")
    assert [o.status for o in orders] == [OrderStatus.SIGNED, OrderStatus.DRAFT]
    assert all(o.vendor == referencing.solution_version.solution.editor for o in orders)
    assert orders[0].signatory_name == "Dr Client 1"
    assert (
        JournalEntry.objects.filter(
            actor=staff, transition="create", object_repr__startswith="BDC-"
        ).count()
        == 2
    )
    assert "2 BDC créés" in text(staff_client.get(f"/portail/imports/{bulk.pk}/"))
    # Confirming twice creates nothing more.
    staff_client.post(f"/portail/imports/{bulk.pk}/confirmer/")
    assert PurchaseOrder.objects.count() == 2


def test_a_client_on_file_is_reused_and_only_its_blank_contacts_completed(
    staff_client, referencing, vendor, other_vendor
):
    """The vendor's own record of a known client has its blanks completed, never overwritten;
    another vendor's record of the same client is not touched (SONS.md, « Who may change what
    about a client »)."""
    known = ClientFactory(legal_name="Dr Connu", rpps=valid_rpps(7001))
    mine = record_for(known, vendor, email="c@x.invalid", mssante_address="")
    theirs = record_for(known, other_vendor, email="b@x.invalid", mssante_address="")
    upload(staff_client, csv_bytes([line(referencing, 1, client_courriel="autre@x.invalid")]))
    staff_client.post(f"/portail/imports/{BulkImport.objects.get().pk}/confirmer/")
    assert PurchaseOrder.objects.get().client == known
    mine.refresh_from_db()
    assert (mine.email, mine.mssante_address) == ("c@x.invalid", "dr1@medecin.mssante.fr")
    theirs.refresh_from_db()
    assert (theirs.email, theirs.mssante_address) == ("b@x.invalid", "")


def test_an_xlsx_file_is_read_like_a_csv(staff_client, referencing):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    row = line(referencing, 1, signe_le="")
    row[9] = timezone.now().astimezone(PARIS).replace(tzinfo=None) - dt.timedelta(days=1)
    sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    upload(staff_client, buffer.getvalue(), name="bdc.xlsx")
    bulk = BulkImport.objects.get()
    assert bulk.status == ImportStatus.VALID, bulk.errors
    assert bulk.planned["signed"] == 1


def test_a_file_without_a_required_column_is_refused_at_its_header(staff_client, referencing):
    header = [h for h in HEADER if h != "scenario_installation"] + ["colonne_en_trop"]
    rows = [
        [
            v
            for h, v in zip(HEADER, line(referencing, 1), strict=True)
            if h != "scenario_installation"
        ]
        + ["x"]
    ]
    upload(staff_client, csv_bytes(rows, header=header))
    errors = {(e["line"], e["column"], e["code"]) for e in BulkImport.objects.get().errors}
    assert errors == {
        (1, "scenario_installation", "column_missing"),
        (1, "colonne_en_trop", "column_unknown"),
    }


def test_other_formats_are_refused(staff_client):
    upload(staff_client, b"%PDF-1.4", name="bdc.pdf")
    assert BulkImport.objects.get().errors[0]["code"] == "file_format"


def test_a_large_file_is_checked_and_created_by_a_task_whose_progress_the_page_follows(
    staff_client, referencing, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_BULK_INLINE_ROWS = 2
    rows = [line(referencing, n) for n in range(1, 4)]
    with django_capture_on_commit_callbacks(execute=False) as scheduled:
        upload(staff_client, csv_bytes(rows))
    bulk = BulkImport.objects.get()
    assert bulk.status == ImportStatus.CHECKING
    page = text(staff_client.get(f"/portail/imports/{bulk.pk}/"))
    assert "<progress" in page and "0 lignes traitées sur 3" in page
    assert "portal/progress.js" in page
    progress = staff_client.get(f"/portail/imports/{bulk.pk}/progression.json").json()
    assert progress == {
        "status": "checking",
        "label": "Vérification en cours",
        "processed": 0,
        "total": 3,
        "percent": 0,
        "finished": False,
    }
    for callback in scheduled:  # the worker's turn
        callback()
    assert staff_client.get(f"/portail/imports/{bulk.pk}/progression.json").json()["finished"]
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(f"/portail/imports/{bulk.pk}/confirmer/")
    bulk.refresh_from_db()
    assert bulk.status == ImportStatus.DONE
    assert PurchaseOrder.objects.count() == 3
    assert bulk.percent == 100


def test_a_line_refused_at_creation_is_reported_and_nothing_created(
    staff_client, referencing, staff
):
    """The file is one run of the orders command, all or nothing, as the API's bulk."""
    from tests.portal.conftest import vendor_order

    upload(staff_client, csv_bytes([line(referencing, 1), line(referencing, 2)]))
    bulk = BulkImport.objects.get()
    # Between the check and the confirmation, someone else orders for the second client.
    client = Client.objects.create(
        kind="medecin_liberal", legal_name="Dr Client 2", rpps=valid_rpps(7002)
    )
    vendor_order(referencing.vendor, staff, referencing=referencing, client=client, signed=False)
    before = state()
    staff_client.post(f"/portail/imports/{bulk.pk}/confirmer/")
    bulk.refresh_from_db()
    assert bulk.status == ImportStatus.INVALID
    assert bulk.created_orders == []
    assert [(e["line"], e["code"]) for e in bulk.errors] == [(3, "order_already_open")]
    assert state() == before
    page = text(staff_client.get(f"/portail/imports/{bulk.pk}/"))
    assert "Rien n'a été enregistré" in page
