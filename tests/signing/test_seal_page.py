"""The public verification page with the demo seal: anyone uploads a PDF and reads, in French,
what its seal guarantees; the demo seal says it is one."""

import re

from django.core.files.uploadedfile import SimpleUploadedFile

from signing import pades
from tests.signing.helpers import html
from tests.signing.test_pades import a_pdf

URL = "/signature/verifier/"


def text_of(page) -> str:
    """The page as read: the tags dropped, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(page)))


def upload(client, content: bytes, name: str = "va-signee.pdf"):
    return client.post(URL, {"document": SimpleUploadedFile(name, content)})


def test_the_page_offers_an_upload_form(client, db):
    page = client.get(URL)
    assert page.status_code == 200
    text = text_of(page)
    assert "Vérifier le cachet d'un document" in text
    assert 'type="file"' in page.content.decode()
    assert "Résultat" not in text


def test_a_demo_seal_is_intact_and_labelled_as_a_demo(client, db):
    page = upload(client, pades.seal_pdf(a_pdf("Accepted"), reason="Essai"))
    text = text_of(page)
    assert "Document intact, scellé par ce serveur (cachet de démonstration)." in text
    assert "Nature cachet de démonstration" in text
    assert "Horodatage non" in text and "sans horodatage" in text
    assert "Portée tout le fichier" in text
    assert "Modifications après le cachet aucune" in text


def test_an_altered_document_and_an_unsealed_one_are_reported(client, db):
    sealed = pades.seal_pdf(a_pdf("Accepted"), reason="Essai")
    text = text_of(upload(client, sealed.replace(b"(Accepted)", b"(Rejected)", 1)))
    assert "Le cachet ne garantit pas ce document" in text
    assert "le contenu a été modifié depuis l'apposition du cachet" in text
    assert "Intact NON" in text

    text = text_of(upload(client, sealed + b"\n% ajout\n"))
    assert "des modifications ont été ajoutées au fichier après le cachet" in text

    assert "aucun cachet électronique" in text_of(upload(client, a_pdf()))


def test_a_file_that_is_not_a_pdf_is_refused(client, db):
    page = upload(client, b"bonjour", name="note.txt")
    assert page.status_code == 200
    assert "Ce fichier n'est pas un PDF." in text_of(page)
    assert "Résultat" not in text_of(page)
