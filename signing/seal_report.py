"""A seal check told in French, line by line: the same words on the command and the page."""

from __future__ import annotations

from core.clock import format_paris

from .pades import SealCheck


def yes_no(value: bool) -> str:
    return "oui" if value else "NON"


def report_lines(check: SealCheck) -> list[tuple[str, str]]:
    if check.signed_at is None:
        when = "inconnue"
    else:
        source = (
            "selon l'horodatage"
            if check.timestamped
            else "déclarée par le serveur, sans horodatage"
        )
        when = f"{format_paris(check.signed_at, seconds=True)} (heure de Paris), {source}"
    lines = [
        ("Certificat du cachet", check.signer),
        ("Émis par", check.issuer),
        ("Date du cachet", when),
        ("Horodatage", "oui" if check.timestamped else "non"),
        ("Données de validation long terme", "oui" if check.long_term else "non"),
        ("Portée", check.coverage),
        ("Modifications après le cachet", check.modifications),
        ("Intact", yes_no(check.intact)),
        ("Chaîne de confiance", "valide" if check.trusted else "NON"),
        ("Rien d'ajouté après le cachet", yes_no(check.whole_file)),
    ]
    if check.demo:
        lines.append(
            (
                "Nature",
                "cachet de démonstration (certificat auto-signé de cette instance, sans "
                "horodatage) : il ne prouve rien hors de ce serveur",
            )
        )
    return lines
