"""Deployment check: the seal on several machines.

Without SIGNING_SEAL_CERT_FILE and SIGNING_SEAL_KEY_FILE, each machine generates its own
self-signed seal under its local MEDIA_ROOT/seal/. On one machine that is the embedded default;
with a shared object storage (several machines), documents would be sealed by different
certificates and the published certificate would depend on the machine answering.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register

from core.storage import is_local


@register(Tags.security, deploy=True)
def seal_shared_by_every_machine(app_configs=None, **kwargs):
    if is_local(settings.STORAGES["default"]):
        return []
    if settings.SIGNING_SEAL_CERT_FILE and settings.SIGNING_SEAL_KEY_FILE:
        return []
    return [
        Warning(
            "Stockage partagé (plusieurs machines) mais pas de certificat de cachet configuré : "
            "chaque machine générerait son propre cachet auto-signé.",
            hint="Définir SIGNING_SEAL_CERT_FILE et SIGNING_SEAL_KEY_FILE, les mêmes fichiers "
            "sur chaque machine.",
            id="signing.W001",
        )
    ]
