"""Deployment checks of the seal (docs/signing.md, « Configuring the seal »).

- A configured seal (PEM, PKCS#12 or PKCS#11) needs trust anchors to be validated against:
  without SIGNING_TRUST_ROOTS_FILE no document could ever be reported as trusted.
- Without a timestamp authority, a production seal says nothing trustworthy about when it was
  made and stops validating the day its certificate expires.
- Without a configured seal, each machine generates its own self-signed demo seal under its
  local MEDIA_ROOT/seal/. On one machine that is the embedded default; with a shared object
  storage (several machines), documents would be sealed by different certificates and the
  published certificate would depend on the machine answering.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from core.storage import is_local

from .conf import seal_source


@register(Tags.security)
def configured_seal_has_trust_roots(app_configs=None, **kwargs):
    if seal_source() == "demo" or settings.SIGNING_TRUST_ROOTS_FILE:
        return []
    return [
        Error(
            "Cachet configuré sans autorités de confiance : aucun document scellé ne pourrait "
            "être vérifié.",
            hint="Définir SIGNING_TRUST_ROOTS_FILE (PEM : la racine de la chaîne du cachet et "
            "celle de l'autorité d'horodatage).",
            id="signing.E001",
        )
    ]


@register(Tags.security, deploy=True)
def configured_seal_is_timestamped(app_configs=None, **kwargs):
    if seal_source() == "demo" or settings.SIGNING_TSA_URL:
        return []
    return [
        Warning(
            "Cachet sans horodatage : sa date n'est que celle déclarée par le serveur et il "
            "cessera d'être valide à l'expiration du certificat.",
            hint="Définir SIGNING_TSA_URL (autorité d'horodatage RFC 3161).",
            id="signing.W002",
        )
    ]


@register(Tags.security, deploy=True)
def seal_shared_by_every_machine(app_configs=None, **kwargs):
    if is_local(settings.STORAGES["default"]):
        return []
    if seal_source() != "demo":
        return []
    return [
        Warning(
            "Stockage partagé (plusieurs machines) mais pas de certificat de cachet configuré : "
            "chaque machine générerait son propre cachet auto-signé.",
            hint="Configurer le cachet (SIGNING_SEAL_CERT_FILE et SIGNING_SEAL_KEY_FILE, "
            "SIGNING_SEAL_PKCS12_FILE ou SIGNING_SEAL_PKCS11_MODULE), le même sur chaque machine.",
            id="signing.W001",
        )
    ]
