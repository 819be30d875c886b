"""The filing file sent to the paying agency (ASP): one JSON document per « demande ».

A filing is a header (who files, under which dispositif, which file), numbered lines (one per
order of the périmètre) and totals. Its attachments travel in a zip beside it; each line names its
attachments and their SHA-256. Amounts are integer euro cents everywhere, never floats.

There is one top-level model, hence one published JSON Schema, per kind of filing
(`manage.py asp_schemas` writes them to ``payments/schemas/<kind>-v<version>.schema.json``):

- ``AvanceFiling``: demandes d'avance, each line with its BDC;
- ``SoldeFiling``: demandes de solde, each line with its invoice and its acceptance (VA or MOM),
  and the compensation lines of clients removed from the périmètre (negative amounts: the avance
  already paid is offset);
- ``SecondaireFiling``: the secondary prestation, lines shaped like the solde's;
- ``AchevementFiling``: notices of completion of the prestation (« notification d'achèvement »),
  one order per line, no amount: by the end of réalisation the vendor has filed its solde or
  notified the completion (SONS.md, « End of réalisation, exactly »).

The writer (`payments.asp.writer`) never builds a whole filing in memory: it writes the header,
then each line as ``Line.model_dump_json()``, then the totals. The top-level models describe the
assembled document, publish its schema and re-read a file (their validators check what a JSON
Schema cannot: lines numbered 1..n, totals equal to the sums of the lines).

This module is pure pydantic: no Django import, so the published contract does not move when a
model does. A test checks that the client kinds listed here are the engine's.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, model_validator
from pydantic.json_schema import SkipJsonSchema

SCHEMA_VERSION = "1.0"


class _TitledEnum(StrEnum):
    """An enumeration whose JSON Schema carries a French title rather than the class name."""

    __title__ = ""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["title"] = cls.__title__
        return schema


class FilingKind(_TitledEnum):
    __title__ = "Nature de la demande"

    AVANCE = "avance"
    SOLDE = "solde"
    SECONDAIRE = "secondaire"
    ACHEVEMENT = "achevement"


class LineType(_TitledEnum):
    __title__ = "Type de ligne"

    DEMANDE = "demande"
    COMPENSATION = "compensation"


class AcceptanceKind(_TitledEnum):
    __title__ = "Nature de la recette"

    VA = "va"
    MOM = "mom"
    PILOT_PV = "pilot_pv"


class ClientKindCode(_TitledEnum):
    """Nature du client, telle que le moteur la connaît (sons.models.ClientKind)."""

    __title__ = "Nature du client"

    MEDECIN_LIBERAL = "medecin_liberal"
    SAGE_FEMME = "sage_femme"
    CHIRURGIEN_DENTISTE = "chirurgien_dentiste"
    PARAMEDICAL = "paramedical"
    CENTRE_DE_SANTE = "centre_de_sante"
    MSP = "msp"
    ETABLISSEMENT_DE_SANTE = "etablissement_de_sante"
    ESMS = "esms"
    OFFICINE = "officine"
    LABORATOIRE = "laboratoire"
    CABINET_IMAGERIE = "cabinet_imagerie"
    OPERATEUR_MSSANTE = "operateur_mssante"


# --- Shared types -----------------------------------------------------------------------------

Cents = Annotated[int, Strict(), Field(description="Montant en centimes d'euro (entier)")]
PositiveCents = Annotated[
    int, Strict(), Field(gt=0, description="Montant en centimes d'euro (> 0)")
]
NegativeCents = Annotated[
    int, Strict(), Field(lt=0, description="Montant en centimes d'euro, négatif (compensation)")
]
Sha256 = Annotated[
    str, Field(pattern=r"^[0-9a-f]{64}$", description="Empreinte SHA-256 (hexadécimal minuscule)")
]
Siret = Annotated[str, Field(pattern=r"^[0-9]{14}$", description="SIRET (14 chiffres)")]
Siren = Annotated[str, Field(pattern=r"^[0-9]{9}$", description="SIREN (9 chiffres)")]
Rpps = Annotated[str, Field(pattern=r"^[0-9]{11}$", description="RPPS (11 chiffres)")]
Finess = Annotated[
    str,
    Field(pattern=r"^(?:[0-9]{2}|2[AB])[0-9]{7}$", description="FINESS (9 caractères, 2A/2B)"),
]
OrderReference = Annotated[
    str, Field(pattern=r"^BDC-[0-9]{8,}$", description="Référence du BDC, ex. BDC-00000012")
]
DispositifCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[-A-Za-z0-9_]+$",
        description="Code du dispositif, ex. MDV-LGC-V1",
    ),
]
FilingName = Annotated[
    str,
    Field(
        max_length=120,
        pattern=r"^SONS_(avance|solde|secondaire)_[-A-Za-z0-9_]+_[0-9]{14}_[0-9]{4,}$",
        description="Nom du dépôt : SONS_<nature>_<dispositif>_<SIRET>_<numéro d'ordre>",
    ),
]
MssanteAddress = Annotated[
    str,
    Field(
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="Adresse de messagerie sécurisée de santé (MSSanté) du client",
    ),
]


# French field titles of the published schemas (pydantic would derive English ones from names).
FIELD_TITLES = {
    "schema_version": "Version du schéma",
    "kind": "Nature",
    "dispositif": "Dispositif",
    "vendor": "Fournisseur",
    "filing": "Nom du dépôt",
    "sequence": "Numéro d'ordre",
    "created_at": "Créé le",
    "lines": "Lignes",
    "totals": "Totaux",
    "siret": "SIRET",
    "siren": "SIREN",
    "rpps": "RPPS",
    "finess": "FINESS",
    "name": "Nom",
    "referencing_numbers": "Numéros de référencement ANS",
    "line_number": "Numéro de ligne",
    "order_reference": "Référence du BDC",
    "client": "Client",
    "bdc_signed_at": "BDC signé le",
    "prestation_ht_cents": "Montant de la prestation HT (centimes)",
    "prestation_ttc_cents": "Montant de la prestation TTC (centimes)",
    "claimed_ht_cents": "Montant demandé HT (centimes)",
    "claimed_ttc_cents": "Montant demandé TTC (centimes)",
    "line_type": "Type de ligne",
    "invoice": "Facture",
    "acceptance": "Recette",
    "mssante_address": "Adresse MSSanté",
    "attachments": "Pièces jointes",
    "number": "Numéro",
    "date": "Date",
    "amount_ttc_cents": "Montant TTC (centimes)",
    "instant": "Instant",
    "signer": "Signataire",
    "sha256": "Empreinte SHA-256",
    "line_count": "Nombre de lignes",
    "notified_at": "Achèvement notifié le",
    "notified_by": "Notifié par",
    "statement": "Déclaration d'achèvement",
}


def _title(name: str, _info: Any) -> str:
    return FIELD_TITLES[name]


def _no_default(schema: dict[str, Any]) -> None:
    """An optional identifier is left out, never null: the schema shows no null default."""
    schema.pop("default", None)


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", field_title_generator=_title)


# --- Header blocks ----------------------------------------------------------------------------


class VendorBlock(_Block):
    """Le fournisseur (éditeur ou distributeur officiel) qui dépose la demande."""

    model_config = ConfigDict(title="Fournisseur déposant")

    siret: Siret
    siren: Siren
    name: Annotated[str, Field(min_length=1, max_length=255, description="Raison sociale")]
    referencing_numbers: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]],
        Field(
            description=(
                "Numéros de référencement ANS des solutions du fournisseur sous ce dispositif, "
                "et de celles des BDC du dépôt (triés, sans doublon)"
            )
        ),
    ]

    @model_validator(mode="after")
    def siren_of_siret(self) -> VendorBlock:
        if self.siret[:9] != self.siren:
            raise ValueError("le SIREN doit être les 9 premiers chiffres du SIRET")
        return self


class FilingHeader(_Block):
    """En-tête d'un dépôt : qui dépose, pour quel dispositif, sous quel nom de fichier."""

    model_config = ConfigDict(title="En-tête d'un dépôt SONS")

    schema_version: Annotated[Literal["1.0"], Field(description="Version du schéma de ce fichier")]
    kind: Annotated[FilingKind, Field(description="Nature de la demande")]
    dispositif: DispositifCode
    vendor: VendorBlock
    filing: FilingName
    sequence: Annotated[int, Strict(), Field(ge=1, description="Numéro d'ordre du dépôt")]
    created_at: Annotated[
        AwareDatetime, Field(description="Instant de création du dépôt (ISO 8601, avec fuseau)")
    ]

    @model_validator(mode="after")
    def name_matches(self) -> FilingHeader:
        expected = f"SONS_{self.kind}_{self.dispositif}_{self.vendor.siret}_{self.sequence:04d}"
        if self.filing != expected:
            raise ValueError(f"le nom du dépôt doit être {expected}")
        return self


# --- Line blocks ------------------------------------------------------------------------------


class ClientBlock(_Block):
    """Le client bénéficiaire de la prestation, avec ses identifiants (au moins un)."""

    model_config = ConfigDict(
        title="Client (bénéficiaire)",
        json_schema_extra={
            "anyOf": [{"required": [name]} for name in ("rpps", "finess", "siret", "siren")]
        },
    )

    name: Annotated[str, Field(min_length=1, max_length=255, description="Nom ou raison sociale")]
    kind: Annotated[ClientKindCode, Field(description="Nature du client")]
    # Absent rather than null: the writer leaves out an identifier the client does not have.
    rpps: Annotated[Rpps | SkipJsonSchema[None], Field(json_schema_extra=_no_default)] = None
    finess: Annotated[Finess | SkipJsonSchema[None], Field(json_schema_extra=_no_default)] = None
    siret: Annotated[Siret | SkipJsonSchema[None], Field(json_schema_extra=_no_default)] = None
    siren: Annotated[Siren | SkipJsonSchema[None], Field(json_schema_extra=_no_default)] = None

    @model_validator(mode="after")
    def one_identifier(self) -> ClientBlock:
        if not (self.rpps or self.finess or self.siret or self.siren):
            raise ValueError("le client doit porter au moins un identifiant (RPPS, FINESS, SIRET)")
        return self


class Attachment(_Block):
    """Une pièce jointe de la ligne : son nom dans le zip et l'empreinte de son contenu."""

    model_config = ConfigDict(title="Pièce jointe")

    name: Annotated[
        str,
        Field(
            pattern=r"^BDC-[0-9]{8,}-(bdc|facture|va|mom)\.pdf$",
            description="Nom du fichier dans le zip : <référence du BDC>-<nature>.pdf",
        ),
    ]
    sha256: Sha256


class Invoice(_Block):
    """La facture globale de la prestation (100 %, jamais 0 €)."""

    model_config = ConfigDict(title="Facture")

    number: Annotated[str, Field(min_length=1, max_length=64, description="Numéro de facture")]
    date: Annotated[dt.date, Field(description="Date de la facture")]
    amount_ttc_cents: PositiveCents


class AcceptanceBlock(_Block):
    """La recette de la prestation : VA signée, MOM déclarée ou PV d'installation pilote."""

    model_config = ConfigDict(title="Recette (VA, MOM ou PV pilote)")

    kind: Annotated[AcceptanceKind, Field(description="Nature du document de recette")]
    date: Annotated[dt.date, Field(description="Date de la recette (heure de Paris)")]
    instant: Annotated[AwareDatetime, Field(description="Instant de la signature ou déclaration")]
    signer: Annotated[
        str, Field(min_length=1, max_length=255, description="Signataire ou déclarant")
    ]


def _sum_check(prestation: int, claimed: int) -> None:
    if abs(claimed) > prestation:
        raise ValueError("le montant demandé dépasse le montant de la prestation")


class _Line(_Block):
    line_number: Annotated[int, Strict(), Field(ge=1, description="Numéro de ligne (1..n)")]
    order_reference: OrderReference
    client: ClientBlock
    bdc_signed_at: Annotated[AwareDatetime, Field(description="Instant de signature du BDC")]
    prestation_ht_cents: Annotated[PositiveCents, Field(description="Montant HT du BDC")]
    prestation_ttc_cents: Annotated[PositiveCents, Field(description="Montant TTC du BDC")]


class AvanceLine(_Line):
    """Une demande d'avance sur un BDC signé ; le BDC est joint."""

    model_config = ConfigDict(title="Ligne d'une demande d'avance")

    claimed_ht_cents: Annotated[PositiveCents, Field(description="Avance demandée HT")]
    claimed_ttc_cents: Annotated[PositiveCents, Field(description="Avance demandée TTC")]
    line_type: Annotated[Literal["demande"], Field(description="Demande de paiement")]
    attachments: Annotated[list[Attachment], Field(min_length=1, description="Le BDC signé")]

    @model_validator(mode="after")
    def within_prestation(self) -> AvanceLine:
        _sum_check(self.prestation_ttc_cents, self.claimed_ttc_cents)
        return self


class _InvoicedLine(_Line):
    claimed_ht_cents: Annotated[PositiveCents, Field(description="Montant demandé HT")]
    claimed_ttc_cents: Annotated[PositiveCents, Field(description="Montant demandé TTC")]
    line_type: Annotated[Literal["demande"], Field(description="Demande de paiement")]
    invoice: Invoice
    acceptance: AcceptanceBlock
    mssante_address: MssanteAddress
    attachments: Annotated[
        list[Attachment],
        Field(min_length=2, description="La facture, puis la VA signée ou la MOM"),
    ]


class SoldeLine(_InvoicedLine):
    """Une demande de solde : le reste du montant, avec la facture et la VA ou la MOM."""

    model_config = ConfigDict(title="Ligne d'une demande de solde")

    @model_validator(mode="after")
    def within_prestation(self) -> SoldeLine:
        _sum_check(self.prestation_ttc_cents, self.claimed_ttc_cents)
        return self


class SecondaireLine(_InvoicedLine):
    """Une demande au titre de la prestation secondaire (usage constaté)."""

    model_config = ConfigDict(title="Ligne d'une demande de prestation secondaire")


class CompensationLine(_Line):
    """Un client retiré du périmètre du solde : l'avance déjà payée est compensée (négatif)."""

    model_config = ConfigDict(title="Ligne de compensation d'une avance")

    claimed_ht_cents: Annotated[NegativeCents, Field(description="Avance compensée HT (< 0)")]
    claimed_ttc_cents: Annotated[NegativeCents, Field(description="Avance compensée TTC (< 0)")]
    line_type: Annotated[
        Literal["compensation"], Field(description="Compensation d'une avance payée")
    ]
    attachments: Annotated[
        list[Attachment], Field(description="Aucune pièce exigée : l'avance est déjà au dossier")
    ]

    @model_validator(mode="after")
    def within_prestation(self) -> CompensationLine:
        _sum_check(self.prestation_ttc_cents, self.claimed_ttc_cents)
        return self


SoldeFilingLine = Annotated[SoldeLine | CompensationLine, Field(discriminator="line_type")]
Line = AvanceLine | SoldeLine | SecondaireLine | CompensationLine


class Totals(_Block):
    """Les totaux du dépôt, compensations comprises."""

    model_config = ConfigDict(title="Totaux du dépôt")

    line_count: Annotated[int, Strict(), Field(ge=1, description="Nombre de lignes")]
    claimed_ttc_cents: Annotated[Cents, Field(description="Somme des montants demandés TTC")]
    claimed_ht_cents: Annotated[Cents, Field(description="Somme des montants demandés HT")]


# --- Top-level documents ----------------------------------------------------------------------


class _Filing(FilingHeader):
    lines: list[Any]
    totals: Totals

    @model_validator(mode="after")
    def lines_and_totals(self) -> _Filing:
        numbers = [line.line_number for line in self.lines]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("les lignes doivent être numérotées de 1 à n, dans l'ordre")
        expected = Totals(
            line_count=len(self.lines),
            claimed_ttc_cents=sum(line.claimed_ttc_cents for line in self.lines),
            claimed_ht_cents=sum(line.claimed_ht_cents for line in self.lines),
        )
        if self.totals != expected:
            raise ValueError(f"les totaux ne sont pas la somme des lignes : {expected}")
        return self


class AvanceFiling(_Filing):
    """Demande d'avance SONS déposée à l'ASP : un BDC signé par ligne."""

    model_config = ConfigDict(title="Dépôt SONS – demande d'avance")

    kind: Annotated[Literal["avance"], Field(description="Nature de la demande")]
    lines: Annotated[list[AvanceLine], Field(min_length=1)]


class SoldeFiling(_Filing):
    """Demande de solde SONS déposée à l'ASP, avec les compensations des clients retirés."""

    model_config = ConfigDict(title="Dépôt SONS – demande de solde")

    kind: Annotated[Literal["solde"], Field(description="Nature de la demande")]
    lines: Annotated[list[SoldeFilingLine], Field(min_length=1)]


class SecondaireFiling(_Filing):
    """Demande SONS au titre de la prestation secondaire, déposée à l'ASP."""

    model_config = ConfigDict(title="Dépôt SONS – prestation secondaire")

    kind: Annotated[Literal["secondaire"], Field(description="Nature de la demande")]
    lines: Annotated[list[SecondaireLine], Field(min_length=1)]


# --- Notices of completion (« notification d'achèvement de la prestation ») --------------------

CompletionFilingName = Annotated[
    str,
    Field(
        max_length=120,
        pattern=r"^SONS_achevement_[-A-Za-z0-9_]+_[0-9]{14}_[0-9]{4,}$",
        description="Nom du dépôt : SONS_achevement_<dispositif>_<SIRET>_<numéro d'ordre>",
    ),
]


class CompletionFilingHeader(FilingHeader):
    """En-tête d'un dépôt de notifications d'achèvement."""

    model_config = ConfigDict(title="En-tête d'un dépôt SONS de notifications d'achèvement")

    kind: Annotated[Literal["achevement"], Field(description="Nature du dépôt")]
    filing: CompletionFilingName


class CompletionLine(_Line):
    """L'achèvement de la prestation d'un BDC signé, notifié par le fournisseur avant la fin de
    réalisation ; la VA peut suivre, le solde reste dû avant la fin des demandes de solde."""

    model_config = ConfigDict(title="Ligne d'une notification d'achèvement")

    notified_at: Annotated[
        AwareDatetime, Field(description="Instant de la notification (ISO 8601, avec fuseau)")
    ]
    notified_by: Annotated[
        str, Field(min_length=1, max_length=255, description="Personne qui notifie")
    ]
    statement: Annotated[
        str, Field(min_length=1, max_length=2000, description="Déclaration d'achèvement")
    ]


class CompletionTotals(_Block):
    """Les totaux d'un dépôt de notifications : le nombre de lignes (aucun montant)."""

    model_config = ConfigDict(title="Totaux du dépôt")

    line_count: Annotated[int, Strict(), Field(ge=1, description="Nombre de lignes")]


class AchevementFiling(CompletionFilingHeader):
    """Notifications d'achèvement de la prestation déposées à l'ASP : un BDC par ligne."""

    model_config = ConfigDict(title="Dépôt SONS – notification d'achèvement de la prestation")

    lines: Annotated[list[CompletionLine], Field(min_length=1)]
    totals: CompletionTotals

    @model_validator(mode="after")
    def lines_and_totals(self) -> AchevementFiling:
        numbers = [line.line_number for line in self.lines]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("les lignes doivent être numérotées de 1 à n, dans l'ordre")
        if self.totals.line_count != len(self.lines):
            raise ValueError("le nombre de lignes des totaux n'est pas celui des lignes")
        return self


FILING_MODELS: dict[FilingKind, type[BaseModel]] = {
    FilingKind.AVANCE: AvanceFiling,
    FilingKind.SOLDE: SoldeFiling,
    FilingKind.SECONDAIRE: SecondaireFiling,
    FilingKind.ACHEVEMENT: AchevementFiling,
}
