"""Acceptance: the VA issued, signed or refused by the client (with its documents), its versions,
and the MOM the vendor declares where the dispositif allows it."""

import hashlib
import io
import re

import pytest
from pypdf import PdfReader

from core.errors import RuleViolation, TransitionRefused
from core.models import JournalEntry
from sons.models import MomDeclaration, VaDecision, VaStatus, VerificationAptitude
from sons.services import acceptance as services
from sons.services.acceptance import DEFAULT_VA_STATEMENTS, Signer
from tests.sons.factories import (
    ClientFactory,
    at_paris,
    draft_order,
    lgc_dispositif,
    referenced,
    signed_order,
    valid_rpps,
)

pytestmark = pytest.mark.django_db

ON_STATEMENTS = [
    "Le médecin peut produire une ordonnance numérique avec la solution.",
    "Le médecin peut consulter une ordonnance numérique avec la solution.",
]
SUMMARY = "Mise à jour 2.3 installée et paramétrée ; deux utilisateurs formés (1 h)."
ISSUED_AT = at_paris(2023, 3, 1, 9, 0)
DECIDED_AT = at_paris(2023, 3, 6, 16, 42, 7)
SIGNER = Signer(
    name="Dr Marie Curie",
    role="Médecin titulaire",
    identity_method="pro_sante_connect",
    rpps=valid_rpps(424242),
    ip_address="203.0.113.7",
    user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def order_for(user, *, client=None, **dispositif):
    ref = referenced(dispositif=lgc_dispositif(**dispositif), actor=user)
    return signed_order(referencing=ref, actor=user, client=client)


@pytest.fixture
def order(admin_user):
    return order_for(admin_user)


def new_va(order, user):
    return services.create_va(order=order, delivered_summary=SUMMARY, actor=user)


def issued(va, user, capture, *, at=ISSUED_AT):
    """Issues the VA and runs what follows the commit: the VA document is rendered."""
    with capture(execute=True):
        services.issue_va(va=va, actor=user, at=at)
    va.refresh_from_db()
    return va


def text(pdf: bytes, page: int | None = None) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    chosen = pages if page is None else [pages[page]]
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in chosen))


def file_bytes(field) -> bytes:
    with field.open("rb") as handle:
        return handle.read()


def va_state(va):
    va.refresh_from_db()
    return (
        va.status,
        va.statements,
        va.mssante_address,
        va.issued_at,
        va.pdf_sha256,
        va.signed_pdf_sha256,
        VaDecision.objects.filter(va=va).count(),
        JournalEntry.objects.for_object(va).count(),
    )


# --- Creating and issuing a VA ----------------------------------------------------------------


def test_create_va_opens_version_1_as_a_draft(order, admin_user):
    va = new_va(order, admin_user)
    va.refresh_from_db()
    assert (va.version, va.status, va.delivered_summary) == (1, VaStatus.DRAFT, SUMMARY)
    assert va.statements == [] and va.mssante_address == "" and va.issued_at is None
    entry = JournalEntry.objects.for_object(va).get()
    assert (entry.transition, entry.target_state) == ("create", "draft")
    assert entry.snapshot["version"] == 1


def test_issuing_freezes_the_dispositif_statements_and_the_mssante_address(
    admin_user, django_capture_on_commit_callbacks
):
    client = ClientFactory(mssante_address="dr.curie@medecin.mssante.fr")
    order = order_for(admin_user, client=client, acceptance_statements=ON_STATEMENTS)
    va = issued(new_va(order, admin_user), admin_user, django_capture_on_commit_callbacks)

    assert va.status == VaStatus.ISSUED
    assert va.issued_at == ISSUED_AT
    assert va.statements == ON_STATEMENTS
    assert va.mssante_address == "dr.curie@medecin.mssante.fr"
    # The document was rendered after the commit, and its hash is the one of the stored file.
    pdf = file_bytes(va.pdf)
    assert va.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
    shown = text(pdf)
    assert "dr.curie@medecin.mssante.fr" in shown
    assert all(s in shown for s in ON_STATEMENTS)
    assert order.reference in shown
    entry = JournalEntry.objects.for_object(va).order_by("sequence").last()
    assert (entry.transition, entry.source_state, entry.target_state) == (
        "issue",
        "draft",
        "issued",
    )
    assert entry.snapshot["statements"] == ON_STATEMENTS

    # Later changes to the catalogue or the client do not rewrite what was issued.
    order.dispositif.acceptance_statements = ["Autre chose."]
    order.dispositif.save()
    client.mssante_address = "nouvelle@medecin.mssante.fr"
    client.save()
    va.refresh_from_db()
    assert va.statements == ON_STATEMENTS
    assert va.mssante_address == "dr.curie@medecin.mssante.fr"


def test_a_dispositif_without_statements_gets_the_default_ones(
    order, admin_user, django_capture_on_commit_callbacks
):
    assert order.dispositif.acceptance_statements == []
    va = issued(new_va(order, admin_user), admin_user, django_capture_on_commit_callbacks)
    assert va.statements == DEFAULT_VA_STATEMENTS
    assert len(va.statements) == 2
    shown = text(file_bytes(va.pdf))
    assert all(s in shown for s in DEFAULT_VA_STATEMENTS)


def test_issuing_for_a_client_without_mssante_address_is_refused(
    admin_user, django_capture_on_commit_callbacks
):
    order = order_for(admin_user, client=ClientFactory(mssante_address=""))
    va = new_va(order, admin_user)
    before = va_state(va)
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuleViolation) as exc,
    ):
        services.issue_va(va=va, actor=admin_user, at=ISSUED_AT)
    assert exc.value.code == "mssante_address_required"
    assert exc.value.field == "mssante_address"
    assert callbacks == []  # no document rendered for a refused issue
    assert va_state(va) == before
    assert before[0] == VaStatus.DRAFT


def test_issuing_twice_is_refused(order, admin_user, django_capture_on_commit_callbacks):
    va = issued(new_va(order, admin_user), admin_user, django_capture_on_commit_callbacks)
    before = va_state(va)
    with pytest.raises(TransitionRefused) as exc:
        services.issue_va(va=va, actor=admin_user)
    assert exc.value.code == "transition_not_allowed"
    assert va_state(va) == before


def test_create_va_refusals(admin_user):
    draft = draft_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=admin_user), actor=admin_user
    )
    with pytest.raises(RuleViolation) as exc:
        new_va(draft, admin_user)
    assert exc.value.code == "order_not_signed"

    order = order_for(admin_user)
    with pytest.raises(RuleViolation) as exc:
        services.create_va(order=order, delivered_summary="  ", actor=admin_user)
    assert exc.value.code == "delivered_summary_required"
    assert VerificationAptitude.objects.count() == 0


def test_create_va_is_refused_where_the_dispositif_asks_for_a_mom(admin_user):
    order = order_for(admin_user, acceptance="mom")
    journal = JournalEntry.objects.count()
    with pytest.raises(RuleViolation) as exc:
        new_va(order, admin_user)
    assert exc.value.code == "va_not_applicable"
    assert order.dispositif.code in exc.value.message
    assert VerificationAptitude.objects.filter(order=order).count() == 0
    assert JournalEntry.objects.count() == journal


# --- Signing -----------------------------------------------------------------------------------


@pytest.fixture
def issued_va(order, admin_user, django_capture_on_commit_callbacks):
    va = issued(new_va(order, admin_user), admin_user, django_capture_on_commit_callbacks)
    assert va.pdf_sha256
    return va


def test_signing_records_the_decision_and_produces_the_signed_document(
    issued_va, admin_user, django_capture_on_commit_callbacks
):
    va = issued_va
    original = file_bytes(va.pdf)
    with django_capture_on_commit_callbacks(execute=True):
        returned = services.sign_va(
            va=va,
            signer=SIGNER,
            confirmed=list(va.statements),
            document_sha256=va.pdf_sha256,
            non_blocking_reserves="  L'impression des ordonnances est lente.  ",
            at=DECIDED_AT,
        )
    assert returned.status == VaStatus.SIGNED
    va.refresh_from_db()
    assert va.status == VaStatus.SIGNED

    decision = VaDecision.objects.get(va=va)
    assert decision.outcome == VaDecision.Outcome.SIGNED
    assert decision.decided_at == DECIDED_AT
    assert (decision.signer_name, decision.signer_role, decision.signer_rpps) == (
        "Dr Marie Curie",
        "Médecin titulaire",
        SIGNER.rpps,
    )
    assert decision.identity_method == "pro_sante_connect"
    assert decision.ip_address == "203.0.113.7"
    assert decision.user_agent == SIGNER.user_agent
    assert decision.statements_confirmed == list(va.statements)
    assert decision.document_sha256 == va.pdf_sha256
    assert decision.non_blocking_reserves == "L'impression des ordonnances est lente."
    assert decision.blocking_reserves == ""

    entry = JournalEntry.objects.for_object(va).order_by("sequence").last()
    assert (entry.transition, entry.target_state) == ("sign", "signed")
    assert entry.actor_label == "client:Dr Marie Curie"
    assert entry.snapshot["document_sha256"] == va.pdf_sha256

    # After the commit: the signed document, the original plus one decision page.
    assert va.signed_pdf_sha256
    signed = file_bytes(va.signed_pdf)
    assert hashlib.sha256(signed).hexdigest() == va.signed_pdf_sha256
    assert signed.startswith(original)
    original_pages = len(PdfReader(io.BytesIO(original)).pages)
    assert len(PdfReader(io.BytesIO(signed)).pages) == original_pages + 1
    last_page = text(signed, page=-1)
    assert "Dr Marie Curie" in last_page
    assert va.pdf_sha256 in re.sub(r"\s", "", last_page)
    assert "L'impression des ordonnances est lente." in last_page


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"document_sha256": "0" * 64}, "va_document_changed"),
        ({"confirmed": "all_but_last"}, "statements_not_confirmed"),
        ({"signer": Signer(name="  ", role="Médecin", identity_method="cps")}, "signer_required"),
        ({"signer": Signer(name="Dr Curie", role="", identity_method="cps")}, "signer_required"),
    ],
    ids=["wrong-hash", "missing-statement", "no-signer-name", "no-signer-role"],
)
def test_signing_refusals_leave_the_va_as_it_was(
    issued_va, django_capture_on_commit_callbacks, change, code
):
    va = issued_va
    kwargs = {
        "signer": SIGNER,
        "confirmed": list(va.statements),
        "document_sha256": va.pdf_sha256,
        "at": DECIDED_AT,
    }
    kwargs.update(change)
    if kwargs["confirmed"] == "all_but_last":
        kwargs["confirmed"] = list(va.statements)[:-1]
    before = va_state(va)
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuleViolation) as exc,
    ):
        services.sign_va(va=va, **kwargs)
    assert exc.value.code == code
    if code == "statements_not_confirmed":
        assert va.statements[-1] in exc.value.message
    assert callbacks == []
    assert va_state(va) == before
    assert before[0] == VaStatus.ISSUED and before[6] == 0
    assert VaDecision.objects.count() == 0


def test_signing_a_draft_is_refused(order, admin_user):
    va = new_va(order, admin_user)
    before = va_state(va)
    with pytest.raises(TransitionRefused) as exc:
        services.sign_va(
            va=va, signer=SIGNER, confirmed=list(DEFAULT_VA_STATEMENTS), document_sha256=""
        )
    assert exc.value.code == "transition_not_allowed"
    assert va_state(va) == before
    assert VaDecision.objects.count() == 0


def test_signing_before_the_document_is_rendered_is_refused(order, admin_user):
    va = new_va(order, admin_user)
    services.issue_va(va=va, actor=admin_user)  # the commit, hence the rendering, never comes
    before = va_state(va)
    with pytest.raises(RuleViolation) as exc:
        services.sign_va(va=va, signer=SIGNER, confirmed=list(va.statements), document_sha256="")
    assert exc.value.code == "va_document_not_ready"
    assert va_state(va) == before


def test_a_signed_va_cannot_be_refused_afterwards(issued_va, django_capture_on_commit_callbacks):
    va = issued_va
    with django_capture_on_commit_callbacks(execute=True):
        services.sign_va(
            va=va, signer=SIGNER, confirmed=list(va.statements), document_sha256=va.pdf_sha256
        )
    before = va_state(va)
    with pytest.raises(TransitionRefused) as exc:
        services.refuse_va(
            va=va, signer=SIGNER, blocking_reserves="Rien ne marche", document_sha256=va.pdf_sha256
        )
    assert exc.value.code == "transition_not_allowed"
    assert va_state(va) == before


# --- Refusal with blocking reserves, and the next version -----------------------------------


def test_refusal_needs_blocking_reserves(issued_va):
    va = issued_va
    before = va_state(va)
    with pytest.raises(RuleViolation) as exc:
        services.refuse_va(
            va=va, signer=SIGNER, blocking_reserves="  ", document_sha256=va.pdf_sha256
        )
    assert exc.value.code == "blocking_reserves_required"
    assert va_state(va) == before


def test_refusal_then_a_second_version_keeps_both(
    issued_va, order, admin_user, django_capture_on_commit_callbacks
):
    v1 = issued_va
    with django_capture_on_commit_callbacks(execute=True):
        services.refuse_va(
            va=v1,
            signer=SIGNER,
            blocking_reserves="  L'ordonnance numérique ne part pas.  ",
            document_sha256=v1.pdf_sha256,
            at=DECIDED_AT,
        )
    v1.refresh_from_db()
    assert v1.status == VaStatus.REFUSED
    decision = VaDecision.objects.get(va=v1)
    assert decision.outcome == VaDecision.Outcome.REFUSED
    assert decision.blocking_reserves == "L'ordonnance numérique ne part pas."
    assert decision.signer_name == "Dr Marie Curie"
    assert v1.signed_pdf_sha256  # the refusal is documented too
    assert "L'ordonnance numérique ne part pas." in text(file_bytes(v1.signed_pdf), page=-1)

    v2 = services.create_va(
        order=order, delivered_summary="Correctif 2.3.1 installé.", actor=admin_user
    )
    assert (v2.version, v2.status) == (2, VaStatus.DRAFT)
    assert list(
        VerificationAptitude.objects.filter(order=order)
        .order_by("version")
        .values_list("version", "status")
    ) == [(1, VaStatus.REFUSED), (2, VaStatus.DRAFT)]
    v1.refresh_from_db()
    assert v1.decision.outcome == VaDecision.Outcome.REFUSED
    assert not VaDecision.objects.filter(va=v2).exists()

    # While v2 is live, no third version.
    journal = JournalEntry.objects.count()
    with pytest.raises(RuleViolation) as exc:
        new_va(order, admin_user)
    assert exc.value.code == "va_already_open"
    assert "version 2" in exc.value.message
    assert VerificationAptitude.objects.filter(order=order).count() == 2
    assert JournalEntry.objects.count() == journal


def test_a_second_version_is_refused_while_the_first_is_signed(
    issued_va, order, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.sign_va(
            va=issued_va,
            signer=SIGNER,
            confirmed=list(issued_va.statements),
            document_sha256=issued_va.pdf_sha256,
        )
    with pytest.raises(RuleViolation) as exc:
        new_va(order, admin_user)
    assert exc.value.code == "va_already_open"
    assert VerificationAptitude.objects.filter(order=order).count() == 1


# --- MOM ------------------------------------------------------------------------------------


MOM_STATEMENT = "Le logiciel est installé, paramétré et en ordre de marche."
VENDOR_SIGNER = Signer(
    name="Jeanne Éditrice", role="Directrice des déploiements", identity_method="compte_portail"
)


@pytest.mark.parametrize("acceptance", ["mom", "va_or_mom"])
def test_declare_mom_where_the_dispositif_accepts_it(admin_user, acceptance):
    client = ClientFactory(mssante_address="cabinet@medecin.mssante.fr")
    order = order_for(admin_user, client=client, acceptance=acceptance)
    declared_at = at_paris(2023, 4, 3, 11, 0)
    mom = services.declare_mom(
        order=order,
        signer=VENDOR_SIGNER,
        statement=f"  {MOM_STATEMENT}  ",
        actor=admin_user,
        at=declared_at,
    )
    mom.refresh_from_db()
    assert mom.order == order
    assert mom.mssante_address == "cabinet@medecin.mssante.fr"
    assert (mom.signer_name, mom.signer_role) == (
        "Jeanne Éditrice",
        "Directrice des déploiements",
    )
    assert mom.identity_method == "compte_portail"
    assert mom.statement == MOM_STATEMENT
    assert mom.declared_at == declared_at
    entry = JournalEntry.objects.for_object(mom).get()
    assert (entry.transition, entry.target_state) == ("declare", "declared")
    assert entry.actor_label == admin_user.get_username()
    assert entry.snapshot["signer"]["name"] == "Jeanne Éditrice"


def _mom_refused(order, user, *, signer=VENDOR_SIGNER, statement=MOM_STATEMENT):
    count, journal = MomDeclaration.objects.count(), JournalEntry.objects.count()
    with pytest.raises(RuleViolation) as exc:
        services.declare_mom(order=order, signer=signer, statement=statement, actor=user)
    assert (MomDeclaration.objects.count(), JournalEntry.objects.count()) == (count, journal)
    return exc.value


def test_declare_mom_is_refused_where_the_dispositif_requires_a_va(admin_user):
    order = order_for(admin_user, acceptance="va")
    error = _mom_refused(order, admin_user)
    assert error.code == "mom_not_applicable"
    assert order.dispositif.code in error.message


def test_declare_mom_is_refused_twice(admin_user):
    order = order_for(admin_user, acceptance="mom")
    first = services.declare_mom(
        order=order, signer=VENDOR_SIGNER, statement=MOM_STATEMENT, actor=admin_user
    )
    error = _mom_refused(order, admin_user)
    assert error.code == "mom_already_declared"
    assert list(MomDeclaration.objects.values_list("pk", flat=True)) == [first.pk]


def test_declare_mom_is_refused_without_mssante_address(admin_user):
    order = order_for(admin_user, client=ClientFactory(mssante_address=""), acceptance="mom")
    error = _mom_refused(order, admin_user)
    assert error.code == "mssante_address_required"
    assert error.field == "mssante_address"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"signer": Signer(name="", role="Gérant", identity_method="x")}, "signer_required"),
        ({"statement": "   "}, "mom_statement_required"),
    ],
    ids=["no-signer", "no-statement"],
)
def test_declare_mom_other_refusals(admin_user, kwargs, code):
    order = order_for(admin_user, acceptance="mom")
    assert _mom_refused(order, admin_user, **kwargs).code == code


def test_declare_mom_on_a_draft_order_is_refused(admin_user):
    ref = referenced(dispositif=lgc_dispositif(acceptance="mom"), actor=admin_user)
    order = draft_order(referencing=ref, actor=admin_user)
    assert _mom_refused(order, admin_user).code == "order_not_signed"


def test_a_va_cannot_be_issued_or_signed_once_the_order_is_cancelled(
    order, admin_user, django_capture_on_commit_callbacks
):
    from sons.services.orders import cancel_order

    va = issued(new_va(order, admin_user), admin_user, django_capture_on_commit_callbacks)
    cancel_order(order=order, actor=admin_user, sworn_statement="Renonciation du client.")
    before = va_state(va)
    with pytest.raises(RuleViolation) as exc:
        services.sign_va(
            va=va,
            signer=SIGNER,
            confirmed=list(va.statements),
            document_sha256=va.pdf_sha256,
            at=DECIDED_AT,
        )
    assert exc.value.code == "order_not_signed"
    assert va_state(va) == before


def test_va_and_mom_exclude_each_other(admin_user, django_capture_on_commit_callbacks):
    order = order_for(admin_user, acceptance="va_or_mom")
    services.declare_mom(
        order=order,
        signer=SIGNER,
        statement="Logiciel en ordre de marche.",
        actor=admin_user,
        at=ISSUED_AT,
    )
    with pytest.raises(RuleViolation) as exc:
        new_va(order, admin_user)
    assert exc.value.code == "acceptance_already_given"
