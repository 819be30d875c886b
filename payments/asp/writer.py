"""Writes the two files of a filing: the JSON « demande » and the zip of its attachments.

Streaming, so memory does not grow with the number of lines:

- the claims are read once, ordered by line number, with ``.iterator(chunk_size=…)`` (a
  server-side cursor on PostgreSQL, chunked reads on SQLite);
- the JSON goes to a temporary file piece by piece: the header, then each line as
  ``Line.model_dump_json()``, then the totals; the assembled file is one JSON document that the
  published schema of its kind validates;
- each attachment is copied from storage into its zip member with ``shutil.copyfileobj``, hashed
  on the way; a MOM document is rendered (one PDF at a time) and written as it comes;
- the only state kept across lines is the running totals and the manifest (name and SHA-256 of
  each zip member: a few dozen bytes per attachment).

Queries: three, whatever the number of lines (five when the filing comes without its vendor and
dispositif loaded; the task loads them with it):

1. the ANS numbers of the vendor's referencings under the dispositif (and of the filing's orders);
2. the claims, with everything a line needs in the same rows: ``select_related`` brings the
   order, its client and, for a solde or secondaire, the solution, the referencing, the MOM
   (reverse one-to-one) and the pilot site (reverse one-to-one); the signed VA and its decision
   come through a ``FilteredRelation`` on the order's VAs restricted to the signed one (at most
   one per order: ``va_one_live_per_order``), so no query is made per line;
3. the final ``.update()`` of the filing's file names, hashes, line count and total.

The acceptance of each order is thus decided from those rows by the one pure rule that
``sons.selectors.acceptance_of`` applies too (``sons.rules.earliest_acceptance``): the filing
needs the documents themselves, not only their instants; a test checks that both agree.

Zip reproducibility: members in line order (the BDC for an avance; the invoice, then the signed
VA or the MOM, for a solde or secondaire), named ``<order reference>-<kind>.pdf``, deflated, all
stamped with the filing's creation instant (Paris time), Unix permissions 0644, then
``MANIFEST.sha256`` (``sha256  name`` lines sorted by name). Every instant in the files comes
from the rows (the filing's ``created_at``, the instant its claims were judged at; the orders',
VAs' and notices' own instants), never from the clock of the writing: writing the same filing
twice, or building it again from the same records at the same deposit instant (after a rollback,
or its files deleted), gives the same bytes under the same names (tests/payments/
test_filing_rebuild.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.db.models import F, FilteredRelation, OuterRef, Q, QuerySet, Subquery
from pydantic import ValidationError

from catalogue.deadlines import PARIS, start_of_day_paris
from catalogue.models import Referencing
from sons import documents
from sons.models import ClientRelationship, PurchaseOrder, VaStatus, VerificationAptitude
from sons.rules import earliest_acceptance

from ..models import AspFiling, ClaimKind, FiledCompletion, FilingStatus, PaymentClaim
from .filing import (
    SCHEMA_VERSION,
    AcceptanceBlock,
    AcceptanceKind,
    Attachment,
    AvanceLine,
    ClientBlock,
    CompensationLine,
    CompletionFilingHeader,
    CompletionLine,
    CompletionTotals,
    FilingHeader,
    FilingKind,
    Invoice,
    LineType,
    SecondaireLine,
    SoldeLine,
    Totals,
)

DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024
CHUNK_SIZE = 500
COPY_BUFFER = 1024 * 1024
MANIFEST_NAME = "MANIFEST.sha256"

# Which claims a filing of each kind carries.
LINE_KINDS: dict[FilingKind, set[str]] = {
    FilingKind.AVANCE: {ClaimKind.AVANCE},
    FilingKind.SOLDE: {ClaimKind.SOLDE, ClaimKind.COMPENSATION},
    FilingKind.SECONDAIRE: {ClaimKind.SECONDAIRE},
}

# The signed VA of the order and its decision, read in the claims' own rows.
SIGNED_VA_FIELDS = {
    "va_id": "signed_va__id",
    "va_signed_pdf": "signed_va__signed_pdf",
    "va_signed_pdf_sha256": "signed_va__signed_pdf_sha256",
    "va_mssante_address": "signed_va__mssante_address",
    "va_decided_at": "signed_va__decision__decided_at",
    "va_signer_name": "signed_va__decision__signer_name",
}


class FilingFileError(Exception):
    """The files of a filing cannot be written; the message, in French, says why."""


class FilingTooLarge(FilingFileError):
    """The JSON file would exceed ASP_MAX_FILE_BYTES."""


def max_file_bytes() -> int:
    return getattr(settings, "ASP_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES)


# --- Output helpers ---------------------------------------------------------------------------


class _JsonOut:
    """Writes bytes to the temporary JSON file, hashing them and refusing to pass the limit."""

    def __init__(self, handle: IO[bytes], *, limit: int, filing_name: str):
        self.handle = handle
        self.limit = limit
        self.filing_name = filing_name
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        if self.size + len(data) > self.limit:
            raise FilingTooLarge(
                f"Le fichier JSON du dépôt {self.filing_name} dépasserait la taille maximale "
                f"admise ({self.limit} octets, réglage ASP_MAX_FILE_BYTES) : répartissez ses "
                "lignes entre plusieurs dépôts."
            )
        self.handle.write(data)
        self.size += len(data)
        self.digest.update(data)


class _HashingWriter:
    """A file-like sink that hashes what goes through it on its way to `target`."""

    def __init__(self, target: IO[bytes] | None):
        self.target = target
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        if self.target is not None:
            self.target.write(data)
        return len(data)


def _zip_timestamp(instant: dt.datetime) -> tuple[int, int, int, int, int, int]:
    local = instant.astimezone(PARIS)
    return max(local, dt.datetime(1980, 1, 1, tzinfo=PARIS)).timetuple()[:6]


class _ZipOut:
    """The attachments' zip: deterministic members, each hashed, listed in the manifest."""

    def __init__(self, handle: IO[bytes], *, stamp: dt.datetime):
        self.zip = zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED)
        self.date_time = _zip_timestamp(stamp)
        self.members: dict[str, str] = {}  # name -> sha256, for the manifest

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.date_time)
        # PDFs are compressed already: deflating them again costs seconds and saves little.
        info.compress_type = zipfile.ZIP_STORED if name.endswith(".pdf") else zipfile.ZIP_DEFLATED
        info.create_system = 3  # Unix, whatever machine writes the file
        info.external_attr = 0o100644 << 16
        return info

    def _record(self, name: str, sha256: str) -> Attachment:
        previous = self.members.setdefault(name, sha256)
        if previous != sha256:
            raise FilingFileError(
                f"Deux pièces différentes porteraient le nom {name} dans le zip du dépôt."
            )
        return Attachment(name=name, sha256=sha256)

    def add_stored(self, name: str, field: Any, *, expected_sha256: str = "") -> Attachment:
        """Copies a stored file into the zip (streamed), or hashes it again if already there."""
        with field.open("rb") as source:
            if name in self.members:
                sink = _HashingWriter(None)
                shutil.copyfileobj(source, sink, COPY_BUFFER)
            else:
                with self.zip.open(self._info(name), "w") as member:
                    sink = _HashingWriter(member)
                    shutil.copyfileobj(source, sink, COPY_BUFFER)
        sha256 = sink.digest.hexdigest()
        if expected_sha256 and expected_sha256 != sha256:
            raise FilingFileError(
                f"Le fichier {field.name} ne correspond plus à l'empreinte enregistrée "
                f"({expected_sha256}) : il a été modifié ou corrompu."
            )
        return self._record(name, sha256)

    def add_bytes(self, name: str, content: bytes) -> Attachment:
        sha256 = hashlib.sha256(content).hexdigest()
        if name not in self.members:
            self.zip.writestr(self._info(name), content)
        return self._record(name, sha256)

    def finish(self) -> None:
        """Adds the manifest (``sha256  name`` lines sorted by name) and closes the zip."""
        manifest = "".join(f"{sha}  {name}\n" for name, sha in sorted(self.members.items()))
        self.zip.writestr(self._info(MANIFEST_NAME), manifest.encode("ascii"))
        self.zip.close()

    def __enter__(self) -> _ZipOut:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.zip.close()  # after a refusal too, before its temporary file goes; no-op if closed


# --- Reading the lines ------------------------------------------------------------------------


def _claims(filing: AspFiling, kind: FilingKind) -> QuerySet[PaymentClaim]:
    claims = PaymentClaim.objects.filter(filing=filing).order_by("line_number")
    if kind == FilingKind.AVANCE:
        return claims.select_related("order__client")
    return (
        claims.select_related(
            "order__client",
            "order__solution_version__solution__editor",
            "order__referencing",
            "order__mom",
            "order__pilot_site",
        )
        .annotate(
            signed_va=FilteredRelation(
                "order__vas", condition=Q(order__vas__status=VaStatus.SIGNED)
            )
        )
        .annotate(**{alias: F(path) for alias, path in SIGNED_VA_FIELDS.items()})
        # The vendor's own record of the client (a pilot PV names its MSSanté address, a MOM
        # document its address), read in the claims' own rows.
        .annotate(
            **{
                f"record_{name}": Subquery(
                    ClientRelationship.objects.filter(
                        vendor=OuterRef("order__vendor"), client=OuterRef("order__client")
                    ).values(name)[:1]
                )
                for name in RECORD_FIELDS
            }
        )
    )


RECORD_FIELDS = ("address", "postal_code", "city", "mssante_address")


def _record(claim: PaymentClaim) -> ClientRelationship:
    order = claim.order
    return ClientRelationship(
        vendor_id=order.vendor_id,
        client_id=order.client_id,
        **{name: getattr(claim, f"record_{name}") or "" for name in RECORD_FIELDS},
    )


def _referencing_numbers(filing: AspFiling) -> list[str]:
    """ANS numbers of the vendor's referencings under the dispositif, and of the filing's orders
    (a distributor files under its editor's referencing)."""
    return list(
        Referencing.objects.filter(dispositif_id=filing.dispositif_id)
        .filter(
            Q(vendor_id=filing.vendor_id)
            | Q(pk__in=PurchaseOrder.objects.filter(claims__filing=filing).values("referencing_id"))
        )
        .exclude(ans_number="")
        .order_by("ans_number")
        .values_list("ans_number", flat=True)
        .distinct()
    )


def _reverse_one(order: PurchaseOrder, name: str) -> Any:
    """The reverse one-to-one `select_related` brought (or None): no query either way."""
    return getattr(order, name, None)


def _acceptance(order: PurchaseOrder, claim: PaymentClaim, required: str) -> dict[str, Any]:
    """The acceptance on file, chosen by the one rule (sons.rules.earliest_acceptance) from the
    rows the claims query brought, without a query per line."""
    mom = _reverse_one(order, "mom")
    pilot = _reverse_one(order, "pilot_site")
    records: dict[str, dict[str, Any]] = {}
    if claim.va_id is not None:
        records[AcceptanceKind.VA] = {
            "kind": AcceptanceKind.VA,
            "instant": claim.va_decided_at,
            "signer": claim.va_signer_name,
            "mssante_address": claim.va_mssante_address,
        }
    if mom is not None:
        records[AcceptanceKind.MOM] = {
            "kind": AcceptanceKind.MOM,
            "instant": mom.declared_at,
            "signer": mom.signer_name,
            "mssante_address": mom.mssante_address,
            "mom": mom,
        }
    if pilot is not None and pilot.pv_signed_on is not None:
        records[AcceptanceKind.PILOT_PV] = {
            "kind": AcceptanceKind.PILOT_PV,
            "instant": start_of_day_paris(pilot.pv_signed_on),
            "signer": "",
            "mssante_address": order.contact.mssante_address,
        }
    chosen = earliest_acceptance(
        required, {kind.value: record["instant"] for kind, record in records.items()}
    )
    if chosen is None:
        raise FilingFileError(
            f"{order.reference} n'a ni VA signée ni MOM : la ligne ne peut être déposée."
        )
    return records[AcceptanceKind(chosen[0])]


def _paris(instant: dt.datetime | None) -> dt.datetime | None:
    return instant.astimezone(PARIS) if instant is not None else None


def _common(claim: PaymentClaim, order: PurchaseOrder) -> dict[str, Any]:
    client = order.client
    return {
        "line_number": claim.line_number,
        "order_reference": order.reference,
        "client": ClientBlock(name=client.legal_name, kind=client.kind, **client.identifiers),
        "bdc_signed_at": _paris(order.signed_at),
        "prestation_ht_cents": order.amount_ht_cents,
        "prestation_ttc_cents": order.amount_ttc_cents,
        "claimed_ht_cents": claim.amount_ht_cents,
        "claimed_ttc_cents": claim.amount_ttc_cents,
    }


def _require_file(field: Any, what: str, reference: str) -> Any:
    if not field:
        raise FilingFileError(f"{reference} : {what} manque, la ligne ne peut être déposée.")
    return field


def _avance_line(claim: PaymentClaim, order: PurchaseOrder, out: _ZipOut) -> AvanceLine:
    bdc = _require_file(order.pdf, "le BDC (PDF)", order.reference)
    attachment = out.add_stored(f"{order.reference}-bdc.pdf", bdc, expected_sha256=order.pdf_sha256)
    return AvanceLine(**_common(claim, order), line_type=LineType.DEMANDE, attachments=[attachment])


def _invoiced_line(
    claim: PaymentClaim, order: PurchaseOrder, out: _ZipOut, *, required: str, model: type
) -> SoldeLine | SecondaireLine:
    accepted = _acceptance(order, claim, required)
    invoice_pdf = _require_file(claim.invoice_pdf, "la facture (PDF)", order.reference)
    attachments = [
        out.add_stored(
            f"{order.reference}-facture.pdf", invoice_pdf, expected_sha256=claim.invoice_sha256
        )
    ]
    if accepted["kind"] == AcceptanceKind.VA:
        # The file of the annotated row, opened through the model field's storage.
        stored = VerificationAptitude(pk=claim.va_id, signed_pdf=claim.va_signed_pdf).signed_pdf
        signed = _require_file(stored, "la VA signée (PDF)", order.reference)
        attachments.append(
            out.add_stored(
                f"{order.reference}-va.pdf", signed, expected_sha256=claim.va_signed_pdf_sha256
            )
        )
    elif accepted["kind"] == AcceptanceKind.MOM:
        attachments.append(
            out.add_bytes(f"{order.reference}-mom.pdf", documents.render_mom_pdf(accepted["mom"]))
        )
    else:
        raise FilingFileError(
            f"{order.reference} : la recette est le PV d'installation du site pilote, dont le "
            "document n'est pas conservé par le moteur (seule son empreinte l'est) ; il ne peut "
            "être joint au dépôt."
        )
    instant = _paris(accepted["instant"])
    return model(
        **_common(claim, order),
        line_type=LineType.DEMANDE,
        invoice=Invoice(
            number=claim.invoice_number,
            date=claim.invoice_date,
            amount_ttc_cents=claim.invoice_amount_ttc_cents,
        ),
        acceptance=AcceptanceBlock(
            kind=accepted["kind"],
            date=instant.date(),
            instant=instant,
            signer=accepted["signer"],
        ),
        mssante_address=accepted["mssante_address"],
        attachments=attachments,
    )


def _compensation_line(claim: PaymentClaim, order: PurchaseOrder) -> CompensationLine:
    return CompensationLine(
        **_common(claim, order), line_type=LineType.COMPENSATION, attachments=[]
    )


def _completion_lines(filing: AspFiling) -> Iterator[CompletionLine]:
    """The notices of completion of a filing « achevement », one order per line, no amount and
    no attachment (the notice is the vendor's statement, its instant and who gave it)."""
    rows = (
        FiledCompletion.objects.filter(filing=filing)
        .select_related("notice__order__client")
        .order_by("line_number")
    )
    for expected_number, row in enumerate(rows.iterator(chunk_size=CHUNK_SIZE), start=1):
        notice, order = row.notice, row.notice.order
        if row.line_number != expected_number:
            raise FilingFileError(
                f"Les lignes du dépôt {filing.name} ne sont pas numérotées de 1 à n : la ligne "
                f"{expected_number} attendue, {row.line_number} trouvée ({order.reference})."
            )
        if order.vendor_id != filing.vendor_id or order.dispositif_id != filing.dispositif_id:
            raise FilingFileError(
                f"Ligne {row.line_number} ({order.reference}) : le BDC n'est pas du fournisseur "
                "et du dispositif du dépôt."
            )
        client = order.client
        try:
            yield CompletionLine(
                line_number=row.line_number,
                order_reference=order.reference,
                client=ClientBlock(name=client.legal_name, kind=client.kind, **client.identifiers),
                bdc_signed_at=_paris(order.signed_at),
                prestation_ht_cents=order.amount_ht_cents,
                prestation_ttc_cents=order.amount_ttc_cents,
                notified_at=_paris(notice.notified_at),
                notified_by=notice.notified_by,
                statement=notice.statement,
            )
        except ValidationError as error:
            raise FilingFileError(
                f"Ligne {row.line_number} ({order.reference}) du dépôt {filing.name} invalide : "
                f"{error}"
            ) from error


def _lines(filing: AspFiling, kind: FilingKind, out: _ZipOut) -> Iterator[Any]:
    if kind == FilingKind.ACHEVEMENT:
        yield from _completion_lines(filing)
        return
    required = filing.dispositif.acceptance
    allowed = LINE_KINDS[kind]
    claims = _claims(filing, kind).iterator(chunk_size=CHUNK_SIZE)
    for expected_number, claim in enumerate(claims, start=1):
        order = claim.order
        if kind != FilingKind.AVANCE:
            order.contact = _record(claim)  # read with the claim: no query per line
        reference = order.reference
        if claim.line_number != expected_number:
            raise FilingFileError(
                f"Les lignes du dépôt {filing.name} ne sont pas numérotées de 1 à n : la ligne "
                f"{expected_number} attendue, {claim.line_number} trouvée ({reference})."
            )
        if claim.kind not in allowed:
            raise FilingFileError(
                f"Ligne {claim.line_number} ({reference}) : une demande « {claim.kind} » ne va "
                f"pas dans un dépôt « {kind} »."
            )
        if order.vendor_id != filing.vendor_id or order.dispositif_id != filing.dispositif_id:
            raise FilingFileError(
                f"Ligne {claim.line_number} ({reference}) : le BDC n'est pas du fournisseur et "
                "du dispositif du dépôt."
            )
        # Same rows as the filing's: no query to read them again through the order.
        order.vendor = filing.vendor
        order.dispositif = filing.dispositif
        try:
            if claim.kind == ClaimKind.AVANCE:
                yield _avance_line(claim, order, out)
            elif claim.kind == ClaimKind.COMPENSATION:
                yield _compensation_line(claim, order)
            else:
                model = SoldeLine if kind == FilingKind.SOLDE else SecondaireLine
                yield _invoiced_line(claim, order, out, required=required, model=model)
        except ValidationError as error:
            raise FilingFileError(
                f"Ligne {claim.line_number} ({reference}) du dépôt {filing.name} invalide : {error}"
            ) from error


# --- Writing ----------------------------------------------------------------------------------


def _header(filing: AspFiling, kind: FilingKind) -> FilingHeader:
    vendor = filing.vendor
    header = CompletionFilingHeader if kind == FilingKind.ACHEVEMENT else FilingHeader
    return header(
        schema_version=SCHEMA_VERSION,
        kind=kind,
        dispositif=filing.dispositif.code,
        vendor={
            "siret": vendor.siret,
            "siren": vendor.siren,
            "name": vendor.name,
            "referencing_numbers": _referencing_numbers(filing),
        },
        filing=filing.name,
        sequence=filing.sequence,
        created_at=_paris(filing.created_at),
    )


def _check_filing(filing: AspFiling) -> FilingKind:
    if filing.status != FilingStatus.GENERATED:
        raise FilingFileError(
            f"Le dépôt {filing.name} est déjà transmis à l'ASP : ses fichiers ne changent plus."
        )
    if filing.schema_version != SCHEMA_VERSION:
        raise FilingFileError(
            f"Le dépôt {filing.name} est en version de schéma « {filing.schema_version} » ; "
            f"ce moteur écrit la version {SCHEMA_VERSION}."
        )
    try:
        return FilingKind(filing.kind)
    except ValueError:
        raise FilingFileError(
            f"Un dépôt « {filing.kind} » n'existe pas : avance, solde, secondaire ou achevement."
        ) from None


def _store(field: Any, name: str, handle: IO[bytes]) -> None:
    handle.seek(0)
    field.save(name, File(handle, name=name), save=False)


def _sha256_of(handle: IO[bytes]) -> str:
    handle.seek(0)
    sink = _HashingWriter(None)
    shutil.copyfileobj(handle, sink, COPY_BUFFER)
    return sink.digest.hexdigest()


def write_filing_files(filing: AspFiling) -> None:
    """Writes `<filing.name>.json` and `<filing.name>.zip`, stores them and their hashes.

    Nothing is stored unless both files are complete: a refusal (FilingFileError) or a storage
    error leaves the filing as it was. Not a state change: the filing's row is updated in place.
    """
    kind = _check_filing(filing)
    name = filing.name
    temp_dir = getattr(settings, "FILE_UPLOAD_TEMP_DIR", None)
    with (
        tempfile.TemporaryFile(dir=temp_dir) as json_handle,
        tempfile.TemporaryFile(dir=temp_dir) as zip_handle,
    ):
        out = _JsonOut(json_handle, limit=max_file_bytes(), filing_name=name)
        with _ZipOut(zip_handle, stamp=filing.created_at) as attachments:
            header = _header(filing, kind).model_dump_json()
            out.write(header[:-1] + ',"lines":[\n')  # the header object, left open for the lines
            count = total_ht = total_ttc = 0
            for line in _lines(filing, kind, attachments):
                out.write(("," if count else "") + line.model_dump_json(exclude_none=True) + "\n")
                count += 1
                total_ht += getattr(line, "claimed_ht_cents", 0)  # a notice carries no amount
                total_ttc += getattr(line, "claimed_ttc_cents", 0)
            if count == 0:
                raise FilingFileError(f"Le dépôt {name} n'a aucune ligne : rien à écrire.")
            totals = (
                CompletionTotals(line_count=count)
                if kind == FilingKind.ACHEVEMENT
                else Totals(
                    line_count=count, claimed_ttc_cents=total_ttc, claimed_ht_cents=total_ht
                )
            )
            out.write('],"totals":' + totals.model_dump_json() + "}\n")
            attachments.finish()
        json_sha256 = out.digest.hexdigest()
        zip_sha256 = _sha256_of(zip_handle)

        # The previous files of this filing (a retried render), and whatever lies at its
        # names (left by a build rolled back after its render: the name is the filing's, unique),
        # give way, so the names stay `<filing.name>.json` and `.zip`, never a random suffix.
        for field, file_name in (
            (filing.json_file, f"{name}.json"),
            (filing.zip_file, f"{name}.zip"),
        ):
            target = field.field.generate_filename(filing, file_name)
            for stale in {n for n in (field.name, target) if n}:
                if field.storage.exists(stale):
                    field.storage.delete(stale)
        _store(filing.json_file, f"{name}.json", json_handle)
        _store(filing.zip_file, f"{name}.zip", zip_handle)

    values = {
        "json_file": filing.json_file.name,
        "json_sha256": json_sha256,
        "zip_file": filing.zip_file.name,
        "zip_sha256": zip_sha256,
        "line_count": count,
        "total_ttc_cents": total_ttc,
    }
    AspFiling.objects.filter(pk=filing.pk).update(**values)
    filing.json_sha256, filing.zip_sha256 = json_sha256, zip_sha256
    filing.line_count, filing.total_ttc_cents = count, total_ttc
