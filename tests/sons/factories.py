"""Lifecycle test data: clients by factory, orders and their states through the services."""

import datetime as dt
from decimal import Decimal

import factory
from stdnum import luhn

from catalogue import services as referencing_services
from catalogue.deadlines import PARIS
from catalogue.models import Referencing, Tariff
from catalogue.rules import TariffKind
from sons.models import Client, ClientKind, ClientRelationship
from sons.models.client import CONTACT_FIELDS
from sons.services import clients
from sons.services import orders as order_services
from tests.factories import (
    CalendarVersionFactory,
    DeadlineFactory,
    DispositifFactory,
    SolutionVersionFactory,
)


def valid_rpps(n: int) -> str:
    body = f"1{n:09d}"
    return body + luhn.calc_check_digit(body)


def valid_finess(n: int) -> str:
    body = f"75{n:06d}"
    return body + luhn.calc_check_digit(body)


class KeepsContact(factory.django.DjangoModelFactory):
    """A client's shared identity. The contact details given (or the defaults) are kept on the
    instance as `test_contact`: the vendor's own record of the client is made from them when an
    order is created through `draft_order` (or by `record_for`)."""

    class Meta:
        model = Client
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        contact = {name: kwargs.pop(name) for name in CONTACT_FIELDS if name in kwargs}
        client = super()._create(model_class, *args, **kwargs)
        client.test_contact = contact
        return client

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        contact = {name: kwargs.pop(name) for name in CONTACT_FIELDS if name in kwargs}
        client = super()._build(model_class, *args, **kwargs)
        client.test_contact = contact
        return client


class ClientFactory(KeepsContact):
    class Meta:
        model = Client

    kind = ClientKind.MEDECIN_LIBERAL
    legal_name = factory.Sequence(lambda n: f"Dr Client {n}")
    rpps = factory.Sequence(valid_rpps)
    email = factory.Sequence(lambda n: f"client{n}@example.invalid")
    mssante_address = factory.Sequence(lambda n: f"client{n}@medecin.mssante.fr")
    characteristics = factory.LazyFunction(dict)


def record_for(client: Client, vendor, **changes) -> ClientRelationship:
    """The vendor's record of the client, made (through the service every door uses) from the
    contact the factory kept, then `changes` applied."""
    contact = {**getattr(client, "test_contact", {}), **changes}
    clients.register_clients(
        vendor=vendor,
        clients={0: (client, ClientRelationship(**contact))},
        actor="test",
    )
    record = ClientRelationship.objects.get(vendor=vendor, client=client)
    if changes:
        clients.change_contacts(changes=[(record, changes)], actor="test")
    return record


class SiteClientFactory(ClientFactory):
    kind = ClientKind.ETABLISSEMENT_DE_SANTE
    legal_name = factory.Sequence(lambda n: f"Centre hospitalier {n}")
    rpps = ""
    finess = factory.Sequence(valid_finess)


def at_paris(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


ORDERS_END = at_paris(2022, 11, 30, 14, 0)


def lgc_dispositif(**overrides):
    """A dispositif with a founding calendar (orders end 30/11/2022 14:00) and a flat tariff."""
    dispositif = DispositifFactory(**overrides)
    version = CalendarVersionFactory(dispositif=dispositif, founding=True)
    for kind, when in {
        "orders": ORDERS_END,
        "advances": ORDERS_END,
        "firm_date": at_paris(2023, 6, 15, 14, 0),
        "realisation": at_paris(2023, 9, 20, 14, 0),
        "soldes": at_paris(2023, 12, 14, 14, 0),
    }.items():
        DeadlineFactory(version=version, kind=kind, at=when)
    Tariff.objects.create(
        dispositif=dispositif, kind=TariffKind.FLAT, flat_cents=150000, vat_rate=Decimal("0.20")
    )
    return dispositif


REFERENCED_AT = at_paris(2022, 6, 1, 10, 0)
SIGNED_AT = at_paris(2022, 9, 1, 10, 0)


def referenced(*, dispositif, actor, at=REFERENCED_AT, version=None) -> Referencing:
    """A solution version referenced under the dispositif at `at`."""
    version = version or SolutionVersionFactory()
    ref = referencing_services.create_referencing(
        solution_version=version,
        dispositif=dispositif,
        vendor=version.solution.editor,
        actor=actor,
        at=at,
    )
    ref = referencing_services.submit_referencing(referencing=ref, actor=actor, at=at)
    ref = referencing_services.start_review(referencing=ref, actor=actor, at=at)
    return referencing_services.reference_solution(
        referencing=ref, actor=actor, ans_number=f"ANS-{ref.pk}", referenced_on=at.date(), at=at
    )


def draft_order(*, referencing, actor, client=None, vendor=None, at=None):
    vendor = vendor or referencing.solution_version.solution.editor
    client = client or ClientFactory()
    record_for(client, vendor)
    return order_services.create_order(
        vendor=vendor,
        client=client,
        dispositif=referencing.dispositif,
        solution_version=referencing.solution_version,
        installation_scenario="Installation sur poste, profil cabinet libéral",
        actor=actor,
        at=at,
    )


def signed_order(*, referencing, actor, client=None, vendor=None, at=SIGNED_AT):
    order = draft_order(referencing=referencing, actor=actor, client=client, vendor=vendor, at=at)
    return order_services.sign_order(
        order=order,
        signatory_name="Dr Marie Curie",
        signatory_role="Médecin titulaire",
        method="cps",
        actor=actor,
        at=at,
    )
