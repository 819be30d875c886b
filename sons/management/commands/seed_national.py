"""A deterministic national-scale data set for benchmarks, written with bulk inserts.

300,000 orders and 250 vendors by default (the scale SONS.md asks the engine to hold), spread
over the real dispositifs, in realistic proportions of states. It is a benchmark data set, not a
history: rows are inserted directly (no journal entries), every vendor and client is marked demo.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from stdnum import luhn

from catalogue.catalogue import load_catalogue
from catalogue.deadlines import PARIS
from catalogue.models import (
    Dispositif,
    Referencing,
    ReferencingStatus,
    Solution,
    SolutionVersion,
    Vendor,
)
from core.identifiers import build_siret
from sons.models import Client, ClientKind, ClientRelationship, OrderStatus, PurchaseOrder

BATCH = 5000
# Share of orders per state, as seen at the end of a vague.
STATES = [
    (OrderStatus.SIGNED, 62),
    (OrderStatus.COMPLETED, 20),
    (OrderStatus.DRAFT, 5),
    (OrderStatus.CONDITIONAL, 3),
    (OrderStatus.CANCELLED, 5),
    (OrderStatus.LAPSED, 2),
    (OrderStatus.DEFAULTED, 2),
    (OrderStatus.IN_RECOVERY, 1),
]
SIGNED_LIKE = {
    OrderStatus.SIGNED,
    OrderStatus.COMPLETED,
    OrderStatus.CONDITIONAL,
    OrderStatus.CANCELLED,
    OrderStatus.LAPSED,
    OrderStatus.DEFAULTED,
    OrderStatus.IN_RECOVERY,
}


def rpps(n: int) -> str:
    body = f"2{n:09d}"
    return body + luhn.calc_check_digit(body)


class Command(BaseCommand):
    help = "Génère un jeu de données national déterministe (BDC, fournisseurs, clients)."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=300_000)
        parser.add_argument("--vendors", type=int, default=250)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, orders: int, vendors: int, seed: int, **options):
        if orders < 1 or vendors < 1:
            raise CommandError("--orders et --vendors doivent être positifs.")
        if Vendor.objects.filter(name__startswith="Éditeur national ").exists():
            raise CommandError("Un jeu national est déjà chargé : partez d'une base vide.")
        started = time.perf_counter()
        rng = random.Random(seed)
        if not Dispositif.objects.exists():
            load_catalogue()
        dispositifs = list(Dispositif.objects.filter(vague=1).order_by("code"))
        with transaction.atomic():
            refs = self._catalogue(vendors, dispositifs)
            self._orders(orders, refs, rng)
        if connection.vendor == "postgresql":
            # Fresh statistics, so that the planner sees the set it will be benchmarked on.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Jeu national : {orders} BDC, {vendors} fournisseurs, {orders} clients "
                f"en {elapsed:.1f} s (graine {seed})."
            )
        )

    def _catalogue(self, vendors: int, dispositifs: list[Dispositif]) -> list[Referencing]:
        vendor_rows = Vendor.objects.bulk_create(
            [
                Vendor(
                    kind=Vendor.Kind.EDITEUR,
                    name=f"Éditeur national {i:03d}",
                    siret=build_siret(f"8{i:07d}", "0001"),
                    contact_email=f"contact{i}@editeur.invalid",
                    is_demo=True,
                )
                for i in range(vendors)
            ]
        )
        solutions = Solution.objects.bulk_create(
            [
                Solution(editor=v, name=f"Logiciel {v.name[-3:]}", software_type="LGC")
                for v in vendor_rows
            ]
        )
        versions = SolutionVersion.objects.bulk_create(
            [SolutionVersion(solution=s, version="1.0") for s in solutions]
        )
        decided = dt.datetime(2022, 6, 20, 10, 0, tzinfo=PARIS)
        return Referencing.objects.bulk_create(
            [
                Referencing(
                    solution_version=version,
                    dispositif=dispositifs[i % len(dispositifs)],
                    vendor=version.solution.editor,
                    status=ReferencingStatus.REFERENCED,
                    submitted_at=decided - dt.timedelta(days=10),
                    decided_at=decided,
                    ans_number=f"NAT-{i:05d}",
                    referenced_on=decided.date(),
                )
                for i, version in enumerate(versions)
            ]
        )

    def _orders(self, orders: int, refs: list[Referencing], rng: random.Random) -> None:
        states = [s for s, weight in STATES for _ in range(weight)]
        start = dt.datetime(2022, 7, 1, 8, 0, tzinfo=PARIS)
        for first in range(0, orders, BATCH):
            count = min(BATCH, orders - first)
            clients = Client.objects.bulk_create(
                [
                    Client(
                        kind=ClientKind.MEDECIN_LIBERAL,
                        legal_name=f"Dr National {n:06d}",
                        rpps=rpps(n),
                        is_demo=True,
                    )
                    for n in range(first, first + count)
                ]
            )
            rows = []
            for client in clients:
                ref = refs[rng.randrange(len(refs))]
                status = rng.choice(states)
                signed = start + dt.timedelta(minutes=rng.randrange(150 * 24 * 60))
                signed_like = status in SIGNED_LIKE
                rows.append(
                    PurchaseOrder(
                        vendor_id=ref.vendor_id,
                        client=client,
                        dispositif_id=ref.dispositif_id,
                        solution_version_id=ref.solution_version_id,
                        referencing=ref if signed_like else None,
                        installation_scenario="Poste de travail, profil cabinet",
                        status=status,
                        signed_at=signed if signed_like else None,
                        signatory_name=client.legal_name if signed_like else "",
                        signature_method="psc" if signed_like else "",
                        amount_ht_cents=150000 if signed_like else None,
                        amount_ttc_cents=180000 if signed_like else None,
                        pricing_snapshot={"bench": True} if signed_like else {},
                    )
                )
            PurchaseOrder.objects.bulk_create(rows)
            # Each vendor's own record of its client (what its links, VA and tariff read).
            ClientRelationship.objects.bulk_create(
                [
                    ClientRelationship(
                        vendor_id=row.vendor_id,
                        client=row.client,
                        postal_code=f"{rng.randint(1, 95):02d}000",
                        email=f"dr{row.client.rpps}@example.invalid",
                        mssante_address=f"dr{row.client.rpps}@medecin.mssante.fr",
                    )
                    for row in rows
                ]
            )
