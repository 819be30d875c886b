"""Rows for the document tests, built directly (no services): rendering reads rows, nothing more.

States are passed to the constructors (`status=`): these tests check what a document shows for a
state, not how the state is reached.
"""

import datetime as dt
from decimal import Decimal

import factory

from catalogue.deadlines import PARIS
from catalogue.models import Referencing, ReferencingStatus
from sons.models import (
    Client,
    ClientKind,
    ClientRelationship,
    OrderStatus,
    PurchaseOrder,
    SignatureMethod,
    VaDecision,
    VaStatus,
    VerificationAptitude,
)
from tests.factories import DispositifFactory, SolutionVersionFactory, valid_siret
from tests.sons.factories import KeepsContact, record_for, valid_finess, valid_rpps

SIGNED_AT = dt.datetime(2024, 3, 1, 10, 30, tzinfo=PARIS)
ISSUED_AT = dt.datetime(2024, 9, 2, 9, 15, tzinfo=PARIS)
DECIDED_AT = dt.datetime(2024, 9, 5, 16, 42, 7, tzinfo=PARIS)


class DoctorFactory(KeepsContact):
    class Meta:
        model = Client

    kind = ClientKind.MEDECIN_LIBERAL
    legal_name = factory.Sequence(lambda n: f"Dr Camille Martin {n}")
    rpps = factory.Sequence(valid_rpps)
    address = "12 rue des Lilas"
    postal_code = "75011"
    city = "Paris"
    mssante_address = factory.Sequence(lambda n: f"camille.martin{n}@medecin.mssante.fr")


class SiteFactory(KeepsContact):
    class Meta:
        model = Client

    kind = ClientKind.CENTRE_DE_SANTE
    legal_name = factory.Sequence(lambda n: f"Centre de santé des Tilleuls {n}")
    finess = factory.Sequence(valid_finess)
    siret = factory.Sequence(lambda n: valid_siret(5000 + n))
    address = "3 place de la Mairie"
    postal_code = "69003"
    city = "Lyon"
    mssante_address = factory.Sequence(lambda n: f"accueil{n}@tilleuls.mssante.fr")


class ReferencingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referencing

    solution_version = factory.SubFactory(SolutionVersionFactory)
    dispositif = factory.SubFactory(DispositifFactory)
    vendor = factory.SelfAttribute("solution_version.solution.editor")
    status = ReferencingStatus.REFERENCED
    decided_at = dt.datetime(2023, 11, 20, 14, 0, tzinfo=PARIS)
    ans_number = factory.Sequence(lambda n: f"ANS-SONS-2023-{n:04d}")
    referenced_on = dt.date(2023, 11, 20)


class OrderFactory(factory.django.DjangoModelFactory):
    """A signed BDC: 9 166,57 € HT, 10 999,88 € TTC at 20 %, on a real (non-demo) tariff."""

    class Meta:
        model = PurchaseOrder
        skip_postgeneration_save = True

    referencing = factory.SubFactory(ReferencingFactory)
    vendor = factory.SelfAttribute("referencing.vendor")
    dispositif = factory.SelfAttribute("referencing.dispositif")
    solution_version = factory.SelfAttribute("referencing.solution_version")
    client = factory.SubFactory(DoctorFactory)
    installation_scenario = "Poste unique, installation sur site"
    status = OrderStatus.SIGNED
    signed_at = SIGNED_AT
    signatory_name = "Camille Martin"
    signatory_role = "Médecin titulaire"
    signature_method = SignatureMethod.PRO_SANTE_CONNECT
    amount_ht_cents = 916657
    amount_ttc_cents = 1099988
    vat_rate = Decimal("0.2000")
    pricing_snapshot = factory.LazyFunction(lambda: {"tariff_is_demo": False})

    @factory.post_generation
    def record(obj, create, extracted, **kwargs):
        """The vendor's record of the client, from the contact its factory kept."""
        if create:
            record_for(obj.client, obj.vendor)

    class Params:
        conditional = factory.Trait(
            referencing=None,
            vendor=factory.SubFactory("tests.factories.VendorFactory"),
            dispositif=factory.SubFactory(DispositifFactory),
            solution_version=factory.SubFactory(
                SolutionVersionFactory, solution__editor=factory.SelfAttribute("...vendor")
            ),
            status=OrderStatus.CONDITIONAL,
            conditional_until=dt.datetime(2024, 7, 1, 14, 0, tzinfo=PARIS),
        )
        demo = factory.Trait(
            pricing_snapshot=factory.LazyFunction(lambda: {"tariff_is_demo": True})
        )


STATEMENTS = [
    "Le logiciel est installé dans la version référencée et fonctionne.",
    "Je peux produire et consulter une ordonnance numérique.",
    "Les documents de santé sont envoyés au DMP avec un INS qualifié.",
]


class VaFactory(factory.django.DjangoModelFactory):
    """An issued VA, version 1, waiting for the client's signature."""

    class Meta:
        model = VerificationAptitude

    order = factory.SubFactory(OrderFactory)
    version = 1
    status = VaStatus.ISSUED
    delivered_summary = (
        "Mise à jour installée le 30/08/2024, paramétrée, formation d'une heure faite."
    )
    statements = factory.LazyFunction(lambda: list(STATEMENTS))
    mssante_address = factory.SelfAttribute("order.contact.mssante_address")
    issued_at = ISSUED_AT


def va_decision(va, *, outcome="signed", document_sha256, **overrides):
    """The client's decision on `va` (not saved: the signed page only reads it)."""
    fields = {
        "va": va,
        "outcome": outcome,
        "decided_at": DECIDED_AT,
        "signer_name": "Camille Martin",
        "signer_role": "Médecin titulaire",
        "signer_rpps": va.order.client.rpps,
        "identity_method": "Pro Santé Connect",
        "ip_address": "203.0.113.42",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "statements_confirmed": list(va.statements) if outcome == "signed" else [],
        "document_sha256": document_sha256,
        "non_blocking_reserves": "Lenteur à l'ouverture du dossier patient."
        if outcome == "signed"
        else "",
        "blocking_reserves": ""
        if outcome == "signed"
        else "L'ordonnance numérique ne peut être produite.",
    }
    fields.update(overrides)
    return VaDecision(**fields)


def unsaved_order() -> PurchaseOrder:
    """A signed order whose whole graph is built in memory with fixed keys: same rows, any process.

    For rendering in a separate process (no test database there); nothing here touches the DB.
    """
    from catalogue.models import Dispositif, Solution, SolutionVersion, Vendor

    vendor = Vendor(pk=7, kind=Vendor.Kind.EDITEUR, name="Éditeur Ω", siret=valid_siret(7))
    solution = Solution(pk=3, editor=vendor, name="Logiciel Ω", software_type="LGC")
    version = SolutionVersion(pk=4, solution=solution, version="2.1")
    dispositif = Dispositif(
        pk=5, code="MDV-LGC-V1", title="Médecins de ville", couloir="medecins_de_ville", vague=1
    )
    referencing = Referencing(
        pk=6,
        solution_version=version,
        dispositif=dispositif,
        vendor=vendor,
        status=ReferencingStatus.REFERENCED,
        ans_number="ANS-SONS-2023-0042",
    )
    client = Client(
        pk=8,
        kind=ClientKind.MEDECIN_LIBERAL,
        legal_name="Dr Claude Dupont",
        rpps=valid_rpps(8),
    )
    order = PurchaseOrder(
        pk=9,
        vendor=vendor,
        client=client,
        dispositif=dispositif,
        solution_version=version,
        referencing=referencing,
        installation_scenario="Poste unique",
        status=OrderStatus.SIGNED,
        signed_at=SIGNED_AT,
        signatory_name="Claude Dupont",
        signatory_role="Médecin titulaire",
        signature_method=SignatureMethod.CPS,
        amount_ht_cents=916657,
        amount_ttc_cents=1099988,
        vat_rate=Decimal("0.2000"),
        pricing_snapshot={"tariff_is_demo": False},
    )
    order.contact = ClientRelationship(
        vendor=vendor, client=client, mssante_address="claude.dupont@medecin.mssante.fr"
    )
    return order
