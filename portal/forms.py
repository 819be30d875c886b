"""Forms of the vendor portal: what each page asks, in French, with labels for every field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import PARIS
from catalogue.models import VendorMember
from core.commands import ItemsRefused
from core.errors import RuleViolation
from core.money import euros_to_cents
from portal import uploads
from sons.forms import (
    SignOrderForm,  # noqa: F401 - the portal asks what the admin asks
)
from sons.models import OrderStatus

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def add_refusal(form: forms.Form, exc: RuleViolation, fields: dict[str, str] | None = None) -> None:
    """A service's refusal under the form's fields (`fields` maps the service's field names to
    the form's), with the rule's code; what names no field of the form goes above it."""
    errors = exc.errors if isinstance(exc, ItemsRefused) else [exc]
    for error in errors:
        name = (fields or {}).get(error.field, error.field)
        form.add_error(
            name if name in form.fields else None,
            forms.ValidationError(error.message, code=error.code),
        )


def paris_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=PARIS)


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Identifiant (adresse de courriel)"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class AdminLoginForm(AdminAuthenticationForm):
    """The administration's sign-in, counted and locked like the portal's (portal.services.
    signin): per username and address, per address, per account."""

    def clean(self):
        from portal.access import client_ip
        from portal.services import signin

        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request is not None else None
        at = timezone.now()
        lock = signin.lock_of(username=username, ip=ip, at=at)
        if lock is not None:
            raise forms.ValidationError(signin.lock_message(lock), code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            lock = signin.record_failure(username=username, ip=ip, at=at)
            if lock is not None:
                raise forms.ValidationError(signin.lock_message(lock), code="locked") from None
            raise
        if self.get_user() is not None:
            signin.clear_failures(username=username, ip=ip)
        return cleaned


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code à 6 chiffres de votre application d'authentification"),
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9 ]*",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split())


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(label=_("Adresse de courriel de votre compte"))


class OrderFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Recherche (BDC, client, RPPS, FINESS, SIRET, votre référence)"), required=False
    )
    dispositif = forms.ModelChoiceField(
        label=_("Dispositif"), queryset=None, required=False, empty_label=_("Tous")
    )
    status = forms.ChoiceField(
        label=_("État"), choices=[("", _("Tous")), *OrderStatus.choices], required=False
    )
    client = forms.CharField(label=_("Client"), required=False)
    date_field = forms.ChoiceField(
        label=_("Date de"),
        choices=[("signed_at", _("signature")), ("created_at", _("création"))],
        required=False,
    )
    date_from = forms.DateField(label=_("Du"), required=False, widget=DATE)
    date_until = forms.DateField(label=_("Au (inclus)"), required=False, widget=DATE)

    def __init__(self, *args, dispositifs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dispositif"].queryset = dispositifs
        self.fields["dispositif"].to_field_name = "code"

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "q": data.get("q") or "",
            "dispositif": data.get("dispositif"),
            "status": data.get("status") or "",
            "client": data.get("client") or "",
            "date_field": data.get("date_field") or "signed_at",
            "date_from": paris_start(data["date_from"]) if data.get("date_from") else None,
            "date_until": paris_start(data["date_until"] + dt.timedelta(days=1))
            if data.get("date_until")
            else None,
        }


def checked_upload(upload, max_bytes: int, check=None):
    """The uploaded file once its size and, with `check(name, content)`, its content hold;
    the refusal under the field otherwise (portal/uploads.py)."""
    try:
        uploads.check_size(upload.size, max_bytes)
        if check is not None:
            upload.seek(0)
            check(upload.name, upload.read())
    except uploads.UploadRefused as refusal:
        raise forms.ValidationError(refusal.message, code=refusal.code) from None
    finally:
        upload.seek(0)
    return upload


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier des BDC (CSV séparé par « ; », ou XLSX)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt"}),
    )

    def clean_file(self):
        max_bytes = getattr(settings, "PORTAL_BULK_MAX_BYTES", 10 * 1024 * 1024)
        return checked_upload(self.cleaned_data["file"], max_bytes, uploads.check_upload)


class FirmDateForm(forms.Form):
    firm_date = forms.DateField(label=_("Date ferme de réalisation"), widget=DATE)


class IssueVaForm(forms.Form):
    delivered_summary = forms.CharField(
        label=_("Prestation réalisée (ce que le client vérifie)"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class MomForm(forms.Form):
    statement = forms.CharField(
        label=_("Déclaration de mise en ordre de marche"), widget=forms.Textarea(attrs={"rows": 3})
    )


class CompletionForm(forms.Form):
    """The notice of completion (« notification d'achèvement de la prestation »)."""

    statement = forms.CharField(
        label=_("Déclaration d'achèvement (facultative)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
        help_text=_(
            "À notifier avant la fin de réalisation : la VA du client peut suivre, le solde "
            "reste à déposer avant la fin des demandes de solde."
        ),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Motif"), widget=forms.Textarea(attrs={"rows": 3}))


class SwornStatementForm(forms.Form):
    sworn_statement = forms.CharField(
        label=_("Déclaration sur l'honneur"), widget=forms.Textarea(attrs={"rows": 3})
    )
    client_renunciation = forms.CharField(
        label=_("Renonciation du client (le cas échéant)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )


class ConflictNoteForm(forms.Form):
    note = forms.CharField(
        label=_("Votre réponse (déclaration sur l'honneur pour un retrait)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )


class InvoiceForm(forms.Form):
    number = forms.CharField(label=_("Numéro de facture"), max_length=64)
    date = forms.DateField(label=_("Date de facture"), widget=DATE)
    amount = forms.CharField(
        label=_("Montant TTC de la facture (€)"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text=_("Par exemple 1 800,00"),
    )
    pdf = forms.FileField(
        label=_("Facture (PDF)"), widget=forms.ClearableFileInput(attrs={"accept": ".pdf"})
    )

    def clean_pdf(self):
        max_bytes = getattr(settings, "PORTAL_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
        return checked_upload(
            self.cleaned_data["pdf"], max_bytes, lambda _name, content: uploads.check_pdf(content)
        )

    def clean_amount(self) -> int:
        """« 1 800,00 », « 1800.00 », « 1 800 € »: euros with at most two decimals, in cents."""
        text = "".join(self.cleaned_data["amount"].replace("€", "").split()).replace(",", ".")
        try:
            euros = Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError(
                _("Saisissez un montant en euros, par exemple 1 800,00.")
            ) from None
        if not euros.is_finite() or euros < 0 or euros.as_tuple().exponent < -2:
            raise forms.ValidationError(_("Un montant positif, au centime près."))
        return euros_to_cents(euros)


class BuildFilingForm(forms.Form):
    dispositif = forms.IntegerField(widget=forms.HiddenInput)
    kind = forms.CharField(widget=forms.HiddenInput)


class FeedbackForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier de retour de l'ASP (JSON)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )

    def clean_file(self):
        max_bytes = getattr(settings, "PORTAL_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
        return checked_upload(self.cleaned_data["file"], max_bytes)


class InviteForm(forms.Form):
    first_name = forms.CharField(label=_("Prénom"), max_length=150)
    last_name = forms.CharField(label=_("Nom"), max_length=150)
    email = forms.EmailField(label=_("Adresse de courriel (sert d'identifiant)"))
    role = forms.ChoiceField(label=_("Rôle"), choices=VendorMember.Role.choices)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Rôle"), choices=VendorMember.Role.choices)


# -- one client, one BDC: the same commands as the files and the API ---------------------------

CONTACT_LABELS = {
    "address": _("Adresse"),
    "postal_code": _("Code postal"),
    "city": _("Commune"),
    "email": _("Courriel du signataire (reçoit les liens de signature du BDC)"),
    "mssante_address": _("Adresse MSSanté (nommée par la VA et la MOM)"),
}


class ClientContactForm(forms.Form):
    """The vendor's own record of a client: what `save_clients` corrects on an item with `id`."""

    address = forms.CharField(label=CONTACT_LABELS["address"], max_length=255, required=False)
    postal_code = forms.CharField(
        label=CONTACT_LABELS["postal_code"],
        max_length=5,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "postal-code"}),
    )
    city = forms.CharField(label=CONTACT_LABELS["city"], max_length=128, required=False)
    email = forms.CharField(
        label=CONTACT_LABELS["email"],
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    mssante_address = forms.CharField(
        label=CONTACT_LABELS["mssante_address"],
        max_length=254,
        required=False,
        widget=forms.EmailInput(),
        help_text=_("Par exemple prenom.nom@medecin.mssante.fr"),
    )

    def item(self) -> dict:
        return {name: self.cleaned_data[name].strip() for name in CONTACT_LABELS}


class ClientForm(ClientContactForm):
    """A new client: its public identity and the vendor's record of it (`save_clients`)."""

    field_order = ["kind", "legal_name", "rpps", "finess", "siret", "siren"]

    kind = forms.ChoiceField(label=_("Nature du client"), choices=())
    legal_name = forms.CharField(label=_("Nom ou raison sociale"), max_length=255)
    rpps = forms.CharField(
        label=_("RPPS (professionnel de santé, 11 chiffres)"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    finess = forms.CharField(
        label=_("FINESS (structure, 9 caractères)"), max_length=20, required=False
    )
    siret = forms.CharField(
        label=_("SIRET (14 chiffres)"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    siren = forms.CharField(
        label=_("SIREN (9 chiffres)"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args, **kwargs):
        from sons.models.client import ClientKind

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("Choisissez")), *ClientKind.choices]

    def item(self) -> dict:
        identity = ("kind", "legal_name", "rpps", "finess", "siret", "siren")
        return {**{n: self.cleaned_data[n].strip() for n in identity}, **super().item()}


class OrderCorrectionForm(forms.Form):
    """What a draft BDC may still change (`save_orders` on an item with `id`)."""

    installation_scenario = forms.CharField(
        label=_("Scénario d'installation du profil référencé"), max_length=255
    )
    vendor_reference = forms.CharField(
        label=_("Votre référence (facultative)"), max_length=64, required=False
    )

    def item(self) -> dict:
        return {
            "installation_scenario": self.cleaned_data["installation_scenario"].strip(),
            "vendor_reference": self.cleaned_data["vendor_reference"].strip(),
        }


class OrderForm(OrderCorrectionForm):
    """A new draft BDC for one of the vendor's clients (`save_orders`)."""

    field_order = ["client", "dispositif", "prestation_variant", "solution_version"]

    client = forms.TypedChoiceField(label=_("Client"), coerce=int, choices=())
    dispositif = forms.ChoiceField(label=_("Dispositif"), choices=())
    prestation_variant = forms.ChoiceField(
        label=_("Prestation"),
        required=False,
        choices=(),
        help_text=_(
            "Seulement pour une offre à plusieurs prestations (HOP vague 2) ; l'éligibilité "
            "est vérifiée à l'enregistrement."
        ),
    )
    solution_version = forms.TypedChoiceField(
        label=_("Solution et version"), coerce=int, choices=()
    )

    def __init__(self, *args, clients, dispositifs, versions, **kwargs):
        super().__init__(*args, **kwargs)
        choose = ("", _("Choisissez"))
        self.fields["client"].choices = [
            choose,
            *((r.client_id, str(r.client)) for r in clients),
        ]
        self.fields["dispositif"].choices = [choose, *((d.code, str(d)) for d in dispositifs)]
        # The prestations of the dispositifs that offer several, grouped by dispositif (the
        # command checks that the one chosen belongs to the BDC's dispositif).
        self.fields["prestation_variant"].choices = [
            ("", _("La prestation unique du dispositif")),
            *(
                (d.code, [(v["code"], v.get("label") or v["code"]) for v in d.prestation_variants])
                for d in dispositifs
                if d.prestation_variants
            ),
        ]
        self.fields["solution_version"].choices = [
            choose,
            *((v.pk, f"{v.solution.name} {v.version}") for v in versions),
        ]

    def item(self) -> dict:
        return {
            "client": self.cleaned_data["client"],
            "dispositif": self.cleaned_data["dispositif"],
            "solution_version": self.cleaned_data["solution_version"],
            "prestation_variant": self.cleaned_data["prestation_variant"],
            **super().item(),
        }
