"""A believable demo world for a local machine, built through the real services.

Vendors, referenced solutions, clients of each kind, orders in every state with their
deployments, VA (signed, refused then re-issued), MOM, a conflict, a pilot périmètre. Everything
is marked as demo (is_demo flags, « [DÉMO] » tariffs); the command refuses to run with DEBUG off
unless forced, and does nothing the second time.

Beside the historical vague 1 world, a living programme: a demo dispositif (« DEMO-… », its
calendar labelled as a fictitious demo calendar, never an arrêté) whose deadlines are set from
the day the command runs (`--today`), with an order at risk, a VA waiting for its client, a
conflict whose windows run and an avance ready to file, so that the pages show, on that day,
what a programme in progress looks like.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from stdnum import luhn

from catalogue import services as ref_services
from catalogue.deadlines import PARIS, DeadlineKind, end_of_day_paris
from catalogue.models import (
    CalendarVersion,
    Deadline,
    Dispositif,
    DistributionMandate,
    Referencing,
    Solution,
    SolutionVersion,
    Tariff,
    TariffTier,
    Vendor,
)
from catalogue.rules import TariffKind
from catalogue.selectors import calendar_in_force
from core.identifiers import build_siret
from sons.demo import deposit_demo_completions, pay_demo_avances, prepare_demo_avances
from sons.demo_marks import DEMO_DISPOSITIF_PREFIX, DEMO_MARK
from sons.models import Client, ClientKind, ClientRelationship, Decision, PurchaseOrder
from sons.services import acceptance, clients, completion, conflicts, deployments, gates, orders
from sons.services.acceptance import Signer

SYSTEM = "système:seed_demo"
# The demo flat amount where nothing public bounds it; capped by a known public maximum.
DEMO_FLAT_CENTS = 150000

DEMO_VENDORS = [
    # name, kind, SIREN body (8 digits) and NIC body (4 digits); the keys are computed
    ("Démo Logiciels Médicaux SAS", Vendor.Kind.EDITEUR, "90000001", "0001"),
    ("Démo Santé Numérique", Vendor.Kind.EDITEUR, "90000002", "0001"),
    ("Démo Distribution Ouest", Vendor.Kind.DISTRIBUTEUR, "90000003", "0001"),
]

# (editor index, solution, software type, version, dispositif code, final state)
DEMO_REFERENCINGS = [
    (0, "MédiCabinet Démo", "LGC", "5.2", "MDV-LGC-V1", "referenced"),
    (0, "MédiCabinet Démo", "LGC", "5.3", "MDV-LGC-V1", "under_review"),
    (0, "MédiCabinet Démo", "LGC", "6.0", "MDV-LGC-V2", "referenced"),
    (0, "HospiDossier Démo", "DPI", "2024.1", "HOP-DPI-V2", "referenced"),
    (1, "PharmaGestion Démo", "LGO", "3.1", "OFF-LGO-V1", "referenced"),
    (1, "MessageriePro Démo", "MSS", "1.8", "MSS-OPE-V1", "referenced"),
    (1, "ImageBox Démo", "DRIMBOX", "1.0", "IMG-DRIMBOX-V2", "submitted"),
    (1, "LaboSuite Démo", "SGL", "9.4", "BIO-SGL-V1", "rejected"),
]


# The living programme's demo dispositif and its calendar, in days from the day seed_demo runs
# (each a day without an hour: it runs to the end of that day, Paris time).
LIVING_CODE = f"{DEMO_DISPOSITIF_PREFIX}MDV-LGC-VIVANT"
LIVING_VERSION = "7.0"
# In the programme's order: orders, then avances, then réalisation, then soldes.
LIVING_DEADLINE_DAYS = {
    DeadlineKind.ORDERS: 10,
    DeadlineKind.ADVANCES: 14,
    DeadlineKind.REALISATION: 21,  # within ORDERS_AT_RISK_DAYS: its undelivered orders at risk
    DeadlineKind.SOLDES: 60,
}


def paris(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


def demo_rpps(n: int) -> str:
    body = f"1099{n:06d}"
    return body + luhn.calc_check_digit(body)


def demo_finess(n: int) -> str:
    body = f"99{n:06d}"
    return body + luhn.calc_check_digit(body)


class Command(BaseCommand):
    help = "Charge un monde de démonstration (fournisseurs, clients, BDC dans tous les états)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Même avec DEBUG désactivé.")
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="Jour (AAAA-MM-JJ) dont part le calendrier de démonstration vivant "
            "(par défaut : aujourd'hui, heure de Paris).",
        )

    def handle(self, *args, force: bool, today: dt.date | None = None, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Jeu de démonstration refusé hors mode DEBUG (utilisez --force).")
        if Client.objects.filter(is_demo=True).exists():
            self.stdout.write("Monde de démonstration déjà présent : rien à faire.")
            return
        self.admin = self._admin()
        real_now = timezone.now()
        self.today = today or real_now.astimezone(PARIS).date()
        # The living programme's acts happen before this instant: now, or noon of `--today`.
        self.anchor = (
            real_now
            if self.today == real_now.astimezone(PARIS).date()
            else dt.datetime.combine(self.today, dt.time(12, 0), tzinfo=PARIS)
        )
        with transaction.atomic():
            self.vendors = self._vendors()
            self.contacts: dict[int, dict] = {}
            self.refs = self._referencings()
            living = self._living_dispositif()
            self._demo_tariffs()
        self._world()
        self._living(living)
        self.stdout.write(
            self.style.SUCCESS(
                "Monde de démonstration chargé : "
                f"{PurchaseOrder.objects.filter(client__is_demo=True).count()} BDC. "
                "Administration : http://127.0.0.1:8000/admin/ (identifiant « admin », "
                "mot de passe « admin », démonstration seulement)."
            )
        )

    # -- catalogue side -------------------------------------------------------------------

    def _admin(self):
        user_model = get_user_model()
        user = user_model.objects.filter(username="admin").first()
        if user is None:
            user = user_model.objects.create_superuser("admin", "admin@demo.invalid", "admin")
        return user

    def _vendors(self) -> list[Vendor]:
        vendors = [
            Vendor.objects.get_or_create(
                siret=build_siret(siren_body, nic_body),
                defaults={
                    "name": name,
                    "kind": kind,
                    "is_demo": True,
                    "contact_email": f"contact-{siren_body}@demo.invalid",
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
        return vendors

    def _referencings(self) -> dict[tuple[str, str], Referencing]:
        refs = {}
        for editor_index, name, software_type, version, code, final in DEMO_REFERENCINGS:
            dispositif = Dispositif.objects.filter(code=code).first()
            if dispositif is None:
                continue
            solution, _ = Solution.objects.get_or_create(
                editor=self.vendors[editor_index],
                name=name,
                defaults={"software_type": software_type},
            )
            solution_version, _ = SolutionVersion.objects.get_or_create(
                solution=solution, version=version
            )
            refs[(code, version)] = self._referencing(
                solution_version, dispositif, self.vendors[editor_index], final
            )
        return refs

    def _referencing(self, solution_version, dispositif, vendor, final) -> Referencing:
        # Filed ten days before the dossier deadline in force (or the calendar's first deadline)
        # and decided two days later, so that the demo walks the real rules.
        now = timezone.now()
        applied = calendar_in_force(dispositif=dispositif, at=now)
        deadline = applied.get(DeadlineKind.REFERENCING_DOSSIER)
        first = min((a.at for a in applied.values()), default=now)
        at = min((deadline.at if deadline else first) - dt.timedelta(days=10), now)
        ref = ref_services.create_referencing(
            solution_version=solution_version,
            dispositif=dispositif,
            vendor=vendor,
            actor=SYSTEM,
            at=at,
        )
        if final == "draft":
            return ref
        ref = ref_services.submit_referencing(referencing=ref, actor=vendor.name, at=at)
        if final == "submitted":
            return ref
        ref = ref_services.start_review(referencing=ref, actor=self.admin, at=at)
        if final == "under_review":
            return ref
        if final == "rejected":
            return ref_services.reject_referencing(
                referencing=ref,
                actor=self.admin,
                reasons="Preuves d'interopérabilité incomplètes (démo).",
                at=at,
            )
        decided = min(at + dt.timedelta(days=2), now)
        return ref_services.reference_solution(
            referencing=ref,
            actor=self.admin,
            ans_number=f"DEMO-{dispositif.code}-{solution_version.pk:04d}",
            referenced_on=decided.astimezone(PARIS).date(),
            at=decided,
        )

    def _demo_tariffs(self) -> None:
        """A flat demo tariff for every dispositif whose real tariff is not public, never above
        the public maximum when one is known (officines: 875 € HT, SONS.md « Money »)."""
        for dispositif in Dispositif.objects.filter(tariffs__isnull=True):
            flat_cents = DEMO_FLAT_CENTS
            if dispositif.public_max_ht_cents is not None:
                flat_cents = min(flat_cents, dispositif.public_max_ht_cents)
            tariff = Tariff(
                dispositif=dispositif,
                kind=TariffKind.FLAT,
                flat_cents=flat_cents,
                is_demo=True,
                source="Barème fictif de démonstration : le barème réel n'est pas public ici.",
            )
            problem = tariff.demo_problem()
            if problem:
                raise CommandError(f"{dispositif.code} : {problem}")
            tariff.save()
        # A real tariff whose tier bounds are not public (officines: at most 625 € to 875 € HT
        # by turnover) gets fictitious bounds for the demo, its amounts inside the public range,
        # and is marked demo: what it then computes is the demo's figure, never the State's.
        for tariff in Tariff.objects.filter(kind=TariffKind.TIERED, tier_bounds_known=False):
            self._demo_tiers(tariff)

    def _demo_tiers(self, tariff: Tariff) -> None:
        public_max = tariff.cap_cents or tariff.dispositif.public_max_ht_cents
        top = min(DEMO_FLAT_CENTS, public_max) if public_max is not None else DEMO_FLAT_CENTS
        bottom = min(tariff.floor_cents or top, top)
        middle = (bottom + top) // 2
        bounds = [(0, 500_000, bottom), (500_000, 1_000_000, middle), (1_000_000, None, top)]
        for lower, upper, amount in bounds:
            TariffTier.objects.create(tariff=tariff, lower=lower, upper=upper, amount_cents=amount)
        tariff.tier_bounds_known = True
        tariff.is_demo = True
        tariff.source = (
            f"{tariff.source} Tranches fictives de démonstration (0 à 500 000 €, 500 000 à "
            "1 000 000 €, au-delà) : les bornes réelles ne sont pas publiques."
        ).strip()
        tariff.save(update_fields=["tier_bounds_known", "is_demo", "source"])
        problem = tariff.demo_problem()
        if problem:
            raise CommandError(f"{tariff.dispositif.code} : {problem}")

    # -- lifecycle side -------------------------------------------------------------------

    def _client(self, n: int, kind: str, name: str, **fields) -> Client:
        """A demo client's identity; the details each vendor records of it come with its first
        order from that vendor (`_order`)."""
        contact = {
            "city": fields.pop("city", "Lyon"),
            "postal_code": fields.pop("postal_code", "69003"),
            "address": f"{n} rue de la Démonstration",
            "email": f"client{n}@demo.invalid",
            "mssante_address": f"client{n}@demo.mssante.fr",
            "characteristics": fields.pop("characteristics", {}),
        }
        client = Client(kind=kind, legal_name=name, is_demo=True, **fields)
        client.full_clean()
        client.save()
        self.contacts[client.pk] = contact
        return client

    def _order(self, ref, client, at, *, vendor=None, sign=True):
        vendor = vendor or ref.solution_version.solution.editor
        clients.register_clients(
            vendor=vendor,
            clients={client.pk: (client, ClientRelationship(**self.contacts[client.pk]))},
            actor=SYSTEM,
            at=at,
        )
        order = orders.create_order(
            vendor=vendor,
            client=client,
            dispositif=ref.dispositif,
            solution_version=ref.solution_version,
            installation_scenario="Poste de travail et serveur du cabinet, profil référencé",
            actor=SYSTEM,
            at=at,
        )
        if not sign:
            return order
        return orders.sign_order(
            order=order,
            signatory_name=client.legal_name,
            signatory_role="Représentant du client",
            method="psc",
            actor=SYSTEM,
            at=at,
        )

    def _va(self, order, at, *, sign=True, reserves=""):
        va = acceptance.create_va(
            order=order,
            delivered_summary="Mise à jour vers la version référencée, paramétrage, formation.",
            actor=SYSTEM,
            at=at,
        )
        va = acceptance.issue_va(va=va, actor=SYSTEM, at=at)
        va.refresh_from_db()
        signer = Signer(
            name=order.client.legal_name,
            role="Médecin",
            rpps=order.client.rpps,
            identity_method="code à usage unique (courriel)",
            ip_address="192.0.2.10",
            user_agent="Démo",
        )
        if sign:
            return acceptance.sign_va(
                va=va,
                signer=signer,
                confirmed=list(va.statements),
                document_sha256=va.pdf_sha256,
                non_blocking_reserves=reserves,
                at=at + dt.timedelta(days=1),
            )
        return acceptance.refuse_va(
            va=va,
            signer=signer,
            blocking_reserves="L'envoi au DMP échoue pour les documents avec INS qualifiée.",
            document_sha256=va.pdf_sha256,
            at=at + dt.timedelta(days=1),
        )

    def _world(self) -> None:
        lgc = self.refs.get(("MDV-LGC-V1", "5.2"))
        lgc_pending = self.refs.get(("MDV-LGC-V1", "5.3"))
        if lgc is None:
            return
        doctors = [
            self._client(i, ClientKind.MEDECIN_LIBERAL, f"Dr Démo {name}", rpps=demo_rpps(i))
            for i, name in enumerate(
                ["Arnaud", "Benoît", "Chloé", "Damien", "Élise", "Fanny", "Gaël", "Hugo", "Inès"],
                start=1,
            )
        ]
        signed_at = paris(2022, 9, 5, 10, 0)
        draft = self._order(lgc, doctors[0], signed_at, sign=False)
        assert draft.status == "draft"

        scheduled = self._order(lgc, doctors[1], signed_at)
        deployments.schedule_deployment(
            order=scheduled, firm_date=dt.date(2023, 5, 15), actor=SYSTEM, at=paris(2023, 1, 9, 9)
        )

        delivered = self._order(lgc, doctors[2], signed_at)
        deployment = deployments.schedule_deployment(
            order=delivered, firm_date=dt.date(2023, 3, 1), actor=SYSTEM, at=paris(2022, 12, 1, 9)
        )
        for step, when in (
            (deployments.start_deployment, paris(2023, 2, 20, 9)),
            (deployments.install_deployment, paris(2023, 2, 28, 17)),
            (deployments.verify_deployment, paris(2023, 3, 1, 11)),
        ):
            deployment = step(deployment=deployment, actor=SYSTEM, at=when)
        self._va(delivered, paris(2023, 3, 2, 9), reserves="Icône d'impression à déplacer.")
        for month, sent in ((1, 4), (2, 9)):
            gates.record_usage(
                order=delivered, month=dt.date(2023, month, 1), produced=30, sent=sent
            )

        reissued = self._order(lgc, doctors[3], signed_at)
        self._va(reissued, paris(2023, 4, 3, 9), sign=False)
        acceptance.issue_va(
            va=acceptance.create_va(
                order=reissued,
                delivered_summary="Correctif de l'envoi au DMP livré, nouvelle vérification.",
                actor=SYSTEM,
                at=paris(2023, 4, 20, 9),
            ),
            actor=SYSTEM,
            at=paris(2023, 4, 20, 9),
        )

        cancelled = self._order(lgc, doctors[4], signed_at)
        orders.cancel_order(
            order=cancelled,
            actor=SYSTEM,
            sworn_statement="Je déclare sur l'honneur que la prestation n'a pas été engagée.",
            client_renunciation="Le client renonce par courrier du 12/09/2022.",
            at=paris(2022, 9, 12, 15),
        )

        defaulted = self._order(lgc, doctors[5], signed_at)
        orders.declare_default(
            order=defaulted,
            actor=SYSTEM,
            reason="Le cabinet utilise une ancienne plateforme que la version ne supporte plus.",
            at=paris(2022, 10, 3, 11),
        )

        completed = self._order(lgc, doctors[6], signed_at)
        orders.complete_order(order=completed, actor=SYSTEM, at=paris(2023, 11, 20, 10))

        recovered = self._order(lgc, doctors[7], signed_at)
        orders.start_recovery(
            order=recovered,
            actor=SYSTEM,
            reason="Prestation non réalisée à la date de fin de réalisation.",
            at=paris(2023, 10, 2, 10),
        )

        # A distributor signs for a doctor the éditeur already holds: both are in conflict.
        self._order(lgc, doctors[1], paris(2022, 11, 7, 10), vendor=self.vendors[2])

        if lgc_pending is not None:
            conditional = self._order(lgc_pending, doctors[8], paris(2022, 6, 20, 10))
            assert conditional.status == "conditional"
            lapsing = self._order(
                lgc_pending,
                self._client(10, ClientKind.MEDECIN_LIBERAL, "Dr Démo Jules", rpps=demo_rpps(10)),
                paris(2022, 6, 21, 10),
            )
            orders.lapse_order(order=lapsing, actor=SYSTEM, at=paris(2022, 10, 22, 0))

        self._sites()
        self._claimable()
        self._end_of_realisation(lgc)  # after the others: their references stay as documented

    def _end_of_realisation(self, lgc) -> None:
        """SONS.md « End of réalisation, exactly » (COSUI of 5 April 2023): by the end of
        réalisation (20/09/2023) the vendor has notified the completion (its filing deposited at
        the ASP) or filed its solde; the
        VA may follow. Three orders with a paid avance: two notified in time (one accepted by a
        VA signed after the end of réalisation, one not yet), one neither notified nor soldé,
        which the sweep sends to recovery once the end of réalisation has passed."""
        signed_at = paris(2022, 9, 5, 10, 0)
        lucie, marc, nadia = (
            self._order(
                lgc,
                self._client(n, ClientKind.MEDECIN_LIBERAL, f"Dr Démo {name}", rpps=demo_rpps(n)),
                signed_at,
            )
            for n, name in ((11, "Lucie"), (12, "Marc"), (13, "Nadia"))
        )
        pay_demo_avances(
            [lucie, marc, nadia], filed_at=paris(2022, 10, 3, 10), paid_at=paris(2022, 11, 15, 10)
        )
        completion.notify_completion(
            order=lucie,
            actor=SYSTEM,
            statement="Mise à jour installée, paramétrée, utilisateurs formés le 14/09/2023.",
            at=paris(2023, 9, 15, 10),
        )
        deposit_demo_completions([lucie], at=paris(2023, 9, 15, 16))  # the deposit tells the ASP
        self._va(lucie, paris(2023, 10, 4, 9))  # after the end of réalisation: admitted
        deployments.schedule_deployment(
            order=marc, firm_date=dt.date(2023, 9, 18), actor=SYSTEM, at=paris(2023, 4, 3, 9)
        )
        completion.notify_completion(
            order=marc,
            actor=SYSTEM,
            statement="Prestation achevée ; la vérification par le client suivra.",
            at=paris(2023, 9, 20, 11),
        )
        deposit_demo_completions([marc], at=paris(2023, 9, 20, 12))

    # -- the living programme (deadlines ahead of the day the command runs) ----------------

    def _living_dispositif(self) -> Dispositif | None:
        """A demo dispositif whose calendar starts from `self.today`: no official calendar
        of a dispositif in progress is published with dates ahead of every day the demo may
        run, so the demo labels its own, everywhere it is shown, as fictitious."""
        if Dispositif.objects.filter(code=LIVING_CODE).exists():
            return None
        dispositif = Dispositif.objects.create(
            code=LIVING_CODE,
            couloir="medecins_de_ville",
            software_type="LGC",
            vague=2,
            title=f"{DEMO_MARK} Médecins de ville – LGC, calendrier fictif de démonstration",
            arrete=f"{DEMO_MARK} Aucun arrêté : dispositif et calendrier de démonstration.",
            advance_rate="0.30",
            acceptance="va",
            sources=(
                "Dispositif de démonstration : il n'existe pas. Ses échéances sont fixées à "
                f"partir du {self.today:%d/%m/%Y}, jour où le jeu de démonstration a été chargé."
            ),
        )
        version = CalendarVersion.objects.create(
            dispositif=dispositif,
            legal_reference=(
                f"{DEMO_MARK} Calendrier fictif de démonstration (chargé le "
                f"{self.today:%d/%m/%Y}), sans valeur officielle"
            ),
            founding=True,
            source="Jeu de démonstration (seed_demo) : aucune source officielle.",
        )
        Deadline.objects.bulk_create(
            Deadline(
                version=version,
                kind=kind,
                at=end_of_day_paris(self.today + dt.timedelta(days=days)),
                hour_sourced=False,
            )
            for kind, days in LIVING_DEADLINE_DAYS.items()
        )
        editor = self.vendors[0]
        solution = Solution.objects.get_or_create(
            editor=editor, name="MédiCabinet Démo", defaults={"software_type": "LGC"}
        )[0]
        release = SolutionVersion.objects.get_or_create(solution=solution, version=LIVING_VERSION)
        at = self.anchor - dt.timedelta(days=90)
        ref = ref_services.create_referencing(
            solution_version=release[0], dispositif=dispositif, vendor=editor, actor=SYSTEM, at=at
        )
        ref = ref_services.submit_referencing(referencing=ref, actor=editor.name, at=at)
        ref = ref_services.start_review(referencing=ref, actor=self.admin, at=at)
        decided = at + dt.timedelta(days=2)
        self.refs[(LIVING_CODE, LIVING_VERSION)] = ref_services.reference_solution(
            referencing=ref,
            actor=self.admin,
            ans_number=f"DEMO-VIVANT-{release[0].pk:04d}",
            referenced_on=decided.astimezone(PARIS).date(),
            at=decided,
        )
        return dispositif

    def _living(self, dispositif: Dispositif | None) -> None:
        """On the day the command runs: an order at risk (undelivered, the end of réalisation
        21 days ahead), a VA waiting for its client, a conflict whose 10 working days run, an
        avance ready to file before the end of avances."""
        ref = self.refs.get((LIVING_CODE, LIVING_VERSION))
        if dispositif is None or ref is None:
            return

        def ago(days: int) -> dt.datetime:
            return self.anchor - dt.timedelta(days=days)

        people = [
            self._client(n, ClientKind.MEDECIN_LIBERAL, f"Dr Démo {name}", rpps=demo_rpps(n))
            for n, name in ((60, "Olivia"), (61, "Paul"), (62, "Quentin"), (63, "Rose"))
        ]
        at_risk = self._order(ref, people[0], ago(40))
        deployments.schedule_deployment(
            order=at_risk,
            firm_date=self.today + dt.timedelta(days=14),
            actor=SYSTEM,
            at=ago(30),
        )
        waiting = self._order(ref, people[1], ago(35))
        va = acceptance.create_va(
            order=waiting,
            delivered_summary="Mise à jour 7.0 installée et paramétrée ; deux utilisateurs formés.",
            actor=SYSTEM,
            at=ago(8),
        )
        acceptance.issue_va(va=va, actor=SYSTEM, at=ago(8))
        # The éditeur holds the client; its distributor signs for it too, two days ago.
        self._order(ref, people[2], ago(20))
        self._order(ref, people[2], ago(2), vendor=self.vendors[2])
        to_file = self._order(ref, people[3], ago(10))
        prepare_demo_avances([to_file], at=ago(1))

    def _sites(self) -> None:
        mss = self.refs.get(("MSS-OPE-V1", "1.8"))
        if mss is not None:
            operator = self._client(
                20,
                ClientKind.OPERATEUR_MSSANTE,
                "Démo Messagerie Régionale",
                siret=build_siret("90000020", "0001"),
                characteristics={
                    "applicative_mailboxes": 10,
                    "organisational_mailboxes": 20,
                    "personal_mailboxes": 300,
                },
            )
            order = self._order(mss, operator, mss.decided_at + dt.timedelta(days=1))
            acceptance.declare_mom(
                order=order,
                signer=Signer(name="Chef de projet démo", role="Éditeur", identity_method="compte"),
                statement="Le connecteur est en ordre de marche chez l'opérateur.",
                actor=SYSTEM,
                at=paris(2023, 6, 1, 10),
            )
        lgo = self.refs.get(("OFF-LGO-V1", "3.1"))
        if lgo is not None:
            tariff = Tariff.objects.get(dispositif__code="OFF-LGO-V1", prestation="main")
            pharmacy = self._client(
                21,
                ClientKind.OFFICINE,
                "Pharmacie Démo du Centre",
                finess=demo_finess(21),
                # The figure the officines tariff reads (its middle demo tier).
                characteristics=({tariff.characteristic: 800_000} if tariff.characteristic else {}),
            )
            self._order(lgo, pharmacy, lgo.decided_at + dt.timedelta(days=1))
        hop = self.refs.get(("HOP-DPI-V2", "2024.1"))
        if hop is not None:
            at = hop.decided_at + dt.timedelta(days=5)
            for n in range(3):
                hospital = self._client(
                    30 + n,
                    ClientKind.ETABLISSEMENT_DE_SANTE,
                    f"Centre hospitalier Démo {n + 1}",
                    finess=demo_finess(30 + n),
                )
                order = self._order(hop, hospital, at)
                gates.designate_pilot(order=order, actor=SYSTEM, at=at)
                gates.record_pilot_pv(
                    order=order,
                    signed_on=(at + dt.timedelta(days=60)).date(),
                    pv_sha256="0" * 64,
                    actor=SYSTEM,
                )
            gates.publish_pilot_success(
                referencing=hop, actor=self.admin, at=at + dt.timedelta(days=90)
            )
        for n, kind, name in (
            (40, ClientKind.CENTRE_DE_SANTE, "Centre de santé Démo"),
            (41, ClientKind.MSP, "MSP Démo des Tilleuls"),
            (42, ClientKind.ESMS, "EHPAD Démo Les Glycines"),
            (43, ClientKind.LABORATOIRE, "Laboratoire Démo Biologie"),
            (44, ClientKind.CABINET_IMAGERIE, "Imagerie Démo Confluence"),
        ):
            self._client(n, kind, name, finess=demo_finess(n))
        # The one answer the conflict needs from the distributor: keep its order, for now.
        distributor_order = PurchaseOrder.objects.filter(vendor=self.vendors[2]).first()
        if distributor_order is not None:
            conflicts.respond_to_conflict(
                order=distributor_order,
                decision=Decision.KEEP,
                actor=self.vendors[2].name,
                note="Le client nous a signé un BDC le 07/11/2022.",
                at=paris(2022, 11, 8, 9),
            )

    def _claimable(self) -> None:
        """An LGC vague 2 order delivered and accepted lately: its avance and solde can be
        claimed today, through the commands (README, « Paiements »)."""
        ref = self.refs.get(("MDV-LGC-V2", "6.0"))
        if ref is None:
            return
        preseries = gates.start_preseries(
            solution_version=ref.solution_version,
            pilots=[
                {"name": "Dr Démo Pilote", "role": "medecin", "rpps": demo_rpps(50)},
                {"name": "Pharmacie Démo Pilote", "role": "pharmacien", "rpps": demo_rpps(51)},
            ],
            actor=SYSTEM,
        )
        preseries = gates.submit_preseries(preseries=preseries, actor=SYSTEM)
        gates.validate_preseries(preseries=preseries, actor=self.admin)
        start = ref.decided_at + dt.timedelta(hours=1)
        doctor = self._client(52, ClientKind.MEDECIN_LIBERAL, "Dr Démo Karim", rpps=demo_rpps(52))
        order = self._order(ref, doctor, start)
        deployment = deployments.schedule_deployment(
            order=order,
            firm_date=(start + dt.timedelta(days=3)).astimezone(PARIS).date(),
            actor=SYSTEM,
            at=start,
        )
        for step, hours in (
            (deployments.start_deployment, 24),
            (deployments.install_deployment, 48),
            (deployments.verify_deployment, 72),
        ):
            deployment = step(
                deployment=deployment, actor=SYSTEM, at=start + dt.timedelta(hours=hours)
            )
        self._va(order, start + dt.timedelta(hours=73))
