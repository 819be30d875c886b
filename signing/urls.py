from django.urls import path

from . import verification, views

app_name = "signing"

urlpatterns = [
    path("pro-sante-connect/retour/", views.psc_callback, name="psc_callback"),
    path("certificat-du-cachet.pem", views.seal_certificate, name="seal_certificate"),
    path("verifier/", verification.verify, name="verify_seal"),
    path("<str:token>/", views.open_link, name="open"),
    path("<str:token>/pro-sante-connect/", views.psc_start, name="psc_start"),
    path("<str:token>/document/", views.document, name="document"),
    path("<str:token>/document.pdf", views.document_pdf, name="document_pdf"),
    path("<str:token>/signer/", views.sign, name="sign"),
    path("<str:token>/refuser/", views.refuse, name="refuse"),
    path("<str:token>/confirmation/", views.done, name="done"),
    path("<str:token>/document-signe.pdf", views.signed_pdf, name="signed_pdf"),
]
