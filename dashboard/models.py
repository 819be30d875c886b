"""The dashboard's tally: counts kept by the database as the rows they count are written.

See `dashboard.tally` for what is counted, how it is kept and how it is read.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.models import Dispositif


class Tally(models.Model):
    """One change of a count: `n` rows (negative: rows gone or moved away) of a subject (the
    orders, the claims, the deployments) in a state, under a dispositif, counted from the
    Paris week `week_1`, their events (`dashboard.tally.Counted.events`) in the weeks
    `week_2`, `week_3`, with the sums of their amounts. Written only by the database's
    triggers, folded together by `dashboard.tally.compact`; a count is the sum of the changes
    of its key."""

    # No foreign key constraint: a dispositif's tally goes with it (a trigger), and SQLite's
    # flush of a test database deletes the tables in no set order.
    dispositif = models.ForeignKey(
        Dispositif,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("dispositif"),
    )
    subject = models.CharField(_("objet compté"), max_length=16)
    status = models.CharField(_("état"), max_length=16)
    week_1 = models.DateField(_("semaine 1"), null=True)
    week_2 = models.DateField(_("semaine 2"), null=True)
    week_3 = models.DateField(_("semaine 3"), null=True)
    n = models.BigIntegerField(_("nombre"))
    amount_1 = models.BigIntegerField(_("montant 1 (centimes)"), null=True)
    amount_2 = models.BigIntegerField(_("montant 2 (centimes)"), null=True)

    class Meta:
        verbose_name = _("décompte du tableau de bord")
        verbose_name_plural = _("décomptes du tableau de bord")
        indexes = [models.Index(fields=["dispositif", "subject"], name="tally_by_dispositif")]

    def __str__(self) -> str:
        return f"{self.subject} {self.status} {self.n:+d}"
