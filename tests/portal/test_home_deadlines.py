"""Issue 14 on the vendor's home page (SONS.md « Calendar and deadlines »): a deadline whose
source gives a day and no hour is shown « (fin de journée) »; a kind without a published
deadline is « non publiée » and nothing is enforced for it."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalogue.deadlines import PARIS, end_of_day_paris
from catalogue.models import Deadline, Dispositif, Tariff
from catalogue.rules import TariffKind
from tests.portal.conftest import vendor_order, vendor_referencing
from tests.responses import text

pytestmark = pytest.mark.django_db


def test_the_home_page_shows_end_of_day_and_non_publiee(staff_client, vendor, staff):
    referencing = vendor_referencing(vendor, staff)
    day = (timezone.now() + dt.timedelta(days=20)).astimezone(PARIS).date()
    Deadline.objects.filter(version__dispositif=referencing.dispositif, kind="orders").update(
        at=end_of_day_paris(day), hour_sourced=False
    )
    Deadline.objects.filter(version__dispositif=referencing.dispositif, kind="firm_date").delete()
    vendor_order(vendor, staff, referencing=referencing, signed=False)
    call_command("load_dispositifs", verbosity=0)
    dui = Dispositif.objects.get(code="ESMS-DUI-PA-PH-DOM-V1")
    Tariff.objects.create(dispositif=dui, kind=TariffKind.FLAT, flat_cents=50000)  # test's own
    vendor_order(vendor, staff, referencing=vendor_referencing(vendor, staff, dui), signed=False)
    page = text(staff_client.get("/portail/"))
    assert f"{day:%d/%m/%Y} (fin de journée)" in page
    assert "non publiée" in page
    assert "Rien ne s'applique tant que la date n'est pas publiée." in page
    assert "Aucune échéance connue" not in page
