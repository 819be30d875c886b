"""The portal's uploads are judged by their content (portal/uploads.py): a zip bomb dressed as
an XLSX, a binary file named .csv, a PDF that is not one, a file too large, too many lines -
each refused with a French sentence under the form's field, nothing kept."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from portal import forms, uploads
from portal.bulk import FileRefused, read_table
from portal.models import BulkImport
from tests.factories import VendorFactory
from tests.portal.conftest import make_member, sign_in
from tests.portal.test_bulk import HEADER

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


@pytest.fixture
def portal_client(client, db):
    return sign_in(client, make_member(VendorFactory(name="Éditeur Dépôts")))


def workbook_bytes(rows=(HEADER,)) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bomb(inflated: int) -> bytes:
    """A real XLSX with one more sheet of `inflated` zero bytes, deflated to about a
    thousandth of that (written in chunks: the test never holds the inflated size)."""
    buffer = io.BytesIO(workbook_bytes())
    with (
        zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet2.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(inflated // MB):
            member.write(b"\0" * MB)
    return buffer.getvalue()


def upload(client, content, name):
    return client.post("/portail/imports/", {"file": SimpleUploadedFile(name, content)})


def field_errors(response, field="file") -> list[str]:
    return response.context["form"].errors.get(field, [])


def test_a_zip_bomb_xlsx_is_refused_under_the_field_before_it_is_opened(portal_client):
    bomb = zip_bomb(300 * MB)
    assert len(bomb) < 2 * MB  # small to send, 300 MB once inflated
    response = upload(portal_client, bomb, "bdc.xlsx")
    assert response.status_code == 200
    [message] = field_errors(response)
    assert "Décompressé, ce classeur ferait" in message and "Mo au plus" in message
    assert "Décompressé, ce classeur ferait" in response.content.decode()
    assert not BulkImport.objects.exists()


def test_a_member_inflating_far_more_than_a_workbook_does_is_refused(settings):
    """Under the total, over the ratio: refused too (the import's own reading included)."""
    bomb = zip_bomb(20 * MB)
    with pytest.raises(uploads.UploadRefused) as refused:
        uploads.check_xlsx(bomb)
    assert refused.value.code == "file_zip_bomb"
    assert "fois sa taille" in refused.value.message
    with pytest.raises(FileRefused) as refused_import:
        read_table("bdc.xlsx", bomb, max_rows=100)
    assert refused_import.value.errors[0].code == "file_zip_bomb"


@pytest.mark.parametrize(
    ("content", "name", "fragment"),
    [
        (b"kind;legal_name\nmedecin;Dr A\n", "bdc.xlsx", "n'est pas un classeur XLSX"),
        (b"PK\x03\x04 pas vraiment un zip", "bdc.xlsx", "n'est pas un classeur XLSX"),
        (b"%PDF-1.7\n...", "bdc.csv", "n'est pas un fichier texte CSV"),
        (b"dispositif;solution\n\x00\x01\x02\x03", "bdc.csv", "n'est pas un fichier texte CSV"),
        (b"dispositif;solution\n\x81\x8d\x8f\x90\x9d", "bdc.csv", "ni en UTF-8 ni en Windows"),
        (b"dispositif;solution\n\x07\x08\x1b", "bdc.txt", "caractères de contrôle"),
    ],
)
def test_the_type_is_judged_by_the_content(portal_client, content, name, fragment):
    response = upload(portal_client, content, name)
    [message] = field_errors(response)
    assert fragment in message
    assert not BulkImport.objects.exists()


def test_a_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("document.txt", "bonjour")
    with pytest.raises(uploads.UploadRefused, match="n'est pas un classeur XLSX"):
        uploads.check_xlsx(buffer.getvalue())


def test_a_real_workbook_and_a_cp1252_csv_pass():
    uploads.check_xlsx(workbook_bytes())
    assert uploads.csv_text("dispositif;client\nMDV;Hélène\n".encode("cp1252")).endswith("Hélène\n")


def test_a_file_over_the_size_cap_is_refused_under_the_field(portal_client, settings):
    settings.PORTAL_BULK_MAX_BYTES = 1 * MB
    response = upload(portal_client, b"x;y\n" * (MB * 3 // 8), "bdc.csv")
    [message] = field_errors(response)
    assert message == "Le fichier fait 1,5 Mo : 1 Mo au plus."
    assert not BulkImport.objects.exists()


def test_lines_past_the_limit_stop_the_reading(settings):
    lines = [";".join(HEADER)] + [";".join(["x"] * len(HEADER)) for _n in range(50)]
    with pytest.raises(FileRefused) as refused:
        read_table("bdc.csv", "\n".join(lines).encode(), max_rows=10)
    [error] = refused.value.errors
    assert error.code == "file_too_long" and error.line == 12
    assert "plus de 10 lignes" in error.message


def test_a_sheet_claiming_huge_dimensions_is_read_line_by_line_only():
    """« A1:XFD1048576 » declared: openpyxl would pad every line to 16,384 cells."""
    content = workbook_bytes([HEADER, ["x"] * len(HEADER)])
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', data)
                assert b"XFD1048576" in data
            target.writestr(info, data)
    rows = read_table("bdc.xlsx", buffer.getvalue(), max_rows=10)
    assert len(rows) == 1


def test_an_invoice_that_is_not_a_pdf_is_refused_under_its_field(settings):
    data = {"number": "F-2026-001", "date": "2026-11-20", "amount": "1 800,00"}
    form = forms.InvoiceForm(data, {"pdf": SimpleUploadedFile("facture.pdf", b"<html>")})
    assert form.errors["pdf"] == ["Ce fichier n'est pas un PDF."]
    settings.PORTAL_UPLOAD_MAX_BYTES = 10
    form = forms.InvoiceForm(data, {"pdf": SimpleUploadedFile("facture.pdf", b"%PDF-1.7 " * 5)})
    assert "Mo au plus" in form.errors["pdf"][0]
    settings.PORTAL_UPLOAD_MAX_BYTES = 20 * MB
    form = forms.InvoiceForm(data, {"pdf": SimpleUploadedFile("facture.pdf", b"%PDF-1.7\n")})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["pdf"].read() == b"%PDF-1.7\n"  # still readable from the start
