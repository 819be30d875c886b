"""Files on several machines: every document goes through `STORAGES["default"]`.

Against a real S3-compatible server (moto's, on 127.0.0.1, one per module, a fresh bucket per
test): a filing's zip, a VA PDF and uploads are written by the real services in this process and
read back, byte for byte, by another OS process configured only by the environment; the admin's
links download through a staff-only view; a vendor still reaches only its own documents.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.db import models
from django.urls import reverse
from moto.server import ThreadedMotoServer
from pypdf import PdfReader
from storages.backends.s3 import S3Storage

from core.admin_files import StoredFilesAdminMixin
from core.storage import LOCAL_BACKEND, S3_BACKEND, default_storage_from_environ
from payments.models import AspFiling, ClaimKind
from payments.services import claims, filings
from portal.services.imports import upload_import
from sons.models import PurchaseOrder
from tests.factories import VendorFactory
from tests.payments.factories import accept_by_va, invoice_pdf
from tests.portal.conftest import make_member, sign_in, vendor_order
from tests.responses import downloaded
from tests.signing.helpers import identify, issue, mails_to, order_for, token_in
from tests.sons.test_settings import run_manage

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sons-test-key", "AWS_SECRET_ACCESS_KEY": "sons-test-secret"}


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# --- The object storage -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server, in a thread of this process, on a free port of 127.0.0.1."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    requests_log = logging.getLogger("werkzeug")  # the server's one line per request
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)
    try:
        yield f"http://{host}:{port}"
    finally:
        requests_log.setLevel(level)
        server.stop()


@pytest.fixture
def s3_env(s3_endpoint):
    """A fresh bucket and the environment that points a process at it (as production does)."""
    bucket = f"sons-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=bucket)
    return {
        "STORAGE_URL": f"s3://{bucket}?endpoint_url={s3_endpoint}&region_name={REGION}",
        **CREDENTIALS,
    }


@pytest.fixture
def s3(settings, s3_env):
    """This process's files go to the bucket: STORAGES["default"] from the same environment."""
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_from_environ(s3_env)}
    storage = storages["default"]
    assert isinstance(storage, S3Storage)
    # Not a cached local storage: the lazy default and the model fields' storage switched too.
    assert isinstance(PurchaseOrder._meta.get_field("pdf").storage, S3Storage)
    assert default_storage._wrapped is storage
    return storage


def bucket_objects(storage) -> dict[str, bytes]:
    return {o.key: o.get()["Body"].read() for o in storage.bucket.objects.all()}


def local_files(media_root) -> list[str]:
    """What landed in the local folder, apart from the seal's key pair (see signing.W001)."""
    root = Path(media_root)
    if not root.exists():
        return []
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] != "seal"
    )


READER = """
import hashlib, json, sys
import django
django.setup()
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages

storage = storages["default"]
read = {}
for name in json.loads(sys.argv[1]):
    with default_storage.open(name, "rb") as handle:
        read[name] = hashlib.sha256(handle.read()).hexdigest()
written = default_storage.save(
    "va/ecrit-par-une-autre-machine.pdf", ContentFile(b"%PDF-1.7 autre machine")
)
print(json.dumps({
    "backend": f"{type(storage).__module__}.{type(storage).__name__}",
    "bucket": storage.bucket_name,
    "read": read,
    "written": written,
}))
"""


def other_process(env: dict[str, str], names: list[str]) -> dict:
    """Another OS process, configured by the environment alone, reads `names` (and writes one)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in {"STORAGE_URL", "MEDIA_ROOT"}
    }
    result = subprocess.run(
        [sys.executable, "-c", READER, json.dumps(names)],
        cwd=ROOT,
        env={
            **clean,
            **env,
            "DJANGO_SETTINGS_MODULE": "sons.settings_test",
            # Another machine: its local folder is not ours.
            "MEDIA_ROOT": "/nonexistent/another-machine",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Data through the real services -----------------------------------------------------------


@pytest.fixture
def vendor(db):
    return VendorFactory(name="Éditeur A")


@pytest.fixture
def other_vendor(db):
    return VendorFactory(name="Éditeur B")


@pytest.fixture
def documents(s3, vendor, admin_user, django_capture_on_commit_callbacks):
    """A BDC, a signed VA, an avance filing, a bulk file and an invoice, all made by services."""
    capture = django_capture_on_commit_callbacks
    order = vendor_order(vendor, admin_user, pdf=True)
    avance = claims.make_ready(
        claim=claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user),
        actor=admin_user,
    )
    with capture(execute=True):
        (filing,) = filings.build_filings(
            vendor=vendor, dispositif=order.dispositif, kind=ClaimKind.AVANCE, actor=admin_user
        )
    va = accept_by_va(order, admin_user, capture)
    solde = claims.attach_invoice(
        claim=claims.open_claim(order=order, kind=ClaimKind.SOLDE, actor=admin_user),
        number="F-S3-1",
        date=order.signed_at.date(),
        amount_ttc_cents=order.amount_ttc_cents,
        pdf=invoice_pdf(),
        actor=admin_user,
    )
    bulk = upload_import(
        vendor=vendor, user=admin_user, file_name="bdc.csv", content=b"dispositif\nTST\n"
    )
    order.refresh_from_db()
    va.refresh_from_db()
    filing.refresh_from_db()
    assert avance.pk and order.pdf and va.pdf and va.signed_pdf and filing.zip_file
    return {"order": order, "va": va, "filing": filing, "claim": solde, "bulk": bulk}


# --- STORAGES from the environment ------------------------------------------------------------


def test_without_object_storage_the_local_folder_is_the_default():
    assert default_storage_from_environ({}) == {"BACKEND": LOCAL_BACKEND}


def test_storage_url_gives_a_private_s3_storage_that_keeps_names():
    found = default_storage_from_environ(
        {
            "STORAGE_URL": "s3://sons-docs/prod/?endpoint_url=https://s3.example.fr"
            "&region_name=fr-par&addressing_style=path",
            "AWS_ACCESS_KEY_ID": "id",
            "AWS_SECRET_ACCESS_KEY": "secret",
        }
    )
    assert found["BACKEND"] == S3_BACKEND
    options = found["OPTIONS"]
    assert {k: options[k] for k in ("bucket_name", "location", "endpoint_url", "region_name")} == {
        "bucket_name": "sons-docs",
        "location": "prod",
        "endpoint_url": "https://s3.example.fr",
        "region_name": "fr-par",
    }
    assert options["addressing_style"] == "path"
    assert options["default_acl"] == "private"
    assert options["querystring_auth"] is True and options["querystring_expire"] == 300
    assert options["file_overwrite"] is False
    assert options["custom_domain"] is None
    assert (options["access_key"], options["secret_key"]) == ("id", "secret")
    storage = S3Storage(**options)  # django-storages accepts every option
    assert storage.url("bdc/x.pdf").startswith("https://s3.example.fr/sons-docs/prod/bdc/x.pdf?")
    assert "X-Amz-Signature=" in storage.url("bdc/x.pdf")


def test_separate_variables_give_the_same_storage_and_the_url_wins():
    separate = default_storage_from_environ(
        {
            "AWS_STORAGE_BUCKET_NAME": "sons-docs",
            "AWS_S3_ENDPOINT_URL": "https://s3.example.fr",
            "AWS_S3_REGION_NAME": "fr-par",
        }
    )
    assert separate["OPTIONS"]["bucket_name"] == "sons-docs"
    assert separate["OPTIONS"]["endpoint_url"] == "https://s3.example.fr"
    assert "access_key" not in separate["OPTIONS"]  # boto3's own chain (an instance role)
    mixed = default_storage_from_environ(
        {
            "STORAGE_URL": "s3://other?region_name=eu-west-3",
            "AWS_S3_ENDPOINT_URL": "https://s3.example.fr",
            "AWS_S3_REGION_NAME": "fr-par",
            "AWS_DEFAULT_ACL": "",
        }
    )["OPTIONS"]
    assert (mixed["bucket_name"], mixed["region_name"]) == ("other", "eu-west-3")
    assert mixed["endpoint_url"] == "https://s3.example.fr"
    assert mixed["default_acl"] is None  # a bucket whose ACLs are disabled


@pytest.mark.parametrize(
    "url, words",
    [
        ("ftp://bucket", "schéma"),
        ("s3://?endpoint_url=http://x", "bucket"),
        ("s3://bucket?endpoint=http://x", "endpoint"),
        ("s3://key:secret@bucket", "identifiants"),
    ],
)
def test_a_wrong_storage_url_refuses_to_start(url, words):
    with pytest.raises(ImproperlyConfigured, match=words):
        default_storage_from_environ({"STORAGE_URL": url})


def test_production_settings_read_the_storage_from_the_environment(s3_env):
    result = run_manage(
        "shell",
        "-c",
        "from django.core.files.storage import storages; s = storages['default']; "
        "print(type(s).__name__, s.bucket_name, s.default_acl, s.file_overwrite)",
        DEBUG="1",
        **s3_env,
    )
    assert result.returncode == 0, result.stderr
    bucket = s3_env["STORAGE_URL"].split("?")[0].removeprefix("s3://")
    assert result.stdout.split()[-4:] == ["S3Storage", bucket, "private", "False"]


def test_check_deploy_asks_for_one_seal_when_the_storage_is_shared(s3_env, tmp_path):
    production = {
        "DEBUG": "0",
        "SECRET_KEY": "k3y-" + "x7Qp9vL2mZ8rT4wN6yB1cD5fG0hJ3kS" * 2,
        "ALLOWED_HOSTS": "sons.example.gouv.fr",
        **s3_env,
    }
    shared = run_manage("check", "--deploy", "--fail-level", "WARNING", **production)
    assert shared.returncode != 0
    assert "signing.W001" in shared.stderr + shared.stdout
    cert, key = tmp_path / "cachet.pem", tmp_path / "cachet.key"
    sealed = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SIGNING_SEAL_CERT_FILE=str(cert),
        SIGNING_SEAL_KEY_FILE=str(key),
        SIGNING_TRUST_ROOTS_FILE=str(tmp_path / "racines.pem"),
        SIGNING_TSA_URL="https://horodatage.example.gouv.fr/tsa",
        **production,
    )
    assert sealed.returncode == 0, sealed.stderr + sealed.stdout


# --- Written by one process, read by another --------------------------------------------------


def test_filing_va_and_uploads_written_here_are_read_by_another_process(
    documents, s3, s3_env, media_root
):
    filing, va = documents["filing"], documents["va"]
    claim, bulk = documents["claim"], documents["bulk"]
    expected = {
        filing.zip_file.name: filing.zip_sha256,
        filing.json_file.name: filing.json_sha256,
        va.pdf.name: va.pdf_sha256,
        va.signed_pdf.name: va.signed_pdf_sha256,
        claim.invoice_pdf.name: claim.invoice_sha256,
        bulk.file.name: bulk.sha256,
        documents["order"].pdf.name: documents["order"].pdf_sha256,
    }
    # The names the services always gave, now keys of the bucket.
    assert filing.zip_file.name == f"asp/{filing.name}.zip"
    assert va.pdf.name == f"va/{va.order.reference}-VA-v1.pdf"
    assert bulk.file.name.startswith("portail/imports/")
    stored = bucket_objects(s3)
    assert {name: sha256(stored[name]) for name in expected} == expected
    # Nothing went to this machine's local folder (the seal's key pair aside).
    assert local_files(media_root) == []

    seen = other_process(s3_env, sorted(expected))
    assert seen["backend"] == S3_BACKEND
    assert seen["bucket"] == s3.bucket_name
    assert seen["read"] == expected

    # And the other way: what the other process wrote, this one reads.
    written = seen["written"]
    assert written == "va/ecrit-par-une-autre-machine.pdf"
    with default_storage.open(written, "rb") as handle:
        assert handle.read() == b"%PDF-1.7 autre machine"


def test_the_filing_zip_holds_the_bdc_read_back_from_the_bucket(documents):
    import zipfile

    filing, order = documents["filing"], documents["order"]
    with filing.zip_file.open("rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    bdc = archive.read(f"{order.reference}-bdc.pdf")
    assert sha256(bdc) == order.pdf_sha256


def test_a_name_taken_in_the_bucket_is_not_overwritten(s3):
    first = default_storage.save("factures/meme-nom.pdf", ContentFile(b"un"))
    second = default_storage.save("factures/meme-nom.pdf", ContentFile(b"deux"))
    assert first == "factures/meme-nom.pdf" and second != first
    assert second.startswith("factures/meme-nom_") and second.endswith(".pdf")
    objects = bucket_objects(s3)
    assert (objects[first], objects[second]) == (b"un", b"deux")


def test_objects_are_private(s3, s3_endpoint):
    import requests

    name = default_storage.save("bdc/prive.pdf", ContentFile(b"%PDF-1.7 prive"))
    acl = s3.connection.meta.client.get_object_acl(Bucket=s3.bucket_name, Key=name)
    assert all("AllUsers" not in str(g["Grantee"]) for g in acl["Grants"])
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    head = s3.connection.meta.client.head_object(Bucket=s3.bucket_name, Key=name)
    assert head["ContentType"] == "application/pdf"
    # The only address the storage can give is signed and expires.
    assert "X-Amz-Expires=300" in default_storage.url(name)
    assert requests.get(f"{s3_endpoint}/{s3.bucket_name}/{name}", timeout=10).status_code == 403


# --- The admin: links to a staff-only download view -------------------------------------------


FILE_LINK = re.compile(r'href="(/admin/[a-z_]+/[a-z]+/\d+/fichier/[a-z_]+/)"')


def links_on(client, url: str) -> list[str]:
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "/media/" not in html and "X-Amz" not in html  # no storage address on the page
    return FILE_LINK.findall(html)


def test_the_admins_bdc_link_downloads_the_pdf_for_staff(documents, client, admin_user):
    order = documents["order"]
    client.force_login(admin_user)
    links = links_on(client, reverse("admin:sons_purchaseorder_change", args=[order.pk]))
    assert links == [f"/admin/sons/purchaseorder/{order.pk}/fichier/pdf/"]
    response = client.get(links[0])
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{order.reference}.pdf"'
    content = downloaded(response)
    assert sha256(content) == order.pdf_sha256
    reader = PdfReader(io.BytesIO(content))
    assert order.reference in " ".join(page.extract_text() for page in reader.pages)


def test_the_admins_va_and_filing_links_download_them(documents, client, admin_user):
    va, filing = documents["va"], documents["filing"]
    client.force_login(admin_user)
    va_links = links_on(client, reverse("admin:sons_verificationaptitude_change", args=[va.pk]))
    assert va_links == [
        f"/admin/sons/verificationaptitude/{va.pk}/fichier/pdf/",
        f"/admin/sons/verificationaptitude/{va.pk}/fichier/signed_pdf/",
    ]
    assert sha256(downloaded(client.get(va_links[0]))) == va.pdf_sha256
    signed = client.get(va_links[1])
    assert signed["Content-Disposition"] == (
        f'attachment; filename="{va.order.reference}-VA-v{va.version}-signed.pdf"'
    )
    assert sha256(downloaded(signed)) == va.signed_pdf_sha256

    filing_links = links_on(client, reverse("admin:payments_aspfiling_change", args=[filing.pk]))
    zip_url = f"/admin/payments/aspfiling/{filing.pk}/fichier/zip_file/"
    json_url = f"/admin/payments/aspfiling/{filing.pk}/fichier/json_file/"
    assert {zip_url, json_url} <= set(filing_links)
    zipped = client.get(zip_url)
    assert zipped["Content-Type"] == "application/zip"
    assert zipped["Content-Disposition"] == f'attachment; filename="{filing.name}.zip"'
    assert sha256(downloaded(zipped)) == filing.zip_sha256
    document = client.get(json_url)
    assert document["Content-Type"] == "application/json"
    assert sha256(downloaded(document)) == filing.json_sha256

    claim = documents["claim"]
    (invoice,) = links_on(client, reverse("admin:payments_paymentclaim_change", args=[claim.pk]))
    assert sha256(downloaded(client.get(invoice))) == claim.invoice_sha256


def test_the_download_view_refuses_whoever_is_not_staff(documents, client, django_user_model):
    url = f"/admin/sons/purchaseorder/{documents['order'].pk}/fichier/pdf/"
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")

    member = make_member(documents["order"].vendor)  # a vendor's person, not staff
    client.force_login(member)
    assert client.get(url).status_code == 302

    staff = django_user_model.objects.create_user("agent", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403  # staff, but not allowed to see orders
    staff.user_permissions.add(Permission.objects.get(codename="view_purchaseorder"))
    staff = django_user_model.objects.get(pk=staff.pk)
    client.force_login(staff)
    assert sha256(downloaded(client.get(url))) == documents["order"].pdf_sha256


def test_the_download_view_answers_404_without_a_file(s3, client, admin_user, vendor):
    order = vendor_order(vendor, admin_user)  # its BDC not rendered
    client.force_login(admin_user)
    assert client.get(f"/admin/sons/purchaseorder/{order.pk}/fichier/pdf/").status_code == 404
    assert client.get(f"/admin/sons/purchaseorder/{order.pk}/fichier/status/").status_code == 404
    assert client.get("/admin/sons/purchaseorder/999999/fichier/pdf/").status_code == 404
    PurchaseOrder.objects.filter(pk=order.pk).update(pdf="bdc/absent.pdf")
    assert client.get(f"/admin/sons/purchaseorder/{order.pk}/fichier/pdf/").status_code == 404


def test_every_admin_of_a_model_with_files_links_them_through_the_view():
    for model, model_admin in admin.site._registry.items():
        has_files = any(isinstance(f, models.FileField) for f in model._meta.get_fields())
        if has_files:
            assert isinstance(model_admin, StoredFilesAdminMixin), model


# --- The portal and the signing pages keep their rules ----------------------------------------


def test_a_vendor_downloads_its_own_documents_and_not_anothers(documents, client, other_vendor):
    order, va, filing = documents["order"], documents["va"], documents["filing"]
    urls = {
        f"/portail/bdc/{order.pk}/bdc.pdf": order.pdf_sha256,
        f"/portail/va/{va.pk}/va.pdf": va.pdf_sha256,
        f"/portail/va/{va.pk}/va-signee.pdf": va.signed_pdf_sha256,
        f"/portail/depots/{filing.pk}/pieces.zip": filing.zip_sha256,
        f"/portail/demandes/{documents['claim'].pk}/facture.pdf": documents["claim"].invoice_sha256,
        f"/portail/imports/{documents['bulk'].pk}/fichier": documents["bulk"].sha256,
    }
    sign_in(client, make_member(order.vendor))
    for url, digest in urls.items():
        assert sha256(downloaded(client.get(url))) == digest, url

    sign_in(client, make_member(other_vendor))
    for url in urls:
        assert client.get(url).status_code == 404, url


def test_the_signing_page_serves_the_va_from_the_bucket_to_the_identified_client_only(
    s3, admin_user, client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    va = issue(order_for(admin_user), admin_user, capture)
    assert va.pdf.name in bucket_objects(s3)
    address = va.order.contact.email
    token = token_in(mails_to(address)[0])
    url = f"/signature/{token}/document.pdf"
    assert client.get(url).status_code == 302  # identity not proven yet
    identify(client, token, address, capture)
    response = client.get(url)
    assert response["Content-Type"] == "application/pdf"
    assert sha256(downloaded(response)) == va.pdf_sha256


@pytest.mark.django_db(transaction=True)
def test_export_asp_copies_the_files_out_of_the_bucket(s3, admin_user, tmp_path, capsys):
    """The command waits for the files its filing's task writes after commit, then names them
    in the storage, or copies them out of it with --out."""
    from django.core.management import call_command

    vendor = VendorFactory(name="Éditeur export")
    order = vendor_order(vendor, admin_user, pdf=True)
    claims.make_ready(
        claim=claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user),
        actor=admin_user,
    )
    code = order.dispositif.code
    args = ["--vendor", vendor.siret, "--dispositif", code, "--kind", "avance", "--wait", "30"]
    call_command("export_asp", *args, "--out", str(tmp_path))
    (filing,) = AspFiling.objects.all()
    out = capsys.readouterr().out
    stored = bucket_objects(s3)
    for name, digest in (
        (filing.json_file.name, filing.json_sha256),
        (filing.zip_file.name, filing.zip_sha256),
    ):
        copy = tmp_path / Path(name).name
        assert f"{copy}  sha256={digest}" in out
        assert sha256(copy.read_bytes()) == sha256(stored[name]) == digest
