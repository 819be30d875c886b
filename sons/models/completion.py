"""The vendor's notice to the ASP that its prestation is complete (« notification d'achèvement
de la prestation »).

By the end of réalisation the vendor must have filed its demande de solde or notified the ASP of
the completion of its prestation; the client's checks and the VA may follow, the solde being due
by the end of soldes (SONS.md, « End of réalisation, exactly »: seed 003, COSUI of 5 April 2023).
One notice per order, given once, never changed: it is the vendor's act, journaled, and it goes
to the ASP in a filing of its own kind (payments). Who may give it and when is declared in
`sons.acts.NOTIFY_COMPLETION`; the command is `sons.services.completion.notify_completions`.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .order import PurchaseOrder


class CompletionNotice(models.Model):
    order = models.OneToOneField(
        PurchaseOrder,
        on_delete=models.PROTECT,
        related_name="completion_notice",
        verbose_name=_("BDC"),
    )
    notified_at = models.DateTimeField(_("notifiée le"), db_index=True)
    notified_by = models.CharField(_("notifiée par"), max_length=255)
    statement = models.TextField(_("déclaration d'achèvement"))

    class Meta:
        verbose_name = _("notification d'achèvement de la prestation")
        verbose_name_plural = _("notifications d'achèvement de la prestation")

    def __str__(self) -> str:
        return _("Achèvement notifié – %(reference)s") % {"reference": self.order.reference}
