"""Validation and normalisation of the French and financial identifiers used by SONS.

This is the one module that knows the rules of SIRET, SIREN, FINESS, RPPS, IBAN and BIC.
Each ``normalize_*`` function strips whitespace (and upper-cases where letters are allowed),
checks the identifier and returns its compact canonical form, or raises a Django
``ValidationError`` whose ``code`` is stable and whose message, in French, names the
identifier and the rule that failed. Each ``validate_*`` function is the matching Django
validator, for ``validators=[...]`` on model and form fields.

Check digits are computed by python-stdnum wherever it implements the rule (Luhn, La Poste's
SIRET exception, ISO 13616 mod 97, ISO 9362); only the layout checks it lacks live here.
"""

import re
from collections.abc import Callable
from typing import NoReturn

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from stdnum import bic, iban, luhn, numdb
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

__all__ = [
    "IDENTIFIER_VALIDATORS",
    "build_siret",
    "normalize_bic",
    "normalize_finess",
    "normalize_iban",
    "normalize_rpps",
    "normalize_siren",
    "normalize_siret",
    "siren_of_siret",
    "validate_bic",
    "validate_finess",
    "validate_iban",
    "validate_rpps",
    "validate_siren",
    "validate_siret",
]

# La Poste's establishments share SIREN 356000000 and are checked by digit sum, not Luhn.
LA_POSTE_SIREN = "356000000"

# FINESS: 2 characters of département (digits, or 2A/2B for Corsica) then 7 digits.
_FINESS_RE = re.compile(r"(?:[0-9]{2}|2[AB])[0-9]{7}")
# Key = Luhn on 9 chars, 2A/2B as 21/22: gip-inclusion/pilotage validators.py, ARS Corse data.
_FINESS_CORSICA = {"2A": "21", "2B": "22"}

# ISO 13616: 2 letters of country, 2 check digits, then letters or digits (length per country).
_IBAN_RE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")
# Lengths in stdnum's IBAN registry structures, e.g. "5!n5!n11!c2!n" for France.
_IBAN_STRUCTURE_PART_RE = re.compile(r"(\d+)!")
_IBAN_REGISTRY = numdb.get("iban")

_NOT_TEXT = {
    "siret": _("Le SIRET doit être fourni sous forme de texte."),
    "siren": _("Le SIREN doit être fourni sous forme de texte."),
    "finess": _("Le numéro FINESS doit être fourni sous forme de texte."),
    "rpps": _("Le numéro RPPS doit être fourni sous forme de texte."),
    "iban": _("L'IBAN doit être fourni sous forme de texte."),
    "bic": _("Le BIC doit être fourni sous forme de texte."),
}

_MESSAGES = {
    "siret_length": ngettext_lazy(
        "Le SIRET doit comporter 14 chiffres (%(length)d reçu).",
        "Le SIRET doit comporter 14 chiffres (%(length)d reçus).",
        "length",
    ),
    "siret_format": _("Le SIRET ne doit contenir que des chiffres."),
    "siret_checksum": _(
        "Le SIRET %(value)s n'est pas valide : la clé de contrôle (algorithme de Luhn) est fausse."
    ),
    "siret_checksum_siren": _(
        "Le SIRET %(value)s n'est pas valide : la clé de contrôle (algorithme de Luhn) du SIREN "
        "%(siren)s qu'il contient est fausse."
    ),
    "siret_checksum_la_poste": _(
        "Le SIRET %(value)s n'est pas valide : pour un établissement de La Poste "
        "(SIREN 356000000), la somme des chiffres doit être un multiple de 5."
    ),
    "siren_length": ngettext_lazy(
        "Le SIREN doit comporter 9 chiffres (%(length)d reçu).",
        "Le SIREN doit comporter 9 chiffres (%(length)d reçus).",
        "length",
    ),
    "siren_format": _("Le SIREN ne doit contenir que des chiffres."),
    "siren_checksum": _(
        "Le SIREN %(value)s n'est pas valide : la clé de contrôle (algorithme de Luhn) est fausse."
    ),
    "finess_length": ngettext_lazy(
        "Le numéro FINESS doit comporter 9 caractères (%(length)d reçu).",
        "Le numéro FINESS doit comporter 9 caractères (%(length)d reçus).",
        "length",
    ),
    "finess_format": _(
        "Le numéro FINESS doit commencer par le département (2 chiffres, ou 2A ou 2B pour la "
        "Corse) suivi de 7 chiffres."
    ),
    "finess_checksum": _(
        "Le numéro FINESS %(value)s n'est pas valide : la clé de contrôle (algorithme de Luhn) "
        "est fausse."
    ),
    "rpps_length": ngettext_lazy(
        "Le numéro RPPS doit comporter 11 chiffres, ou 12 avec le préfixe 8 de l'identifiant "
        "national (%(length)d reçu).",
        "Le numéro RPPS doit comporter 11 chiffres, ou 12 avec le préfixe 8 de l'identifiant "
        "national (%(length)d reçus).",
        "length",
    ),
    "rpps_format": _("Le numéro RPPS ne doit contenir que des chiffres."),
    "rpps_prefix": _(
        "Le numéro RPPS sur 12 chiffres doit être l'identifiant national : le préfixe 8 suivi "
        "des 11 chiffres du RPPS."
    ),
    "rpps_checksum": _(
        "Le numéro RPPS %(value)s n'est pas valide : la clé de contrôle (algorithme de Luhn) "
        "est fausse."
    ),
    "iban_format": _(
        "L'IBAN doit commencer par le code pays (2 lettres) et la clé (2 chiffres), suivis de "
        "lettres et de chiffres uniquement."
    ),
    "iban_format_bban": _(
        "L'IBAN %(value)s n'est pas valide : le numéro de compte (BBAN) ne respecte pas le "
        "format du pays %(country)s."
    ),
    "iban_country": _(
        "L'IBAN n'est pas valide : le code pays %(country)s n'est pas reconnu par la norme "
        "ISO 13616."
    ),
    "iban_length": ngettext_lazy(
        "Un IBAN du pays %(country)s doit comporter %(expected)d caractères (%(length)d reçu).",
        "Un IBAN du pays %(country)s doit comporter %(expected)d caractères (%(length)d reçus).",
        "length",
    ),
    "iban_checksum": _(
        "L'IBAN %(value)s n'est pas valide : la clé de contrôle (modulo 97, norme ISO 13616) "
        "est fausse."
    ),
    "bic_length": ngettext_lazy(
        "Le BIC doit comporter 8 ou 11 caractères (%(length)d reçu).",
        "Le BIC doit comporter 8 ou 11 caractères (%(length)d reçus).",
        "length",
    ),
    "bic_format": _(
        "Le BIC %(value)s n'est pas valide : il doit comporter 4 lettres (banque), 2 lettres "
        "(pays), 2 lettres ou chiffres (localité) et éventuellement 3 lettres ou chiffres "
        "(agence)."
    ),
    "bic_country": _("Le BIC %(value)s n'est pas valide : le code pays %(country)s n'existe pas."),
}


def _fail(code: str, message_key: str | None = None, **params: object) -> NoReturn:
    """Raise the ValidationError of ``code`` (message ``message_key``, default ``code``)."""
    raise ValidationError(_MESSAGES[message_key or code], code=code, params=params or None)


def _compact(value: object, kind: str, upper: bool = False) -> str:
    """Drop every whitespace (copy-pasted numbers carry non-breaking spaces), optionally upper."""
    if not isinstance(value, str):
        # An int would silently lose leading zeros (SIRET 05781313100026), so text is required.
        raise ValidationError(_NOT_TEXT[kind], code=f"{kind}_format")
    compact = "".join(value.split())
    return compact.upper() if upper else compact


def normalize_siren(value: str) -> str:
    """Return the 9-digit SIREN, or raise ValidationError (siren_length/_format/_checksum)."""
    number = _compact(value, "siren")
    if not number:
        _fail("siren_length", length=0)
    try:
        return stdnum_siren.validate(number)
    except InvalidLength:  # subclass of InvalidFormat: must be caught first
        _fail("siren_length", length=len(stdnum_siren.compact(number)))
    except InvalidFormat:
        _fail("siren_format")
    except InvalidChecksum:
        _fail("siren_checksum", value=number)


def normalize_siret(value: str) -> str:
    """Return the 14-digit SIRET, or raise ValidationError (siret_length/_format/_checksum)."""
    number = _compact(value, "siret")
    if not number:
        _fail("siret_length", length=0)
    try:
        return stdnum_siret.validate(number)
    except InvalidLength:  # subclass of InvalidFormat: must be caught first
        _fail("siret_length", length=len(stdnum_siret.compact(number)))
    except InvalidFormat:
        _fail("siret_format")
    except InvalidChecksum:
        number = stdnum_siret.compact(number)
        if number.startswith(LA_POSTE_SIREN):
            _fail("siret_checksum", "siret_checksum_la_poste", value=number)
        if not stdnum_siren.is_valid(number[:9]):
            _fail("siret_checksum", "siret_checksum_siren", value=number, siren=number[:9])
        _fail("siret_checksum", value=number)


def build_siret(siren_body: str, nic_body: str) -> str:
    """A valid SIRET from 8 + 4 digits, keys added (for demo and test data, never real firms)."""
    siren = siren_body + luhn.calc_check_digit(siren_body)
    return siren + nic_body + luhn.calc_check_digit(siren + nic_body)


def siren_of_siret(siret: str) -> str:
    """Return the SIREN (first 9 digits) of a SIRET, validating the SIRET first."""
    return normalize_siret(siret)[:9]


def normalize_finess(value: str) -> str:
    """Return the 9-character FINESS, or raise ValidationError (finess_length/_format/_checksum).

    Letters are upper-cased so that Corsica's "2a" is accepted as "2A".
    """
    number = _compact(value, "finess", upper=True)
    if len(number) != 9:
        _fail("finess_length", length=len(number))
    if not _FINESS_RE.fullmatch(number):
        _fail("finess_format")
    digits = _FINESS_CORSICA.get(number[:2], number[:2]) + number[2:]
    if not luhn.is_valid(digits):
        _fail("finess_checksum", value=number)
    return number


def normalize_rpps(value: str) -> str:
    """Return the 11-digit RPPS, or raise ValidationError (rpps_length/_format/_checksum).

    The 12-digit national identifier (IDNPS, "8" + RPPS) is accepted and reduced to the RPPS.
    """
    number = _compact(value, "rpps")
    if not number.isascii() or not number.isdigit():
        if not number:
            _fail("rpps_length", length=0)
        _fail("rpps_format")
    if len(number) == 12:
        if not number.startswith("8"):
            _fail("rpps_format", "rpps_prefix")
        number = number[1:]
    elif len(number) != 11:
        _fail("rpps_length", length=len(number))
    try:
        return luhn.validate(number)
    except InvalidChecksum:
        _fail("rpps_checksum", value=number)


def _iban_expected_length(country: str) -> int | None:
    """Return the IBAN length of ``country`` from stdnum's registry, or None if unknown."""
    structure = _IBAN_REGISTRY.info(country)[0][1].get("bban")
    if structure is None:
        return None
    return 4 + sum(int(part) for part in _IBAN_STRUCTURE_PART_RE.findall(structure))


def normalize_iban(value: str) -> str:
    """Return the compact upper-case IBAN, or raise ValidationError.

    Codes: iban_format, iban_country, iban_length, iban_checksum.
    """
    number = iban.compact(_compact(value, "iban", upper=True))
    if not _IBAN_RE.fullmatch(number):
        _fail("iban_format")
    country = number[:2]
    # Country and length first: stdnum checks mod 97 first, which would hide these errors.
    expected = _iban_expected_length(country)
    if expected is None:
        _fail("iban_country", country=country)
    if len(number) != expected:
        _fail("iban_length", country=country, expected=expected, length=len(number))
    try:
        # ISO 13616 only: stdnum's national checks also reject banks missing from its registry.
        return iban.validate(number, check_country=False)
    except InvalidChecksum:
        _fail("iban_checksum", value=number)
    except InvalidComponent:
        _fail("iban_country", country=country)
    except InvalidFormat:
        _fail("iban_format", "iban_format_bban", value=number, country=country)


def normalize_bic(value: str) -> str:
    """Return the upper-case 8- or 11-character BIC, or raise ValidationError.

    Codes: bic_length, bic_format, bic_country.
    """
    number = bic.compact(_compact(value, "bic", upper=True))
    try:
        return bic.validate(number)
    except InvalidLength:  # subclass of InvalidFormat: must be caught first
        _fail("bic_length", length=len(number))
    except InvalidFormat:
        _fail("bic_format", value=number)
    except InvalidComponent:
        _fail("bic_country", value=number, country=number[4:6])


def validate_siret(value: str) -> None:
    """Django validator for a SIRET."""
    normalize_siret(value)


def validate_siren(value: str) -> None:
    """Django validator for a SIREN."""
    normalize_siren(value)


def validate_finess(value: str) -> None:
    """Django validator for a FINESS number."""
    normalize_finess(value)


def validate_rpps(value: str) -> None:
    """Django validator for an RPPS number (or its 8-prefixed national identifier)."""
    normalize_rpps(value)


def validate_iban(value: str) -> None:
    """Django validator for an IBAN."""
    normalize_iban(value)


def validate_bic(value: str) -> None:
    """Django validator for a BIC."""
    normalize_bic(value)


IDENTIFIER_VALIDATORS: dict[str, Callable[[str], str]] = {
    "siret": normalize_siret,
    "siren": normalize_siren,
    "finess": normalize_finess,
    "rpps": normalize_rpps,
    "iban": normalize_iban,
    "bic": normalize_bic,
}
