"""Each vendor sees only its own: every page, action and export that names an object answers
404 to a person of another vendor, and changes nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalogue.models import VendorMember
from core.models import JournalEntry
from payments.models import ClaimKind
from payments.services import claims, filings
from portal.services.imports import upload_import
from sons.services import acceptance
from tests.payments.factories import invoice_pdf
from tests.portal.conftest import make_member, sign_in, vendor_order
from tests.responses import downloaded

pytestmark = pytest.mark.django_db

GET_URLS = [
    "/portail/bdc/{order}/",
    "/portail/bdc/{order}/bdc.pdf",
    "/portail/va/{va}/va.pdf",
    "/portail/va/{va}/va-signee.pdf",
    "/portail/demandes/{claim}/",
    "/portail/demandes/{claim}/facture.pdf",
    "/portail/depots/{filing}/",
    "/portail/depots/{filing}/fichier.json",
    "/portail/depots/{filing}/pieces.zip",
    "/portail/imports/{bulk}/",
    "/portail/imports/{bulk}/progression.json",
    "/portail/imports/{bulk}/erreurs.csv",
    "/portail/imports/{bulk}/fichier",
    "/portail/bdc/{order}/modifier/",
    "/portail/clients/{client}/modifier/",
]
ORDER_ACTIONS = [
    "sign",
    "send_order_link",
    "schedule",
    "deployment_start",
    "deployment_install",
    "deployment_verify",
    "issue_va",
    "issue_draft_va",
    "resend_va",
    "mom",
    "claim_avance",
    "claim_solde",
    "claim_secondaire",
    "conflict_keep",
    "conflict_withdraw",
    "cancel",
    "declare_default",
]
POST_URLS = [
    *[f"/portail/bdc/{{order}}/actions/{action}/" for action in ORDER_ACTIONS],
    "/portail/bdc/{order}/modifier/",
    "/portail/clients/{client}/modifier/",
    "/portail/demandes/ouvrir/{order}/avance/",
    "/portail/demandes/ouvrir/{order}/solde/",
    "/portail/demandes/ouvrir/{order}/secondaire/",
    "/portail/demandes/{claim}/facture/",
    "/portail/demandes/{claim}/prete/",
    "/portail/demandes/{claim}/reprendre/",
    "/portail/demandes/{claim}/annuler/",
    "/portail/va/{va}/renvoyer/",
    "/portail/depots/{filing}/transmettre/",
    "/portail/depots/constituer/",
    "/portail/imports/{bulk}/confirmer/",
    "/portail/utilisateurs/{member}/role/",
    "/portail/utilisateurs/{member}/desactiver/",
    "/portail/utilisateurs/{member}/reactiver/",
    "/portail/utilisateurs/{member}/double-authentification/",
]


def world(vendor, user, *, render=None):
    """One of each object a portal URL names, for `vendor`. With `render` (the on-commit
    capture), documents are rendered as the tasks would."""
    from contextlib import nullcontext

    capture = (lambda: render(execute=True)) if render else nullcontext
    with capture():
        order = vendor_order(vendor, user, pdf=render is not None)
        va = acceptance.create_va(order=order, delivered_summary="Livré", actor=user)
        acceptance.issue_va(va=va, actor=user)
    claim = claims.make_ready(
        claim=claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=user), actor=user
    )
    with capture():
        (filing,) = filings.build_filings(
            vendor=vendor, dispositif=order.dispositif, kind=ClaimKind.AVANCE, actor=user
        )
    solde_order = vendor_order(vendor, user)
    solde = claims.open_claim(order=solde_order, kind=ClaimKind.SOLDE, actor=user)
    claims.attach_invoice(
        claim=solde,
        number="F-1",
        date=order.signed_at.date(),
        amount_ttc_cents=solde_order.amount_ttc_cents,
        pdf=invoice_pdf(),
        actor=user,
    )
    bulk = upload_import(vendor=vendor, user=user, file_name="bdc.csv", content=b"dispositif\n")
    member = make_member(vendor).vendor_membership
    return {
        "order": order.pk,
        "va": va.pk,
        "claim": solde.pk,
        "avance": claim.pk,
        "filing": filing.pk,
        "bulk": bulk.pk,
        "member": member.pk,
        "dispositif": order.dispositif_id,
        "client": order.client_id,
    }


@pytest.fixture
def theirs(other_vendor):
    owner = make_member(other_vendor, role=VendorMember.Role.ADMIN)
    return world(other_vendor, owner)


@pytest.fixture
def admin_client(client, vendor_admin):
    """A vendor administrator of vendor A: the people pages are open to them."""
    return sign_in(client, vendor_admin)


@pytest.mark.parametrize("url", GET_URLS)
def test_another_vendors_object_is_not_found(admin_client, theirs, url):
    assert admin_client.get(url.format(**theirs)).status_code == 404


@pytest.mark.parametrize("url", POST_URLS)
def test_another_vendors_object_cannot_be_acted_on(admin_client, theirs, url):
    entries = JournalEntry.objects.count()
    data = {"dispositif": theirs["dispositif"], "kind": "avance", "role": "staff"}
    assert admin_client.post(url.format(**theirs), data).status_code == 404
    assert JournalEntry.objects.count() == entries


def test_the_same_pages_open_for_their_own_vendor(
    client, other_vendor, django_capture_on_commit_callbacks
):
    """The control: the 404 above is the scoping, not a wrong address."""
    owner = make_member(other_vendor, role=VendorMember.Role.ADMIN)
    objects = world(other_vendor, owner, render=django_capture_on_commit_callbacks)
    sign_in(client, owner)
    for url in GET_URLS:
        path = url.format(**objects)
        response = client.get(path)
        if path.endswith("va-signee.pdf"):
            assert response.status_code == 404, path  # the VA is not signed yet
        elif response.streaming:
            downloaded(response)
        else:
            assert response.status_code == 200, path


def test_lists_and_exports_never_show_another_vendors_rows(admin_client, theirs, other_vendor):
    from sons.models import PurchaseOrder

    their_orders = [o.reference for o in PurchaseOrder.objects.filter(vendor=other_vendor)]
    pages = [
        "/portail/",
        "/portail/bdc/",
        "/portail/va/",
        "/portail/demandes/",
        "/portail/imports/",
        "/portail/utilisateurs/",
    ]
    for page in pages:
        body = admin_client.get(page).content.decode()
        assert not any(ref in body for ref in their_orders), page
        assert other_vendor.name not in body, page
    export = b"".join(admin_client.get("/portail/bdc/export.csv").streaming_content).decode()
    assert not any(ref in export for ref in their_orders)
    their_import = f"/portail/imports/{theirs['bulk']}/"
    assert their_import not in admin_client.get("/portail/imports/").content.decode()


def test_a_feedback_upload_names_only_the_vendors_own_filings(admin_client, theirs):
    from payments.models import AspFiling

    name = AspFiling.objects.get(pk=theirs["filing"]).name
    content = (
        '{"schema_version": "1.0", "issued_at": "2026-11-20T10:00:00+01:00", "items": '
        f'[{{"filing": "{name}", "line_number": 1, "decision": "validee"}}]}}'
    ).encode()
    response = admin_client.post(
        "/portail/retours-asp/", {"file": SimpleUploadedFile("r.json", content)}
    )
    assert response.status_code == 400


def test_anonymous_visitors_are_sent_to_the_sign_in(client, theirs):
    for url in GET_URLS:
        response = client.get(url.format(**theirs))
        assert response.status_code == 302
        assert response["Location"].startswith("/portail/connexion/?next=")
