"""A person's choice of reminders: which ones, and whether as a single daily digest."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from .forms import PreferenceForm
from .models import Preference


@login_required
def preferences(request):
    # Read, not created: a person's row is written when they save the form (a GET only reads).
    preference = Preference.objects.filter(user=request.user).first() or Preference(
        user=request.user
    )
    form = PreferenceForm(request.POST or None, instance=preference)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Vos préférences de rappel sont enregistrées."))
        return redirect("reminders:preferences")
    return render(request, "web/reminders/preferences.html", {"form": form})
