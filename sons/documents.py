"""The documents of a Prestation Ségur as PDF: the BDC, the VA to sign and the signed VA.

Pure rendering: every function reads the rows it is given and returns bytes; nothing is saved,
no state changes, no transaction. Storing the bytes and their SHA-256 is the services' job.
The rendering itself (`write_pdf`, `sha256_hex`, `pdf_created`) is core's (core/documents.py).

Renders are deterministic: the same rows give the same bytes. WeasyPrint writes no random file
identifier (no ``pdf_identifier`` option) and no creation date unless the HTML carries a
``dcterms.created`` meta, which our templates fill from the rows (signature or issue instant),
never from the clock. The signed VA is the original bytes unchanged plus an incremental update
that adds one page, so the signed document is, byte for byte, the first bytes of the file.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from pypdf import PdfReader, PdfWriter

from catalogue.deadlines import format_paris
from core.documents import pdf_created, sha256_hex, write_pdf
from core.money import format_euros

from .demo_marks import amount_is_demo
from .models.acceptance import (
    MomDeclaration,
    VaDecision,
    VerificationAptitude,
    identity_label,
)
from .models.client import IDENTIFIER_LABELS, Client, ClientRelationship
from .models.order import PurchaseOrder, SignatureMethod

NO_VALUE = "—"


# --- Formatting -----------------------------------------------------------------------------


def paris_time(instant: dt.datetime | None, *, seconds: bool = False) -> str:
    """« 01/03/2024 à 14:00 » in Paris time, whatever time zone the request activated."""
    if instant is None:
        return NO_VALUE
    return format_paris(instant, seconds=seconds)


def vat_percent(rate: Decimal | None) -> str:
    """Decimal('0.2000') -> « 20 % », Decimal('0.0550') -> « 5,5 % » (narrow no-break space)."""
    if rate is None:
        return NO_VALUE
    percent = format((Decimal(rate) * 100).normalize(), "f").replace(".", ",")
    return f"{percent}\u202f%"


# --- Rendering ------------------------------------------------------------------------------


def _client_context(client: Client, record: ClientRelationship) -> dict[str, Any]:
    """The client's identity, and its address as the vendor's record gives it."""
    return {
        "legal_name": client.legal_name,
        "kind": client.get_kind_display(),
        "identifiers": [
            (IDENTIFIER_LABELS[field], value) for field, value in client.identifiers.items()
        ],
        "address": record.address,
        "postal_code": record.postal_code,
        "city": record.city,
        "mssante_address": record.mssante_address,
    }


def parties_context(order: PurchaseOrder) -> dict[str, Any]:
    """What the BDC and the VA both say about the order: parties, dispositif, solution."""
    vendor = order.vendor
    version = order.solution_version
    solution = version.solution
    referencing = order.referencing
    return {
        "reference": order.reference,
        # A demo amount marks every document of the order, not only the one that shows it.
        "is_demo": amount_is_demo(order),
        "dispositif": {"code": order.dispositif.code, "title": order.dispositif.title},
        "vendor": {
            "name": vendor.name,
            "kind": vendor.get_kind_display(),
            "siret": vendor.siret,
            "siren": vendor.siren,
            "cnda_nie": vendor.cnda_nie,
        },
        "client": _client_context(order.client, order.contact),
        "solution": {
            "name": solution.name,
            "version": version.version,
            "cnda_nil": version.cnda_nil,
            # Named only when the vendor is a distributor, not the editor itself.
            "editor": solution.editor.name if solution.editor_id != vendor.pk else "",
        },
        "ans_number": referencing.ans_number if referencing is not None else "",
        # Signed under condition stays true of the document once the referencing came.
        "conditional_until": paris_time(order.conditional_until) if order.conditional_until else "",
    }


def signature_method_label(method: str) -> str:
    return SignatureMethod(method).label if method in SignatureMethod.values else method


def render_order_pdf(order: PurchaseOrder) -> bytes:
    """The bon de commande (BDC) of a signed (or conditionally signed) order."""
    if not order.amount_ht_cents or not order.amount_ttc_cents:
        # The BDC must show the real, non-zero amount: no amount, no document.
        raise ValueError(f"{order.reference} n'a pas de montant : le BDC ne peut être édité.")
    context = {
        **parties_context(order),
        "installation_scenario": order.installation_scenario,
        "amount_ht": format_euros(order.amount_ht_cents),
        "amount_ttc": format_euros(order.amount_ttc_cents),
        "vat_rate": vat_percent(order.vat_rate),
        "signature": {
            "name": order.signatory_name,
            "role": order.signatory_role,
            "method": signature_method_label(order.signature_method),
            "at": paris_time(order.signed_at),
        },
        "created": pdf_created(order.signed_at),
    }
    return write_pdf("pdf/bdc.html", context)


def render_va_pdf(va: VerificationAptitude, *, ticks: list[str] | None = None) -> bytes:
    """The VA as issued to the client, to be seen and signed: no signer on it. With `ticks`,
    only the ticks of those statements, laid out as the document: an overlay for its boxes."""
    order = va.order
    context = {
        **parties_context(order),
        "version": va.version,
        "delivered_summary": va.delivered_summary,
        "statements": list(va.statements),
        "mssante_address": va.mssante_address,
        "issued_at": paris_time(va.issued_at),
        "created": pdf_created(va.issued_at),
        "ticks": ticks or [],
    }
    return write_pdf("pdf/va.html", context)


def render_signed_va_pdf(
    va: VerificationAptitude, decision: VaDecision, original_pdf: bytes
) -> bytes:
    """The VA document the client saw, unchanged, followed by one page recording the decision.

    Reserves too long for one page carry over to a second sheet page rather than being cut.

    The result is `original_pdf` byte for byte, then a PDF incremental update that appends the
    signature page: the first ``len(original_pdf)`` bytes of the result hash to
    ``decision.document_sha256``, which the appended page prints.
    """
    digest = sha256_hex(original_pdf)
    if digest != decision.document_sha256 or (va.pdf_sha256 and va.pdf_sha256 != digest):
        raise ValueError(
            f"VA v{va.version} de {va.order.reference} : le document fourni n'est pas celui sur "
            "lequel porte la décision (empreinte différente)."
        )
    original = PdfReader(io.BytesIO(original_pdf))
    original_pages = len(original.pages)
    confirmed = set(decision.statements_confirmed)
    context = {
        "reference": va.order.reference,
        "is_demo": amount_is_demo(va.order),
        "version": va.version,
        "refused": decision.outcome == VaDecision.Outcome.REFUSED,
        "signer": {
            "name": decision.signer_name,
            "role": decision.signer_role,
            "rpps": decision.signer_rpps,
            "identity_method": identity_label(decision.identity_method, decision.identity_subject),
            "ip_address": decision.ip_address or "",
            "user_agent": decision.user_agent,
        },
        "decided_at": paris_time(decision.decided_at, seconds=True),
        "issued_at": paris_time(va.issued_at),
        "statements": [(s, s in confirmed) for s in va.statements],
        "non_blocking_reserves": decision.non_blocking_reserves.strip(),
        "blocking_reserves": decision.blocking_reserves.strip(),
        "document_sha256": decision.document_sha256,
        "original_pages": original_pages,
        "original_bytes": len(original_pdf),
        "created": pdf_created(decision.decided_at),
    }
    signature_sheet = PdfReader(io.BytesIO(write_pdf("pdf/va_signature.html", context)))

    # Incremental mode: the original bytes are written first, untouched, then the new page. The
    # sheet is one page; only reserves too long for it carry over, never cut.
    writer = PdfWriter(original, incremental=True)
    # The statements ticked, drawn over their empty boxes on the page that lists them (issue
    # 16); the original bytes stay the file's beginning, the incremental update holds the ticks.
    ticked = [s for s in va.statements if s in confirmed]
    if ticked and decision.outcome != VaDecision.Outcome.REFUSED:
        overlay = PdfReader(io.BytesIO(render_va_pdf(va, ticks=ticked))).pages
        if len(overlay) == original_pages:  # laid out as the original, else the sheet alone
            for page, ticks in zip(writer.pages, overlay, strict=True):
                page.merge_page(ticks)
    for page in signature_sheet.pages:
        writer.add_page(page)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def render_mom_pdf(mom: MomDeclaration) -> bytes:
    """The MOM the vendor declared, as a document: the acceptance attached to a solde filing.

    Deterministic like the others: its creation date is the declaration instant.
    """
    context = {
        **parties_context(mom.order),
        "declared_at": paris_time(mom.declared_at, seconds=True),
        "signer": {
            "name": mom.signer_name,
            "role": mom.signer_role,
            "rpps": mom.signer_rpps,
            "identity_method": mom.identity_method,
        },
        "mssante_address": mom.mssante_address,
        "statement": mom.statement,
        "created": pdf_created(mom.declared_at),
    }
    return write_pdf("pdf/mom.html", context)
