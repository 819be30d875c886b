"""Forms asking what a lifecycle transition needs (the admin's, and the portal's where they ask
the same)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import PARIS
from sons.models import SignatureMethod

# A date and time typed as Paris wall-clock time (the browser's own picker).
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class SignOrderForm(forms.Form):
    """A client's signature the vendor or an administrator records (a paper BDC, a scan): the
    item of the signatures command (`sons.services.orders.record_signatures`)."""

    signatory_name = forms.CharField(label=_("Signataire (client)"), max_length=255)
    signatory_role = forms.CharField(label=_("Qualité du signataire"), max_length=128)
    method = forms.ChoiceField(label=_("Mode de signature"), choices=SignatureMethod.choices)
    signed_at = forms.DateTimeField(
        label=_("Signé le (heure de Paris)"), widget=DATETIME, input_formats=["%Y-%m-%dT%H:%M"]
    )

    def clean_signed_at(self):
        # The browser sends Paris wall-clock time, whatever the server's zone.
        value = self.cleaned_data["signed_at"]
        return value.replace(tzinfo=None).replace(tzinfo=PARIS)


class CancelOrderForm(forms.Form):
    sworn_statement = forms.CharField(
        label=_("Déclaration sur l'honneur"), widget=forms.Textarea, required=False
    )
    client_renunciation = forms.CharField(
        label=_("Renonciation du client (le cas échéant)"), widget=forms.Textarea, required=False
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Motif"), widget=forms.Textarea)


class RecordVaDecisionForm(forms.Form):
    """An administrator records the client's decision on a paper VA."""

    signer_name = forms.CharField(label=_("Nom du signataire"), max_length=255)
    signer_role = forms.CharField(label=_("Qualité"), max_length=128)
    signer_rpps = forms.CharField(label=_("RPPS"), max_length=12, required=False)
    reserves = forms.CharField(label=_("Réserves"), widget=forms.Textarea, required=False)
    all_statements_confirmed = forms.BooleanField(
        label=_("Le client a coché chacune des attestations"), required=False
    )


class PilotsForm(forms.Form):
    pilots = forms.CharField(
        label=_("Pilotes, un par ligne : nom ; medecin ou pharmacien ; RPPS"),
        widget=forms.Textarea,
    )

    def clean_pilots(self):
        rows = []
        for line in self.cleaned_data["pilots"].splitlines():
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split(";")]
            if len(parts) != 3:
                raise forms.ValidationError(
                    _("Ligne « %(line)s » : trois champs séparés par « ; » attendus."),
                    params={"line": line},
                )
            rows.append({"name": parts[0], "role": parts[1], "rpps": parts[2]})
        return rows


class ConflictDecisionForm(forms.Form):
    """The administration's decision on a conflict where more than one vendor kept its order."""

    chosen_order = forms.CharField(
        label=_("BDC financé"),
        max_length=32,
        help_text=_(
            "Référence du BDC retenu (ex. BDC-00000012), l'une des commandes maintenues "
            "listées sur la page du conflit ; les autres sont écartées (annulées)."
        ),
    )
    reason = forms.CharField(
        label=_("Motif de la décision"),
        widget=forms.Textarea,
        required=False,  # the rule says it is required, with its own code (one judge)
        help_text=_("Communiqué à chaque fournisseur concerné et inscrit au journal."),
    )
