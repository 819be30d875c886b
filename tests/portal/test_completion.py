"""The notice of completion in the portal: the order page's action and a file of notices
(SONS.md « End of réalisation, exactly », COSUI of 5 April 2023)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.models import BulkImport
from sons.models import CompletionNotice
from tests.portal.conftest import vendor_order
from tests.responses import text

pytestmark = pytest.mark.django_db


def test_the_order_page_offers_the_notice_and_then_shows_it(staff_client, vendor, staff):
    order = vendor_order(vendor, staff)
    page = staff_client.get(f"/portail/bdc/{order.pk}/")
    (action,) = [a for a in page.context["actions"] if a.key == "notify_completion"]
    assert action.enabled and action.label == "Notifier l'achèvement à l'ASP"
    response = staff_client.post(
        f"/portail/bdc/{order.pk}/actions/notify_completion/",
        {"notify_completion-statement": "Installée et paramétrée."},
        follow=True,
    )
    assert "Achèvement de la prestation notifié" in text(response)
    assert CompletionNotice.objects.get(order=order).statement == "Installée et paramétrée."
    page = staff_client.get(f"/portail/bdc/{order.pk}/")
    (action,) = [a for a in page.context["actions"] if a.key == "notify_completion"]
    assert not action.enabled
    assert "notifié à l'ASP le" in text(page)


def test_a_file_of_notices_is_checked_then_confirmed_all_or_nothing(staff_client, vendor, staff):
    orders = [vendor_order(vendor, staff) for _ in range(2)]
    content = "bdc;declaration_achevement\n" + "".join(
        f"{o.reference};Prestation achevée.\n" for o in orders
    )
    staff_client.post(
        "/portail/imports/",
        {"file": SimpleUploadedFile("achevements.csv", content.encode())},
    )
    bulk = BulkImport.objects.latest("pk")
    assert bulk.status == "valid", bulk.errors
    assert bulk.planned["completion_notified"] == 2
    assert not CompletionNotice.objects.exists()  # checked by a dry run only
    staff_client.post(f"/portail/imports/{bulk.pk}/confirmer/")
    bulk.refresh_from_db()
    assert bulk.status == "done", bulk.errors
    assert set(CompletionNotice.objects.values_list("order_id", flat=True)) == {
        o.pk for o in orders
    }


def test_the_order_page_follows_the_notice_to_the_asp_and_back(
    staff_client, vendor, staff, django_capture_on_commit_callbacks
):
    """Given, the notice waits for a filing; deposited, it waits for the ASP; refused, the page
    says why and that the next « achèvement » filing carries it again."""
    import json

    from payments.services import filings
    from sons.services.completion import notify_completions
    from tests.payments.factories import deposit_completions

    order = vendor_order(vendor, staff)
    notify_completions(
        vendor=vendor, items=[{"order": order, "statement": "Installée."}], actor=staff
    )
    page = text(staff_client.get(f"/portail/bdc/{order.pk}/"))
    assert "Pas encore déposé : il part dans votre prochain dépôt « achèvement »" in page

    filing = deposit_completions(order, staff, django_capture_on_commit_callbacks, None)
    page = text(staff_client.get(f"/portail/bdc/{order.pk}/"))
    assert f"(dépôt {filing.name}), sans réponse de l'ASP à ce jour" in page

    answer = {
        "schema_version": "1.0",
        "issued_at": "2026-01-05T10:00:00+01:00",
        "items": [
            {
                "filing": filing.name,
                "line_number": 1,
                "decision": "rejetee",
                "reason": "Date d'installation absente",
            }
        ],
    }
    filings.import_feedback(
        content=json.dumps(answer).encode(), file_name="retour.json", actor=staff
    )
    page = text(staff_client.get(f"/portail/bdc/{order.pk}/"))
    assert "Refusé par l'ASP le" in page
    assert "Motif : Date d'installation absente." in page
    assert "Il est repris dans votre prochain dépôt « achèvement »." in page


def test_the_order_page_says_when_the_asp_accepted_the_notice(
    staff_client, vendor, staff, django_capture_on_commit_callbacks
):
    import json

    from payments.services import filings
    from sons.services.completion import notify_completions
    from tests.payments.factories import deposit_completions

    order = vendor_order(vendor, staff)
    notify_completions(
        vendor=vendor, items=[{"order": order, "statement": "Installée."}], actor=staff
    )
    filing = deposit_completions(order, staff, django_capture_on_commit_callbacks, None)
    answer = {
        "schema_version": "1.0",
        "issued_at": "2026-01-05T10:00:00+01:00",
        "items": [{"filing": filing.name, "line_number": 1, "decision": "validee"}],
    }
    filings.import_feedback(
        content=json.dumps(answer).encode(), file_name="retour.json", actor=staff
    )
    page = text(staff_client.get(f"/portail/bdc/{order.pk}/"))
    assert f"(dépôt {filing.name})." in page and "Accepté par l'ASP le" in page
    assert "Refusé par l'ASP" not in page
