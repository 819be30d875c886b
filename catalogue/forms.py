"""Forms asking what a transition needs (admin and, later, the portal)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .deadlines import PARIS, end_of_day_paris, paris_instant
from .models import Deadline


class ReferenceForm(forms.Form):
    ans_number = forms.CharField(label=_("Numéro de référencement ANS"), max_length=64)
    referenced_on = forms.DateField(
        label=_("Date du référencement"), widget=forms.DateInput(attrs={"type": "date"})
    )


class RejectForm(forms.Form):
    reasons = forms.CharField(label=_("Motifs du refus"), widget=forms.Textarea)


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Motif du retrait"), widget=forms.Textarea)


class PublishCalendarVersionForm(forms.Form):
    published_on = forms.DateField(
        label=_("Date de publication au JORF"), widget=forms.DateInput(attrs={"type": "date"})
    )
    in_force_on = forms.DateField(
        label=_("Appliqué à partir du (si le texte en dispose autrement)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Vide : à partir du jour de la publication, 0 h (heure de Paris)."),
    )
    nor = forms.CharField(label=_("NOR"), max_length=20, required=False)


class DeadlineForm(forms.ModelForm):
    """A deadline as its source gives it: a day, and an hour only when the source gives one
    (none: the end of that day, 24:00 Paris). The instant and the flag are derived from them."""

    day = forms.DateField(label=_("Jour"), widget=forms.DateInput(attrs={"type": "date"}))
    hour = forms.TimeField(
        label=_("Heure (Paris)"),
        required=False,
        help_text=_("Vide quand la source ne donne pas d'heure : fin de journée (24 h)."),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    class Meta:
        model = Deadline
        fields = ["kind"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        deadline = self.instance
        if deadline.pk and deadline.at:
            self.initial["day"] = deadline.day
            if deadline.hour_sourced:
                self.initial["hour"] = deadline.at.astimezone(PARIS).time()

    def save(self, commit=True):
        day, hour = self.cleaned_data["day"], self.cleaned_data.get("hour")
        self.instance.hour_sourced = hour is not None
        self.instance.at = paris_instant(day, hour) if hour is not None else end_of_day_paris(day)
        return super().save(commit=commit)
