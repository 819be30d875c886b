"""Admin template helpers (templates/admin/submit_line.html)."""

from django import template

register = template.Library()


@register.simple_tag
def anything_to_save(adminform, inline_admin_formsets=None) -> bool:
    """Whether the change page has a field one may change: a visible field of its form, or of
    an inline's rows (or of a new inline row one may add). A page whose fields are all read-only
    (rows only services write) has nothing to save, so it shows no « Enregistrer » button."""
    if adminform is None:
        return True
    if any(not field.is_hidden for field in adminform.form):
        return True
    for inline in inline_admin_formsets or ():
        formset = inline.formset
        forms = list(formset.forms)
        if inline.has_add_permission:
            forms.append(formset.empty_form)
        if any(form.visible_fields() for form in forms):
            return True
    return False
