"""A demo data set for a local machine: vendors, solutions, referencings in every state.

Everything it creates is marked as demo (vendors' is_demo, tariffs' is_demo and the « [DÉMO] »
label); it refuses to run on a production configuration (DEBUG off) unless forced.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core.identifiers import build_siret
from referencing import services
from referencing.deadlines import DeadlineKind
from referencing.models import (
    Dispositif,
    DistributionMandate,
    Referencing,
    Solution,
    SolutionVersion,
    Tariff,
    Vendor,
)
from referencing.rules import TariffKind
from referencing.selectors import calendar_in_force

SYSTEM = "système:load_demo"

DEMO_VENDORS = [
    # name, kind, SIREN body (8 digits) and NIC body (4 digits); the keys are computed
    ("Démo Logiciels Médicaux SAS", Vendor.Kind.EDITEUR, "90000001", "0001"),
    ("Démo Santé Numérique", Vendor.Kind.EDITEUR, "90000002", "0001"),
    ("Démo Distribution Ouest", Vendor.Kind.DISTRIBUTEUR, "90000003", "0001"),
]

# (editor index, solution, software type, version, dispositif code, final state)
DEMO_REFERENCINGS = [
    (0, "MédiCabinet Démo", "LGC", "5.2", "MDV-LGC-V1", "referenced"),
    (0, "MédiCabinet Démo", "LGC", "6.0", "MDV-LGC-V2", "under_review"),
    (0, "HospiDossier Démo", "DPI", "2024.1", "HOP-DPI-V2", "referenced"),
    (1, "PharmaGestion Démo", "LGO", "3.1", "OFF-LGO-V1", "referenced"),
    (1, "MessageriePro Démo", "MSS", "1.8", "MSS-OPE-V1", "referenced"),
    (1, "ImageBox Démo", "DRIMBOX", "1.0", "IMG-DRIMBOX-V2", "submitted"),
    (1, "LaboSuite Démo", "SGL", "9.4", "BIO-SGL-V1", "rejected"),
]


class Command(BaseCommand):
    help = "Charge un jeu de données de démonstration (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Même avec DEBUG désactivé.")

    @transaction.atomic
    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Jeu de démonstration refusé hors mode DEBUG (utilisez --force).")
        admin = self._admin()
        vendors = [
            Vendor.objects.get_or_create(
                siret=build_siret(siren_body, nic_body),
                defaults={
                    "name": name,
                    "kind": kind,
                    "is_demo": True,
                    "contact_email": "contact@demo.invalid",
                },
            )[0]
            for name, kind, siren_body, nic_body in DEMO_VENDORS
        ]
        DistributionMandate.objects.get_or_create(
            editor=vendors[0],
            distributor=vendors[2],
            reference="MANDAT-DEMO-001",
            defaults={"valid_from": dt.date(2022, 1, 1)},
        )
        for editor_index, name, software_type, version, code, final in DEMO_REFERENCINGS:
            dispositif = Dispositif.objects.filter(code=code).first()
            if dispositif is None:
                continue
            solution, _ = Solution.objects.get_or_create(
                editor=vendors[editor_index],
                name=name,
                defaults={"software_type": software_type},
            )
            solution_version, _ = SolutionVersion.objects.get_or_create(
                solution=solution, version=version
            )
            if Referencing.objects.filter(
                solution_version=solution_version, dispositif=dispositif
            ).exists():
                continue
            self._referencing(solution_version, dispositif, vendors[editor_index], admin, final)
        self._demo_tariffs()
        self.stdout.write(
            self.style.SUCCESS(
                "Jeu de démonstration chargé. Administration : http://127.0.0.1:8000/admin/ "
                "(identifiant « admin », mot de passe « admin », démonstration seulement)."
            )
        )

    def _admin(self):
        user_model = get_user_model()
        user = user_model.objects.filter(username="admin").first()
        if user is None:
            user = user_model.objects.create_superuser("admin", "admin@demo.invalid", "admin")
        return user

    def _referencing(self, solution_version, dispositif, vendor, admin, final):
        # Demo dossiers are filed the day before the dossier deadline of the calendar in force,
        # so that the demo walks the real rules instead of going around them.
        now = timezone.now()
        applied = calendar_in_force(dispositif=dispositif, at=now)
        # Without a dossier deadline, file before the calendar's first deadline (or today).
        deadline = applied.get(DeadlineKind.REFERENCING_DOSSIER)
        first = min((a.at for a in applied.values()), default=now)
        at = min((deadline.at if deadline else first) - dt.timedelta(days=1), now)
        ref = services.create_referencing(
            solution_version=solution_version,
            dispositif=dispositif,
            vendor=vendor,
            actor=SYSTEM,
            at=at,
        )
        if final == "draft":
            return
        ref = services.submit_referencing(referencing=ref, actor=vendor.name, at=at)
        if final == "submitted":
            return
        ref = services.start_review(referencing=ref, actor=admin)
        if final == "under_review":
            return
        if final == "rejected":
            services.reject_referencing(
                referencing=ref,
                actor=admin,
                reasons="Preuves d'interopérabilité incomplètes (démo).",
            )
            return
        services.reference_solution(
            referencing=ref,
            actor=admin,
            ans_number=f"DEMO-{dispositif.code}-{solution_version.pk:04d}",
            referenced_on=timezone.localdate(min(at + dt.timedelta(days=30), now)),
        )

    def _demo_tariffs(self):
        """A flat demo tariff for every dispositif whose real tariff is not public."""
        for dispositif in Dispositif.objects.filter(tariffs__isnull=True):
            Tariff.objects.create(
                dispositif=dispositif,
                kind=TariffKind.FLAT,
                flat_cents=150000,
                is_demo=True,
                source="Barème fictif de démonstration : le barème réel n'est pas public ici.",
            )
