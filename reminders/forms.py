from django import forms

from .models import Preference


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = Preference
        fields = ("vendor_deadlines", "admin_at_risk", "daily_digest")
