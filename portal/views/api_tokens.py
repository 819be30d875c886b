"""The token page of the vendor portal (/portail/jetons/): issue a token (shown once), see and
revoke the vendor's tokens. A signed-in vendor member only, second factor as the portal wants.
The tokens themselves are the API's (api/tokens.py): the portal, above it, shows them."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from api import tokens
from core.errors import RuleViolation
from portal.access import portal_page

FLASH_KEY = "api_token_issued"


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Nom du jeton"),
        max_length=100,
        help_text=gettext_lazy("L'outil qui l'utilise, ex. « CRM production »."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"] = forms.IntegerField(
            label=gettext_lazy("Durée de validité (jours)"),
            min_value=1,
            max_value=tokens.max_days(),
            initial=tokens.default_days(),
            help_text=gettext_lazy("Le jeton cesse de fonctionner au bout de cette durée."),
        )


def _state(token, now) -> str:
    if token.revoked_at is not None:
        return _("révoqué")
    if token.expires_at <= now:
        return _("expiré")
    return _("actif")


@never_cache
@require_http_methods(["GET", "POST"])
@portal_page
def token_list(request):
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = tokens.issue_token(
                user=request.user,
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
            )
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            # Shown on the next page only, then gone: the secret is never stored.
            request.session[FLASH_KEY] = {"secret": issued.secret, "id": issued.token.pk}
            return redirect("api_tokens:list")
    issued = request.session.pop(FLASH_KEY, None)
    now = timezone.now()
    rows = [
        {"token": t, "state": _state(t, now), "usable": t.is_usable(now)}
        for t in tokens.tokens_visible_to(request.user).order_by("-created_at")
    ]
    return render(
        request,
        "web/api/tokens.html",
        {"form": form, "rows": rows, "issued": issued, "member": request.member},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@portal_page
def token_revoke(request, pk: int):
    token = tokens.tokens_visible_to(request.user).filter(pk=pk).first()
    if token is None:
        raise Http404
    tokens.revoke_token(token=token, by=request.user)
    messages.success(request, _("Le jeton « %(name)s » est révoqué.") % {"name": token.name})
    return redirect("api_tokens:list")
