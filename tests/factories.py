"""Factories for rows that have no state machine; stateful objects are made through services."""

import datetime as dt
from decimal import Decimal

import factory

from catalogue.deadlines import PARIS
from catalogue.models import (
    CalendarVersion,
    Couloir,
    Deadline,
    Dispositif,
    Solution,
    SolutionVersion,
    Vendor,
)
from core.identifiers import build_siret


def valid_siret(n: int) -> str:
    return build_siret(f"9{n:07d}", f"{n % 10000:04d}")


class DispositifFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dispositif

    code = factory.Sequence(lambda n: f"TST-LGC-V{n}")
    couloir = Couloir.MEDECINS_DE_VILLE
    software_type = "LGC"
    vague = 1
    title = factory.Sequence(lambda n: f"Dispositif de test {n}")
    advance_rate = Decimal("0.30")
    acceptance = "va"
    cutoff_time = dt.time(14, 0)


class CalendarVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarVersion

    dispositif = factory.SubFactory(DispositifFactory)
    legal_reference = factory.Sequence(lambda n: f"arrêté de test n° {n}")
    published_on = None


class DeadlineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deadline

    version = factory.SubFactory(CalendarVersionFactory)
    kind = "referencing_dossier"
    at = dt.datetime(2022, 6, 15, 14, 0, tzinfo=PARIS)


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor

    kind = Vendor.Kind.EDITEUR
    name = factory.Sequence(lambda n: f"Éditeur {n}")
    siret = factory.Sequence(valid_siret)


class SolutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Solution

    editor = factory.SubFactory(VendorFactory)
    name = factory.Sequence(lambda n: f"Logiciel {n}")
    software_type = "LGC"


class SolutionVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SolutionVersion

    solution = factory.SubFactory(SolutionFactory)
    version = factory.Sequence(lambda n: f"1.{n}")


def draft_referencing(*, actor, dispositif=None, at=None, version=None):
    """A referencing dossier opened through the service, as a vendor would."""
    from catalogue import services

    version = version or SolutionVersionFactory()
    return services.create_referencing(
        solution_version=version,
        dispositif=dispositif or DispositifFactory(),
        vendor=version.solution.editor,
        actor=actor,
        at=at,
    )


def referencing_in_state(state, *, actor, ans_number="ANS-1", **kwargs):
    """A referencing walked through the services to `state`."""
    import datetime as dt

    from catalogue import services

    ref = draft_referencing(actor=actor, **kwargs)
    if state == "draft":
        return ref
    ref = services.submit_referencing(referencing=ref, actor=actor, at=kwargs.get("at"))
    if state == "submitted":
        return ref
    ref = services.start_review(referencing=ref, actor=actor)
    if state == "under_review":
        return ref
    if state == "rejected":
        return services.reject_referencing(referencing=ref, actor=actor, reasons="Incomplet")
    return services.reference_solution(
        referencing=ref, actor=actor, ans_number=ans_number, referenced_on=dt.date(2022, 7, 1)
    )
