"""Bulk order files (CSV or XLSX): reading them, and what one line asks for.

A file has one header line, then one order per line. Reading, and the checks of the file's own
form (a column missing, a date that is not a date, a choice typed as neither code nor label), are
here; each line becomes one item of the orders command (sons.services.orders.save_orders), which
checks every rule (identifiers, the vendor's mandate, the scenario, one live BDC, the signature's
instant, the orders deadline...) in the same words as for the API (portal.services.imports).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalogue.deadlines import PARIS
from catalogue.models import Dispositif, SolutionVersion, Vendor
from catalogue.selectors import vendor_may_distribute
from core import exports
from portal import uploads
from sons.models import ClientKind, SignatureMethod


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    required: bool = False
    example: str = ""


COLUMNS = [
    Column("dispositif", gettext_lazy("Code du dispositif"), True, "MDV-LGC-V2"),
    Column("solution", gettext_lazy("Nom de la solution"), True, "MédiCabinet Démo"),
    Column("version", gettext_lazy("Version référencée"), True, "6.0"),
    Column(
        "client_nature",
        gettext_lazy("Nature du client (code ou libellé)"),
        True,
        "medecin_liberal",
    ),
    Column("client_nom", gettext_lazy("Nom ou raison sociale du client"), True, "Dr Anne Martin"),
    Column("client_rpps", gettext_lazy("RPPS (professionnels)"), False, "10991234567"),
    Column("client_finess", gettext_lazy("FINESS géographique (structures)")),
    Column("client_siret", gettext_lazy("SIRET (structures)")),
    Column("client_courriel", gettext_lazy("Courriel du client"), False, "a.martin@example.fr"),
    Column(
        "client_mssante",
        gettext_lazy("Adresse MSSanté du client (exigée pour la VA)"),
        False,
        "a.martin@medecin.mssante.fr",
    ),
    Column(
        "caracteristiques",
        gettext_lazy("Caractéristiques du barème, « nom=valeur ; nom=valeur »"),
    ),
    Column(
        "prestation",
        gettext_lazy("Prestation (code ou libellé), pour un dispositif qui en offre plusieurs"),
    ),
    Column(
        "scenario_installation",
        gettext_lazy("Scénario d'installation du profil référencé"),
        True,
        "Poste du cabinet, profil référencé",
    ),
    Column("reference_fournisseur", gettext_lazy("Votre référence"), False, "CMD-2026-001"),
    Column(
        "signe_le",
        gettext_lazy("BDC signé le (JJ/MM/AAAA HH:MM, heure de Paris)"),
        False,
        "",
    ),
    Column("signataire", gettext_lazy("Signataire du BDC")),
    Column("qualite_signataire", gettext_lazy("Qualité du signataire")),
    Column("mode_signature", gettext_lazy("Mode de signature (code ou libellé)")),
]
COLUMN_NAMES = [c.name for c in COLUMNS]

# A file of notices of completion (« notification d'achèvement de la prestation »): one order a
# line, recognised by its « bdc » column; each line is one item of the completions command
# (sons.services.completion.notify_completions), as the API's bulk endpoint's.
COMPLETION_COLUMNS = [
    Column("bdc", gettext_lazy("Référence du BDC"), True, "BDC-00000012"),
    Column(
        "declaration_achevement",
        gettext_lazy("Déclaration d'achèvement (facultative)"),
        False,
        "Prestation achevée : installation, paramétrage et formation faits.",
    ),
]
COMPLETION_KIND = "completions"


def file_kind(table: list[tuple[int, dict]]) -> str:
    """« completions » for a file of notices of completion (its « bdc » column), else
    « orders »."""
    return COMPLETION_KIND if table and "bdc" in table[0][1] else "orders"


def completion_item(line: int, row: dict[str, str]) -> tuple[dict, list[LineError]]:
    """A line of a file of notices as one item of the completions command, and what is wrong
    with its form."""
    reference = row.get("bdc", "").strip()
    errors = []
    if not reference:
        errors.append(
            LineError(line, "bdc", "required", _("« Référence du BDC » est obligatoire."))
        )
    item = {"statement": row.get("declaration_achevement", "").strip()}
    if reference:
        item["order"] = reference
    return item, errors


def completion_column(field_name: str | None) -> str:
    """The column a refusal of the completions command points to."""
    return "declaration_achevement" if field_name == "statement" else "bdc"


IDENTIFIER_COLUMNS = {"rpps": "client_rpps", "finess": "client_finess", "siret": "client_siret"}
CLIENT_FIELD_COLUMNS = {
    **IDENTIFIER_COLUMNS,
    "kind": "client_nature",
    "legal_name": "client_nom",
    "email": "client_courriel",
    "mssante_address": "client_mssante",
    "characteristics": "caracteristiques",
    "siren": "client_siret",
}
# Required columns whose emptiness is a rule of the command, said in the command's words.
COMMAND_CHECKED = {"scenario_installation"}
# Where a refusal of the command points to, by the field it names.
RULE_FIELD_COLUMNS = {
    "vendor": "solution",
    "solution_version": "version",
    "referencing": "version",
    "client": "client_nom",
    "dispositif": "dispositif",
    "installation_scenario": "scenario_installation",
    "prestation_variant": "prestation",
    "signed_at": "signe_le",
    "signatory_name": "signataire",
    "signatory_role": "qualite_signataire",
    "method": "mode_signature",
    "id": "dispositif",
}


@dataclass(frozen=True)
class LineError:
    line: int
    column: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "message": self.message,
        }


class FileRefused(Exception):
    """The file as a whole cannot be read (format, size, header): nothing is checked further."""

    def __init__(self, errors: list[LineError]):
        self.errors = errors
        super().__init__("; ".join(e.message for e in errors))


def _normal(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).strip().lower()
    for sep in (" ", "-", "'", "’"):
        plain = plain.replace(sep, "_")
    return plain


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# Columns read from a line: far more than the model has, far fewer than a sheet may claim.
MAX_COLUMNS = 200


def _refused(refusal: uploads.UploadRefused) -> FileRefused:
    return FileRefused([LineError(1, "", refusal.code, refusal.message)])


def _csv_rows(content: bytes) -> Iterator[list[str]]:
    try:
        text = uploads.csv_text(content)  # text, not a binary file renamed
    except uploads.UploadRefused as refusal:
        raise _refused(refusal) from None
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first.count)
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            yield [_cell(v) for v in row[:MAX_COLUMNS]]
    except csv.Error as exc:  # a field longer than csv's limit, a stray quote...
        message = _("Ce fichier CSV ne peut pas être lu : %(error)s") % {"error": exc}
        raise FileRefused([LineError(1, "", "file_unreadable", message)]) from None


def _xlsx_rows(content: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        uploads.check_xlsx(content)  # a workbook, and no zip bomb, before openpyxl opens it
    except uploads.UploadRefused as refusal:
        raise _refused(refusal) from None
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds of errors for a file that is not XLSX
        raise FileRefused(
            [LineError(1, "", "file_unreadable", _("Ce fichier XLSX ne peut pas être lu."))]
        ) from None
    try:
        sheet = book.worksheets[0]
        # Read lazily, at most MAX_COLUMNS per line: the sheet's declared dimensions are not
        # trusted (« A1:XFD1048576 » would pad every line to 16,384 cells).
        for row in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
            yield [_cell(v) for v in row]
    except Exception:
        raise FileRefused(
            [LineError(1, "", "file_unreadable", _("Ce fichier XLSX ne peut pas être lu."))]
        ) from None
    finally:
        book.close()


def read_table(file_name: str, content: bytes, *, max_rows: int) -> list[tuple[int, dict]]:
    """The file's data lines as (line number, {column: text}); the header is line 1."""
    lower = file_name.lower()
    if lower.endswith(".xlsx"):
        rows = _xlsx_rows(content)
    elif lower.endswith((".csv", ".txt")):
        rows = _csv_rows(content)
    else:
        raise FileRefused(
            [
                LineError(
                    1,
                    "",
                    "file_format",
                    _("Déposez un fichier CSV (séparateur « ; ») ou XLSX."),
                )
            ]
        )
    with contextlib.closing(rows):
        return _table(rows, max_rows=max_rows)


def _table(rows: Iterator[list[str]], *, max_rows: int) -> list[tuple[int, dict]]:
    first = next(rows, None)
    if first is None:
        raise FileRefused([LineError(1, "", "file_empty", _("Le fichier est vide."))])
    header = [_normal(h) for h in first]
    columns = COMPLETION_COLUMNS if "bdc" in header else COLUMNS  # its kind, by its header
    names = [c.name for c in columns]
    errors = [
        LineError(
            1,
            column.name,
            "column_missing",
            _("La colonne obligatoire « %(name)s » manque.") % {"name": column.name},
        )
        for column in columns
        if column.name not in header and column.required
    ]
    errors += [
        LineError(1, raw, "column_unknown", _("Colonne inconnue « %(name)s ».") % {"name": raw})
        for raw, name in zip(first, header, strict=True)
        if name and name not in names
    ]
    if errors:
        raise FileRefused(errors)
    table = []
    for number, row in enumerate(rows, start=2):
        if not any(v for v in row):
            continue
        if len(table) == max_rows:  # one line too many: reading stops here
            raise FileRefused(
                [
                    LineError(
                        number,
                        "",
                        "file_too_long",
                        _("Le fichier a plus de %(max)s lignes : %(max)s au plus par fichier.")
                        % {"max": max_rows},
                    )
                ]
            )
        table.append(
            (number, {name: value for name, value in zip(header, row, strict=False) if name})
        )
    if not table:
        raise FileRefused([LineError(2, "", "file_empty", _("Le fichier n'a aucune ligne."))])
    return table


def template_csv() -> bytes:
    """The header line and one example line, as a spreadsheet opens it (core.exports)."""
    return exports.csv_bytes(
        [
            exports.Column(name, lambda example, i=i: example[i])
            for i, name in enumerate(COLUMN_NAMES)
        ],
        [[c.example for c in COLUMNS]],
    )


def _choice(value: str, choices) -> str | None:
    wanted = _normal(value)
    for code, label in choices:
        if wanted in (_normal(code), _normal(label)):
            return code
    return None


def parse_instant(value: str) -> dt.datetime | None:
    """« 05/09/2026 10:30 » or « 2026-09-05T10:30 », Paris wall-clock time."""
    for pattern in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"):
        try:
            naive = dt.datetime.strptime(value.strip(), pattern)  # noqa: DTZ007 - Paris, below
        except ValueError:
            continue
        return naive.replace(tzinfo=PARIS)
    return None


def parse_characteristics(value: str) -> dict[str, int | str]:
    """« doctors=3 ; reimbursed_turnover_eur=812345.50 »: integers stay integers, decimals are
    kept as text (never floats), as the barèmes read them."""
    result: dict[str, int | str] = {}
    for part in value.replace("\n", ";").split(";"):
        if not part.strip():
            continue
        name, sep, raw = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(part.strip())
        raw = raw.strip().replace(",", ".")
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise ValueError(part.strip()) from None
        result[name.strip()] = int(number) if number == number.to_integral_value() else raw
    return result


class LineReader:
    """Reads the lines of one vendor's file into the items of the orders command
    (sons.services.orders.save_orders); remembers what it looked up, line after line. Only the
    file's own form is checked here (a required cell, a date, a choice typed as a label, a
    solution named by its name); every rule is the command's."""

    def __init__(self, vendor: Vendor, *, now: dt.datetime):
        self.vendor = vendor
        self.now = now
        self._versions: dict[tuple[str, str], SolutionVersion | None] = {}
        self._dispositifs: dict[str, Dispositif | None] = {}

    def _prestation(self, dispositif: str, value: str) -> str:
        """The code of the prestation a cell names by its code or its label; a name the
        dispositif does not offer goes to the command as it is, which refuses it."""
        if not value:
            return ""
        if dispositif not in self._dispositifs:
            self._dispositifs[dispositif] = Dispositif.objects.filter(code=dispositif).first()
        found = self._dispositifs[dispositif]
        variant = found.prestation_variant(value) if found is not None else None
        return variant["code"] if variant else value

    def _version(self, solution: str, version: str) -> SolutionVersion | None:
        key = (solution.lower(), version)
        if key not in self._versions:
            candidates = SolutionVersion.objects.filter(
                solution__name__iexact=solution, version=version
            ).select_related("solution")
            # Two éditeurs may name a solution alike: the one this vendor may distribute wins.
            self._versions[key] = next(
                (
                    v
                    for v in candidates
                    if vendor_may_distribute(vendor=self.vendor, solution=v.solution, at=self.now)
                ),
                candidates.first(),
            )
        return self._versions[key]

    def read(self, line: int, row: dict[str, str]) -> tuple[dict, list[LineError]]:
        """The line as one item of the orders command, and what is wrong with its form."""
        errors: list[LineError] = []

        def fail(column: str, code: str, message: str) -> None:
            errors.append(LineError(line, column, code, str(message)))

        for column in COLUMNS:
            if (
                column.required
                and column.name not in COMMAND_CHECKED
                and not row.get(column.name, "").strip()
            ):
                fail(
                    column.name,
                    "required",
                    _("« %(label)s » est obligatoire.") % {"label": column.label},
                )

        solution, version_label = row.get("solution", "").strip(), row.get("version", "").strip()
        version = self._version(solution, version_label) if solution and version_label else None
        if solution and version_label and version is None:
            fail(
                "version",
                "does_not_exist",
                _("Aucune solution « %(solution)s » en version %(version)s au catalogue.")
                % {"solution": solution, "version": version_label},
            )

        client_data = _client_data(row, fail)

        signature = None
        signed_text = row.get("signe_le", "").strip()
        if signed_text:
            signature = {
                "signed_at": parse_instant(signed_text),
                "signatory_name": row.get("signataire", "").strip(),
                "signatory_role": row.get("qualite_signataire", "").strip(),
                "method": _choice(row.get("mode_signature", ""), SignatureMethod.choices) or "",
            }
            signature_errors = len(errors)
            if signature["signed_at"] is None:
                fail(
                    "signe_le",
                    "signed_at_invalid",
                    _("Date et heure attendues, au format JJ/MM/AAAA HH:MM (heure de Paris)."),
                )
            if not signature["signatory_name"]:
                fail("signataire", "required", _("Un BDC signé nomme son signataire."))
            if not signature["method"]:
                fail(
                    "mode_signature",
                    "signature_method_invalid",
                    _("Mode de signature attendu : %(choices)s.")
                    % {"choices": ", ".join(SignatureMethod.values)},
                )
            if len(errors) > signature_errors:
                signature = None  # said above; the rest of the line is still checked
        elif any(row.get(c, "").strip() for c in ("signataire", "qualite_signataire")):
            fail("signe_le", "required", _("Un BDC signé porte sa date et son heure de signature."))

        # What the line asks, as far as it could be read: a line with errors of form is still
        # checked by the command (for the report), never written.
        texts = {
            "dispositif": row.get("dispositif", "").strip(),
            "installation_scenario": row.get("scenario_installation", "").strip(),
            "vendor_reference": row.get("reference_fournisseur", "").strip()[:64],
            "prestation_variant": self._prestation(
                row.get("dispositif", "").strip(), row.get("prestation", "").strip()
            ),
        }
        item = {
            **{k: v for k, v in texts.items() if v or k != "dispositif"},
            **({"client_data": client_data} if client_data is not None else {}),
            **({"solution_version": version} if version is not None else {}),
            **({"signature": signature} if signature is not None else {}),
        }
        return item, errors


def _client_data(row: dict[str, str], fail) -> dict | None:
    """The client as the line gives it (its identity, and the vendor's record of it), for the
    command to check and register: a client on file under one of its identifiers keeps its
    identity, the vendor's record of it has its blanks completed."""
    kind = _choice(row.get("client_nature", ""), ClientKind.choices)
    if row.get("client_nature", "").strip() and kind is None:
        fail(
            "client_nature",
            "client_kind_invalid",
            _("Nature de client inconnue : %(value)s.") % {"value": row["client_nature"]},
        )
        return None
    try:
        characteristics = parse_characteristics(row.get("caracteristiques", ""))
    except ValueError as exc:
        fail(
            "caracteristiques",
            "characteristics_invalid",
            _("« %(part)s » : écrivez nom=valeur, la valeur en chiffres.") % {"part": exc},
        )
        return None
    data = {
        "kind": kind or "",
        "legal_name": row.get("client_nom", "").strip(),
        "email": row.get("client_courriel", "").strip(),
        "mssante_address": row.get("client_mssante", "").strip(),
        "characteristics": characteristics,
    }
    for name, column in IDENTIFIER_COLUMNS.items():
        if row.get(column, "").strip():
            data[name] = row[column].strip()
    return data


def column_of(field_name: str | None, code: str, item: dict | None = None) -> str:
    """The column a refusal of the command points to (its field), for the per-line report."""
    if code == "vendor_not_mandated":
        return "solution"
    name = field_name or ""
    if name.startswith("client."):
        inner = name.removeprefix("client.")
        if inner in CLIENT_FIELD_COLUMNS:
            return CLIENT_FIELD_COLUMNS[inner]
        characteristics = ((item or {}).get("client_data") or {}).get("characteristics") or {}
        return "caracteristiques" if inner in characteristics else "client_nom"
    name = name.removeprefix("signature.")
    return RULE_FIELD_COLUMNS.get(name, "dispositif" if not name else "caracteristiques")
