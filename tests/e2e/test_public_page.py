import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_public_list_of_referenced_solutions_reads_on_a_phone(phone_page, live_server):
    call_command("load_dispositifs", verbosity=0)
    phone_page.goto(f"{live_server.url}/referencements/")
    assert phone_page.locator("html").get_attribute("lang") == "fr"
    assert "référencées" in phone_page.locator("h1").inner_text().lower()
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375
