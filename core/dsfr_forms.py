"""Forms drawn with the State's design system (DSFR).

django-dsfr's `DsfrBaseForm` gives every field the DSFR classes (fr-input, fr-select...) and
renders fields with its snippets (`{{ form }}`, `{{ form.field.as_field_group }}`), but its
`get_context` warns at every rendering (a transitional setting, then a deprecation) and the suite
treats warnings as errors. `DsfrForm` and `DsfrModelForm` render the same, without the warning
(required fields keep django-dsfr's « * » marker, its current default).
"""

from __future__ import annotations

from django import forms
from dsfr.forms import DsfrBaseForm


class _QuietContext:
    def get_context(self):
        context = forms.BaseForm.get_context(self)
        context["DSFR_MARK_OPTIONAL_FIELDS"] = False
        return context


class DsfrForm(_QuietContext, DsfrBaseForm):
    pass


class DsfrModelForm(_QuietContext, DsfrBaseForm, forms.ModelForm):
    pass
