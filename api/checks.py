"""Deployment check: webhooks to loopback are for the tests and the embedded mode only."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def webhooks_to_loopback_refused(app_configs=None, **kwargs):
    if not getattr(settings, "API_WEBHOOK_ALLOW_LOOPBACK", False) or settings.DEBUG:
        return []
    return [
        Warning(
            "API_WEBHOOK_ALLOW_LOOPBACK est activé avec DEBUG désactivé : un abonnement webhook "
            "peut viser cette machine (127.0.0.1, ::1), en HTTP clair.",
            hint="Ne pas définir API_WEBHOOK_ALLOW_LOOPBACK en production.",
            id="api.W001",
        )
    ]
