import django.db.models.deletion
import django_fsm
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def each_position_its_conflicts_window(apps, schema_editor):
    """Positions recorded before each had its own deadline answered within their conflict's."""
    ConflictPosition = apps.get_model("sons", "ConflictPosition")
    ClientConflict = apps.get_model("sons", "ClientConflict")
    ConflictPosition.objects.update(
        respond_by=Subquery(
            ClientConflict.objects.filter(pk=OuterRef("conflict_id")).values("respond_by")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sons", "0007_completion_notice"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="clientconflict",
            name="conflict_one_open_per_client_dispositif",
        ),
        migrations.AddField(
            model_name="clientconflict",
            name="chosen_order",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="sons.purchaseorder",
                verbose_name="commande désignée pour le financement",
            ),
        ),
        migrations.AddField(
            model_name="clientconflict",
            name="decision_reason",
            field=models.TextField(blank=True, verbose_name="motif de la décision"),
        ),
        migrations.AddField(
            model_name="conflictposition",
            name="respond_by",
            field=models.DateTimeField(null=True, verbose_name="réponse attendue avant le"),
        ),
        migrations.RunPython(each_position_its_conflicts_window, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="conflictposition",
            name="respond_by",
            field=models.DateTimeField(verbose_name="réponse attendue avant le"),
        ),
        migrations.AlterField(
            model_name="clientconflict",
            name="status",
            field=django_fsm.FSMField(
                choices=[
                    ("open", "En cours"),
                    ("awaiting_decision", "En attente de décision"),
                    ("settled", "Réglé"),
                    ("expired", "Délai échu"),
                    ("decided", "Tranché par l'administration (ASP)"),
                ],
                default="open",
                max_length=24,
                protected=True,
                verbose_name="état",
            ),
        ),
        migrations.AddConstraint(
            model_name="clientconflict",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["open", "awaiting_decision"])),
                fields=("client", "dispositif"),
                name="conflict_one_unresolved_per_client_dispositif",
            ),
        ),
    ]
