"""The public seal-verification page: anyone uploads a VA or BDC PDF and reads, in French, what
the seal guarantees (validated against this server's trust anchors, never against the leaf)."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from . import pades
from .seal_report import report_lines

MAX_BYTES = 20 * 1024 * 1024


class SealedFileForm(forms.Form):
    document = forms.FileField(
        label="Document PDF à vérifier",
        help_text="La VA ou le bon de commande signé, tel que reçu (20 Mo au plus).",
    )

    def clean_document(self):
        upload = self.cleaned_data["document"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError("Fichier trop volumineux : 20 Mo au plus.")
        content = upload.read()
        if not content.startswith(b"%PDF"):
            raise forms.ValidationError("Ce fichier n'est pas un PDF.")
        return content


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    form = SealedFileForm(request.POST or None, request.FILES or None)
    check = None
    if request.method == "POST" and form.is_valid():
        check = pades.check_seal(form.cleaned_data["document"])
    return render(
        request,
        "web/signing/verify.html",
        {
            "form": form,
            "check": check,
            "lines": report_lines(check) if check and check.sealed else [],
            "certificate_url": reverse("signing:seal_certificate"),
        },
    )
