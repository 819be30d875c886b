"""A filing rebuilt from the same records is byte for byte the one built before: the JSON's
instants come from the filing record and its lines, the zip's members carry one time derived from
the filing record, in a stable order, under the same stored names.

Each test builds through the real commands (`build_filings`, its render task after commit) from
one state of the database, rolls it back (or deletes the files) and builds again. The filing's
instant is the deposit instant its claims were judged at (`at`, recorded as its `created_at`):
part of its data, since another instant may leave other claims out as late; the rebuild is
given the same one, later on the clock."""

import hashlib
import io
import json
import time
import zipfile

import pytest
from django.db import transaction
from django.utils import timezone

from catalogue.deadlines import PARIS
from payments.models import AspFiling, ClaimKind
from payments.services import claims
from payments.services.filings import build_filings
from payments.tasks import render_filing
from sons import tasks as sons_tasks
from sons.services.completion import notify_completions
from tests.payments.factories import open_dispositif, signed_now
from tests.sons.factories import signed_order

pytestmark = pytest.mark.django_db


class RolledBack(Exception):
    pass


def files_of(filing: AspFiling) -> dict:
    filing = AspFiling.objects.get(pk=filing.pk)
    with filing.json_file.open("rb") as handle:
        raw = handle.read()
    with filing.zip_file.open("rb") as handle:
        zipped = handle.read()
    return {
        "json": raw,
        "zip": zipped,
        "names": (filing.json_file.name, filing.zip_file.name),
        "hashes": (filing.json_sha256, filing.zip_sha256),
    }


def built_then_rolled_back(capture, **build) -> dict:
    """The files of the filing `build_filings(**build)` makes, rendered by its task after commit;
    then everything it wrote in the database is rolled back (its files stay in the storage)."""
    try:
        with transaction.atomic():
            with capture(execute=True):
                (filing,) = build_filings(**build)
            files = files_of(filing)
            raise RolledBack
    except RolledBack:
        pass
    assert not AspFiling.objects.exists()
    return files


@pytest.fixture
def ready_avances(admin_user):
    """Two ready avances of one vendor, their BDCs rendered."""
    dispositif = open_dispositif()
    first = signed_now(admin_user, dispositif=dispositif)
    second = signed_order(referencing=first.referencing, actor=admin_user, at=first.signed_at)
    for order in (first, second):
        sons_tasks.render_order_pdf(order.pk)
        claims.make_ready(
            claim=claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user),
            actor=admin_user,
        )
    return first.vendor, dispositif


def test_an_avance_filing_rebuilt_later_is_byte_identical(
    ready_avances, admin_user, django_capture_on_commit_callbacks
):
    vendor, dispositif = ready_avances
    at = timezone.now()
    build = {"vendor": vendor, "dispositif": dispositif, "kind": "avance", "actor": admin_user}
    first = built_then_rolled_back(django_capture_on_commit_callbacks, at=at, **build)
    time.sleep(1.1)  # a zip time has a 2-second grain: the clock moves on, the files must not
    second = built_then_rolled_back(django_capture_on_commit_callbacks, at=at, **build)
    assert second == first
    assert first["names"] == (
        f"asp/SONS_avance_{dispositif.code}_{vendor.siret}_0001.json",
        f"asp/SONS_avance_{dispositif.code}_{vendor.siret}_0001.zip",
    )
    doc = json.loads(first["json"])
    assert [line["line_number"] for line in doc["lines"]] == [1, 2]
    with zipfile.ZipFile(io.BytesIO(first["zip"])) as archive:
        names = [info.filename for info in archive.infolist()]
        times = {info.date_time for info in archive.infolist()}
    assert names[-1] == "MANIFEST.sha256" and len(names) == 3
    local = at.astimezone(PARIS)  # the filing's instant, Paris time, to the zip's 2 seconds
    assert times == {
        (local.year, local.month, local.day, local.hour, local.minute, local.second // 2 * 2)
    }
    assert doc["created_at"] == local.isoformat()
    assert first["hashes"] == (
        hashlib.sha256(first["json"]).hexdigest(),
        hashlib.sha256(first["zip"]).hexdigest(),
    )


def test_files_deleted_then_rendered_again_are_byte_identical(
    ready_avances, admin_user, django_capture_on_commit_callbacks
):
    vendor, dispositif = ready_avances
    with django_capture_on_commit_callbacks(execute=True):
        (filing,) = build_filings(
            vendor=vendor, dispositif=dispositif, kind="avance", actor=admin_user
        )
    before = files_of(filing)
    filing.refresh_from_db()
    for field in (filing.json_file, filing.zip_file):
        field.storage.delete(field.name)
    render_filing(filing.pk)
    assert files_of(filing) == before


def test_a_completion_filing_rebuilt_later_is_byte_identical(
    admin_user, django_capture_on_commit_callbacks
):
    dispositif = open_dispositif()
    first = signed_now(admin_user, dispositif=dispositif)
    orders = [
        first,
        signed_order(referencing=first.referencing, actor=admin_user, at=first.signed_at),
    ]
    notify_completions(
        vendor=first.vendor,
        items=[{"order": o, "statement": f"Achevée ({n})."} for n, o in enumerate(orders)],
        actor=admin_user,
    )
    build = {"vendor": first.vendor, "dispositif": dispositif, "kind": "achevement"}
    at = timezone.now()
    one = built_then_rolled_back(
        django_capture_on_commit_callbacks, actor=admin_user, at=at, **build
    )
    time.sleep(1.1)
    two = built_then_rolled_back(
        django_capture_on_commit_callbacks, actor=admin_user, at=at, **build
    )
    assert two == one
    doc = json.loads(one["json"])
    assert [line["statement"] for line in doc["lines"]] == ["Achevée (0).", "Achevée (1)."]
    assert doc["created_at"] == at.astimezone(PARIS).isoformat()
