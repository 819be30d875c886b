"""The forms of the signing pages (rendered by hand in the templates, for their labels and
error messages; the rules themselves live in the services)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .tokens import CODE_DIGITS

RESERVES_MAX = 4000


class CodeForm(forms.Form):
    """The code as typed: checked for its six digits here, so a typo costs no attempt."""

    code = forms.CharField(
        label=_("Code reçu par courriel"),
        max_length=20,
        error_messages={"required": _("Saisissez le code à 6 chiffres reçu par courriel.")},
    )

    def clean_code(self) -> str:
        # Spaces are forgiven (« 123 456 », a paste with a trailing space), as the service does.
        code = "".join(self.cleaned_data["code"].split())
        if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
            raise forms.ValidationError(
                _(
                    "Le code compte exactement 6 chiffres (vous en avez saisi %(count)s) : "
                    "recopiez-le depuis le courriel reçu. Cet essai n'est pas décompté."
                ),
                code="code_format",
                params={"count": sum(ch.isdigit() for ch in code)},
            )
        return code


class SignerFields(forms.Form):
    signer_name = forms.CharField(
        label=_("Votre nom"),
        max_length=255,
        error_messages={"required": _("Indiquez votre nom : il figure sur le document signé.")},
    )
    signer_role = forms.CharField(
        label=_("Votre qualité"),
        max_length=128,
        error_messages={"required": _("Indiquez votre qualité (médecin titulaire, directeur…).")},
    )
    document_sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)


class VaSignForm(SignerFields):
    non_blocking_reserves = forms.CharField(
        label=_("Réserves non bloquantes (facultatif)"),
        required=False,
        max_length=RESERVES_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, statements: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.statements = list(statements)
        for index, statement in enumerate(self.statements):
            self.fields[f"statement_{index}"] = forms.BooleanField(
                label=statement,
                required=True,
                error_messages={"required": _("Cochez cette attestation pour signer.")},
            )

    def statement_fields(self):
        return [self[f"statement_{i}"] for i in range(len(self.statements))]

    def confirmed(self) -> list[str]:
        return [
            statement
            for index, statement in enumerate(self.statements)
            if self.cleaned_data.get(f"statement_{index}")
        ]


class VaRefuseForm(SignerFields):
    blocking_reserves = forms.CharField(
        label=_("Réserves bloquantes"),
        max_length=RESERVES_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": _(
                "Décrivez ce qui ne fonctionne pas : c'est ce que le fournisseur corrige."
            )
        },
    )


class BdcSignForm(SignerFields):
    accepted = forms.BooleanField(
        label=_(
            "Je commande la prestation Ségur décrite dans ce bon de commande, dont le montant est "
            "pris en charge par l'État."
        ),
        error_messages={"required": _("Cochez cette case pour signer le bon de commande.")},
    )
