"""A vendor administrator manages its people: invite, role, deactivate, reset a second factor."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import RuleViolation
from portal import forms, selectors
from portal.access import has_second_factor, portal_page
from portal.services import members as member_services
from portal.services import signin

from .common import refused


@portal_page(admin_only=True)
@require_http_methods(["GET", "POST"])
def member_list(request):
    form = forms.InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = member_services.invite_member(
                vendor=request.vendor,
                actor=request.user,
                base_url=request.build_absolute_uri("/"),
                **form.cleaned_data,
            )
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                _("Invitation envoyée à %(email)s.") % {"email": member.user.email},
            )
            return redirect("portal:members")
    members = list(selectors.vendor_members(request.vendor))
    for member in members:
        member.second_factor = has_second_factor(member.user)
    return render(request, "web/portal/members.html", {"form": form, "members": members})


@portal_page(admin_only=True)
@require_POST
def member_update(request, pk: int, step: str):
    member = selectors.member_of(request.vendor, pk)
    try:
        if step == "role":
            form = forms.RoleForm(request.POST)
            if form.is_valid():
                member_services.change_role(
                    member=member, role=form.cleaned_data["role"], actor=request.user
                )
                messages.success(request, _("Rôle modifié."))
        elif step == "desactiver":
            member_services.deactivate_member(member=member, actor=request.user)
            messages.success(request, _("Compte désactivé."))
        elif step == "reactiver":
            member_services.reactivate_member(member=member, actor=request.user)
            messages.success(request, _("Compte réactivé."))
        elif step == "double-authentification":
            signin.reset_second_factor(member=member, actor=request.user)
            messages.success(
                request,
                _("Double authentification réinitialisée : la personne l'activera de nouveau."),
            )
    except RuleViolation as exc:
        refused(request, exc)
    return redirect("portal:members")
