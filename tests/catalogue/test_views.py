"""The public page of referenced solutions, as a visitor sees it."""

import pytest

from catalogue import services
from catalogue.models import Couloir
from tests.factories import DispositifFactory, referencing_in_state

pytestmark = pytest.mark.django_db


def make_referencing(dispositif, user, *, final="referenced", number="ANS-1"):
    return referencing_in_state(final, actor=user, dispositif=dispositif, ans_number=number)


def test_lists_referenced_solutions_grouped_by_vague_and_couloir(client, admin_user):
    lgc = DispositifFactory(vague=1, couloir=Couloir.MEDECINS_DE_VILLE)
    drimbox = DispositifFactory(vague=2, couloir=Couloir.IMAGERIE)
    ref1 = make_referencing(lgc, admin_user, number="ANS-LGC-1")
    ref2 = make_referencing(drimbox, admin_user, number="ANS-IMG-2")
    pending = make_referencing(lgc, admin_user, final="under_review")

    page = client.get("/referencements/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<html lang="fr">' in html
    assert "Vague 1 – Médecins de ville" in html
    assert "Vague 2 – Imagerie" in html
    assert html.index("Vague 1") < html.index("Vague 2")
    assert ref1.solution_version.solution.name in html
    assert "ANS-LGC-1" in html and "ANS-IMG-2" in html
    assert "01/07/2022" in html
    assert ref2.solution_version.solution.editor.name in html
    assert pending.solution_version.solution.name not in html
    assert "2 versions de solution référencées" in html


def test_withdrawn_referencing_leaves_the_list(client, admin_user):
    ref = make_referencing(DispositifFactory(), admin_user)
    services.withdraw_referencing(referencing=ref, actor=admin_user, reason="Retrait")
    html = client.get("/referencements/").content.decode()
    assert ref.solution_version.solution.name not in html
    assert "Aucune solution n'est référencée" in html


def test_home_redirects_to_the_list(client):
    assert client.get("/").url == "/referencements/"


def test_page_is_readable_on_a_phone(client):
    html = client.get("/referencements/").content.decode()
    assert 'name="viewport"' in html
    assert 'href="#contenu"' in html  # skip link for keyboard users
