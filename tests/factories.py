"""Factories for rows that have no state machine; stateful objects are made through services."""

import datetime as dt
from decimal import Decimal

import factory

from core.identifiers import build_siret
from referencing.deadlines import PARIS
from referencing.models import (
    CalendarVersion,
    Couloir,
    Deadline,
    Dispositif,
    Solution,
    SolutionVersion,
    Vendor,
)


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
