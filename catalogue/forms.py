"""Forms asking what a transition needs (admin and, later, the portal)."""

from django import forms
from django.utils.translation import gettext_lazy as _


class ReferenceForm(forms.Form):
    ans_number = forms.CharField(label=_("Numéro de référencement ANS"), max_length=64)
    referenced_on = forms.DateField(
        label=_("Date du référencement"), widget=forms.DateInput(attrs={"type": "date"})
    )


class RejectForm(forms.Form):
    reasons = forms.CharField(label=_("Motifs du refus"), widget=forms.Textarea)


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Motif du retrait"), widget=forms.Textarea)
