"""Deadline sweep benchmark on the national data set (run by `make bench`, never by the test suite).

The national set holds orders only, so the script gives the orders the life they would have at
the end of vague 1 (`add_activity`, bulk SQL, not timed): avance claims (90 % paid, 5 %
submitted, 5 % ready or draft), soldes paid for completed orders, acceptances (a signed VA where
the dispositif asks for one, a MOM elsewhere) and a completion notice for 90 % of the signed
orders (filed with the ASP in a monthly filing, deposited the next month), a verified
deployment for each accepted order and a firm date for half of the others, a window for the
orders signed under condition, open recoveries for the orders in recovery, and 1,000 conflicts
whose answers are overdue (one vendor kept its order, the other said nothing).
Then it judges at AT, after every vague-1 deadline, so that each step of the sweep has work.

The activity is added, committed, to copies of the national database (one order in one, and
one in ten); each measurement runs in a fresh process on a fresh copy of one of them, dropped
afterwards, its writes committed as in production:

- the sweep, `payments.sweep.sweep(AT)`: wall time, Python CPU, peak RSS (VmHWM, reset just
  before), every statement (counted by an execute wrapper, grouped by shape);
- its floor (`floor`): the same selection (the same selectors, one query each), then the same
  writes by hand: per step one UPDATE (or INSERT) and one INSERT of its journal rows, chained
  with the same SHA-256 under the journal head's lock;

interleaved (sweep, floor, sweep, floor), and the sweep on the tenth to see whether the
statements grow with the objects moved. Prints one JSON line and each check; exits 1 when a
target is missed. `BENCH_PROFILE=1` prints a cProfile of the sweep on stderr.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import gc
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sons.settings")

import django

django.setup()

from _common import (  # noqa: E402
    JOURNAL_UNNEST,
    production_planner_sql,
    reset_peak_rss,
    shape,
    status_mb,
)
from django.db import connection, transaction  # noqa: E402

from catalogue.deadlines import PARIS  # noqa: E402
from catalogue.models import Solution, SolutionVersion, Vendor  # noqa: E402
from core.identifiers import build_siret  # noqa: E402
from payments.selectors import due_for_recovery, late_claims  # noqa: E402
from payments.sweep import sweep  # noqa: E402
from sons.models import PurchaseOrder  # noqa: E402
from sons.selectors import (  # noqa: E402
    expired_conflicts,
    lapsing_orders,
    orders_missing_firm_date,
    silent_positions,
)

# The nightly sweep of 2 December 2024: every vague-1 deadline (soldes of PDS/PDE: 10/07/2024)
# has passed.
AT = dt.datetime(2024, 12, 2, 0, 5, tzinfo=PARIS)
CONFLICTS = 1000
CONFLICT_VENDOR = "Éditeur bench balayage"
CONFLICT_SIRET = build_siret("79999998", "0001")

# Targets (issue 17): the sweep at most 2.5 times its floor (the same writes in hand-written
# SQL, committed, in the same run, interleaved), 200 MB at most, and a number of statements that
# does not grow with the objects moved (the full activity against a tenth of it).
TARGET_RATIO = 2.5
TARGET_PEAK_MB = 200.0
TARGET_EXTRA_QUERIES = 0
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))


# --- The activity of the end of vague 1, in bulk SQL ---------------------------------------------

ACTIVITY_SQL = [
    # With the activity on one order in `every`, the others stay out of the sweep's way: they are
    # marked as already flagged for their firm date (the only step that would take them).
    (
        "inert_orders",
        """UPDATE sons_purchaseorder SET firm_date_flagged_at = '2023-07-01T12:00:00+00:00'
           WHERE status = 'signed' AND firm_date_flagged_at IS NULL AND id %% %(every)s <> 0""",
    ),
    # Orders signed under condition wait 4 months for their referencing (LGC vague 1's window).
    (
        "conditional_windows",
        """UPDATE sons_purchaseorder SET conditional_until = signed_at + interval '4 months'
           WHERE status = 'conditional' AND id %% %(every)s = 0""",
    ),
    # One avance per order that was signed firm: 18 in 20 paid, 1 submitted, 1 ready or draft.
    (
        "avances",
        """INSERT INTO payments_paymentclaim (kind, status, amount_ht_cents, amount_ttc_cents,
             created_at, ready_at, submitted_at, validated_at, paid_on, paid_amount_cents,
             agency_reason, invoice_number, invoice_pdf, invoice_sha256, checks, order_id,
             deadline_missed_reason, dispositif_id)
           SELECT 'avance', s.status, 45000, 54000, o.signed_at + interval '7 days',
             o.signed_at + interval '7 days',
             CASE WHEN s.status IN ('paid', 'submitted') THEN o.signed_at + interval '14 days' END,
             CASE WHEN s.status = 'paid' THEN o.signed_at + interval '30 days' END,
             CASE WHEN s.status = 'paid'
               THEN ((o.signed_at + interval '44 days') AT TIME ZONE 'Europe/Paris')::date END,
             CASE WHEN s.status = 'paid' THEN 54000 END,
             '', '', '', '', '{}'::jsonb, o.id, '', o.dispositif_id
           FROM sons_purchaseorder o
           CROSS JOIN LATERAL (SELECT CASE
               WHEN (o.id / %(every)s / 20) %% 20 < 18 THEN 'paid'
               WHEN (o.id / %(every)s / 20) %% 20 = 18 THEN 'submitted'
               WHEN o.id %% 2 = 0 THEN 'ready' ELSE 'draft' END AS status) s
           WHERE o.status IN ('signed', 'completed', 'defaulted', 'in_recovery')
             AND o.id %% %(every)s = 0""",
    ),
    (
        "soldes",
        """INSERT INTO payments_paymentclaim (kind, status, amount_ht_cents, amount_ttc_cents,
             created_at, ready_at, submitted_at, validated_at, paid_on, paid_amount_cents,
             agency_reason, invoice_number, invoice_pdf, invoice_sha256, checks, order_id,
             deadline_missed_reason, dispositif_id)
           SELECT 'solde', 'paid', 105000, 126000, o.signed_at + interval '150 days',
             o.signed_at + interval '150 days', o.signed_at + interval '160 days',
             o.signed_at + interval '180 days',
             ((o.signed_at + interval '190 days') AT TIME ZONE 'Europe/Paris')::date, 126000,
             '', 'F-' || o.id, '', '', '{}'::jsonb, o.id, '', o.dispositif_id
           FROM sons_purchaseorder o
           WHERE o.status = 'completed' AND o.id %% %(every)s = 0""",
    ),
    # 18 in 20 signed orders and every completed one are accepted, 100 days after signature.
    (
        "vas",
        """INSERT INTO sons_verificationaptitude (version, status, delivered_summary, statements,
             mssante_address, issued_at, pdf, pdf_sha256, signed_pdf, signed_pdf_sha256, order_id,
             contact_email, dispositif_id)
           SELECT 1, 'signed', 'Mise à jour livrée', '[]'::jsonb, 'va@medecin.mssante.fr',
             o.signed_at + interval '99 days', '', '', '', '', o.id, '', o.dispositif_id
           FROM sons_purchaseorder o JOIN catalogue_dispositif d ON d.id = o.dispositif_id
           WHERE d.acceptance IN ('va', 'pilot_pv') AND o.id %% %(every)s = 0
             AND (o.status = 'completed'
                  OR (o.status = 'signed' AND (o.id / %(every)s) %% 20 < 18))""",
    ),
    (
        "va_decisions",
        """INSERT INTO sons_vadecision (signer_name, signer_role, signer_rpps, identity_method,
             identity_subject, user_agent, outcome, decided_at, statements_confirmed,
             document_sha256, non_blocking_reserves, blocking_reserves, va_id, dispositif_id)
           SELECT 'Signataire', 'Médecin', '', 'otp', '', '', 'signed',
             o.signed_at + interval '100 days', '[]'::jsonb, repeat('0', 64), '', '', v.id,
             v.dispositif_id
           FROM sons_verificationaptitude v JOIN sons_purchaseorder o ON o.id = v.order_id""",
    ),
    (
        "moms",
        """INSERT INTO sons_momdeclaration (signer_name, signer_role, signer_rpps, identity_method,
             identity_subject, user_agent, declared_at, mssante_address, statement, order_id)
           SELECT 'Chef de projet', 'Éditeur', '', 'compte', '', '',
             o.signed_at + interval '100 days', 'mom@medecin.mssante.fr', 'En ordre de marche', o.id
           FROM sons_purchaseorder o JOIN catalogue_dispositif d ON d.id = o.dispositif_id
           WHERE d.acceptance NOT IN ('va', 'pilot_pv') AND o.id %% %(every)s = 0
             AND (o.status = 'completed'
                  OR (o.status = 'signed' AND (o.id / %(every)s) %% 20 < 18))""",
    ),
    # The vendor notified the ASP of the completion of each accepted order, the day after it.
    (
        "completion_notices",
        """INSERT INTO sons_completionnotice (notified_at, notified_by, statement, order_id)
           SELECT o.signed_at + interval '101 days', 'Éditeur', 'Prestation achevée', o.id
           FROM sons_purchaseorder o
           WHERE o.id %% %(every)s = 0
             AND (o.status = 'completed'
                  OR (o.status = 'signed' AND (o.id / %(every)s) %% 20 < 18))""",
    ),
    # Each month's notices are filed in one filing per vendor and dispositif, deposited at the
    # ASP at the start of the next month: what makes a notice count (completion_deposited).
    (
        "completion_filings",
        """INSERT INTO payments_aspfiling (kind, sequence, name, schema_version, status,
             created_at, line_count, total_ttc_cents, json_file, json_sha256, zip_file,
             zip_sha256, transmitted_at, dispositif_id, vendor_id, set_aside_reason)
           SELECT 'achevement',
             row_number() OVER (PARTITION BY g.vendor_id, g.dispositif_id ORDER BY g.month),
             'BENCH_ACHEVEMENT_' || g.vendor_id || '_' || g.dispositif_id || '_'
               || to_char(g.month, 'YYYYMM'),
             '1', 'transmitted', g.month, g.lines, 0, '', '', '', '', g.month + interval '1 month',
             g.dispositif_id, g.vendor_id, ''
           FROM (SELECT o.vendor_id, o.dispositif_id, date_trunc('month', n.notified_at) AS month,
                        count(*) AS lines
                   FROM sons_completionnotice n JOIN sons_purchaseorder o ON o.id = n.order_id
                  GROUP BY 1, 2, 3) g""",
    ),
    (
        "filed_completions",
        """INSERT INTO payments_filedcompletion (line_number, filing_id, notice_id,
             agency_decision, agency_reason, order_id, dispositif_id)
           SELECT row_number() OVER (PARTITION BY f.id ORDER BY n.id), f.id, n.id, '', '',
             n.order_id, o.dispositif_id
           FROM sons_completionnotice n
           JOIN sons_purchaseorder o ON o.id = n.order_id
           JOIN payments_aspfiling f ON f.kind = 'achevement' AND f.vendor_id = o.vendor_id
             AND f.dispositif_id = o.dispositif_id
             AND f.created_at = date_trunc('month', n.notified_at)""",
    ),
    # A verified deployment for each accepted order, a firm date for half of the others.
    (
        "deployments",
        """INSERT INTO sons_deployment (status, firm_date, firm_date_confirmed_at, started_at,
             installed_at, verified_at, abandon_reason, order_id, dispositif_id)
           SELECT CASE WHEN accepted THEN 'verified' ELSE 'scheduled' END,
             ((o.signed_at + interval '90 days') AT TIME ZONE 'Europe/Paris')::date,
             o.signed_at + interval '20 days',
             CASE WHEN accepted THEN o.signed_at + interval '80 days' END,
             CASE WHEN accepted THEN o.signed_at + interval '95 days' END,
             CASE WHEN accepted THEN o.signed_at + interval '99 days' END, '', o.id,
             o.dispositif_id
           FROM (SELECT o.*, (o.status = 'completed' OR (o.id / %(every)s) %% 20 < 18) AS accepted
                 FROM sons_purchaseorder o
                 WHERE o.status IN ('signed', 'completed') AND o.id %% %(every)s = 0) o
           WHERE accepted OR (o.id / %(every)s) %% 20 = 18""",
    ),
    (
        "recoveries",
        """INSERT INTO payments_recovery (cause, status, received_cents, offset_cents,
             amount_cents, opened_at, reason, notice_pdf, notice_sha256, order_id,
             dispositif_id)
           SELECT 'control', 'open', 54000, 0, 54000, o.signed_at + interval '400 days',
             'Contrôle a posteriori', '', '', o.id, o.dispositif_id
           FROM sons_purchaseorder o
           WHERE o.status = 'in_recovery' AND o.id %% %(every)s = 0
             AND EXISTS (SELECT 1 FROM payments_paymentclaim c
                         WHERE c.order_id = o.id AND c.status = 'paid')""",
    ),
    # A second vendor signs for clients another vendor holds; the first keeps its order, the
    # second never answers: the conflicts expire and the silent vendor's order is withdrawn.
    (
        "conflict_orders",
        """INSERT INTO sons_purchaseorder (vendor_id, client_id, dispositif_id, solution_version_id,
             vendor_reference, installation_scenario, status, created_at, signed_at,
             signatory_name, signatory_role, signature_method, amount_ht_cents, amount_ttc_cents,
             pricing_snapshot, sworn_statement, client_renunciation, default_reason, pdf,
             pdf_sha256, prestation_variant)
           SELECT %(vendor)s, o.client_id, o.dispositif_id, %(version)s, '', 'Poste unique',
             'signed', o.signed_at + interval '60 days', o.signed_at + interval '60 days',
             o.signatory_name, '', 'psc', 150000, 180000, '{"bench": true}'::jsonb, '', '', '',
             '', '', ''
           FROM sons_purchaseorder o
           WHERE o.status = 'signed' AND o.id %% %(every)s = 0
           ORDER BY o.id LIMIT %(conflicts)s""",
    ),
    (
        "conflicts",
        """INSERT INTO sons_clientconflict (status, opened_at, respond_by, client_id,
             dispositif_id, decision_reason)
           SELECT 'open', o.signed_at, o.signed_at + interval '14 days', o.client_id,
             o.dispositif_id, ''
           FROM sons_purchaseorder o WHERE o.vendor_id = %(vendor)s""",
    ),
    (
        "conflict_positions",
        """INSERT INTO sons_conflictposition (decision, decided_at, note, conflict_id, order_id,
             respond_by)
           SELECT CASE WHEN o.vendor_id = %(vendor)s THEN 'pending' ELSE 'keep' END,
             CASE WHEN o.vendor_id = %(vendor)s THEN NULL ELSE c.opened_at END, '', c.id, o.id,
             c.respond_by
           FROM sons_clientconflict c
           JOIN sons_purchaseorder o
             ON o.client_id = c.client_id AND o.dispositif_id = c.dispositif_id
           WHERE c.status = 'open' AND o.status = 'signed'""",
    ),
]

ACTIVITY_TABLES = [
    "sons_purchaseorder",
    "payments_paymentclaim",
    "sons_verificationaptitude",
    "sons_vadecision",
    "sons_momdeclaration",
    "sons_completionnotice",
    "payments_aspfiling",
    "payments_filedcompletion",
    "sons_deployment",
    "payments_recovery",
    "sons_clientconflict",
    "sons_conflictposition",
]


def conflict_vendor() -> tuple[Vendor, SolutionVersion]:
    """The second vendor of the conflicts (created in the caller's transaction)."""
    vendor, _created = Vendor.objects.get_or_create(
        siret=CONFLICT_SIRET,
        defaults={
            "kind": Vendor.Kind.EDITEUR,
            "name": CONFLICT_VENDOR,
            "contact_email": "bench@editeur.invalid",
            "is_demo": True,
        },
    )
    solution, _created = Solution.objects.get_or_create(
        editor=vendor, name="Logiciel bench balayage", defaults={"software_type": "LGC"}
    )
    version, _created = SolutionVersion.objects.get_or_create(solution=solution, version="1.0")
    return vendor, version


def add_activity(every: int = 1, conflicts: int = CONFLICTS) -> dict[str, int]:
    """Gives one order in `every` the life it would have at the end of vague 1 (see the module's
    docstring), in one transaction (committed by the caller's, if any): on the bench's own copy
    of the national set (`bench/dashboard.py` calls it too). Returns rows per statement."""
    vendor, version = conflict_vendor()
    params = {
        "every": every,
        "vendor": vendor.pk,
        "version": version.pk,
        "conflicts": max(conflicts // every, 1),
    }
    rows = {}
    with transaction.atomic(), connection.cursor() as cursor:
        for name, sql in ACTIVITY_SQL:
            cursor.execute(sql, params)
            rows[name] = cursor.rowcount
    return rows


# --- What is due: the project's own selectors, one query per step ---------------------------------


def due_now(at: dt.datetime) -> dict[str, list]:
    """What each step of the sweep finds due at `at`, selected by the same selectors the sweep
    applies (one rule in one place: a hand-written copy of them drifted from the rules twice),
    one query each; the floor then writes these rows by hand."""
    return {
        "lapse": list(lapsing_orders(at=at).order_by("pk").values_list("pk", flat=True)),
        "flag_firm_date": list(
            orders_missing_firm_date(at=at)
            .filter(firm_date_flagged_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
        "lose_client": list(
            silent_positions(at=at).order_by("order_id").values_list("order_id", flat=True)
        ),
        "expire_conflict": list(
            expired_conflicts(at=at).order_by("pk").values_list("pk", flat=True)
        ),
        "open_recovery": list(
            due_for_recovery(PurchaseOrder.objects.all(), at=at).values_list("pk", "cause")
        ),
        "claim_deadline_missed": list(
            late_claims(at).order_by("pk").values_list("pk", "filing_late_reason")
        ),
    }


def vacuum_analyze() -> None:
    """After the bulk activity: autovacuum may be off on the bench server, and every copy of
    the database starts from these statistics and visibility maps."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in [*ACTIVITY_TABLES, "core_journalentry", "core_journalhead"]:
            cursor.execute(f"VACUUM ANALYZE {table}")


# --- Measuring ----------------------------------------------------------------------------------


def _cpu_s() -> float:
    """CPU time of this process (user + system): the Python side, whatever the machine's load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class QueryCounter:
    """An execute wrapper: counts every statement and its time by shape, keeping no SQL text
    beyond one per shape (the debug log of DEBUG=1 keeps at most 9,000 queries anyway)."""

    def __init__(self) -> None:
        self.shapes: dict[str, list] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = self.shapes.setdefault(shape(sql), [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - started

    @property
    def count(self) -> int:
        return sum(n for n, _t in self.shapes.values())

    def costly(self, top: int = 6) -> list[dict]:
        ranked = sorted(self.shapes.items(), key=lambda item: -item[1][1])[:top]
        return [{"count": n, "sql_s": round(t, 3), "sql": sql[:150]} for sql, (n, t) in ranked]


@contextmanager
def timed_steps(times: dict[str, float]):
    """Times each step of the sweep (its module-level functions, wrapped for the block)."""
    import payments.sweep as module

    originals = {
        name: getattr(module, name)
        for name in ("_move", "_flag", "_end_conflict_windows", "_open_recoveries")
    }

    def wrap(name, function):
        def timed(*args, **kwargs):
            key = args[3] if name == "_flag" else name.lstrip("_")
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                times[key] = round(times.get(key, 0) + time.perf_counter() - started, 3)

        return timed

    for name, function in originals.items():
        setattr(module, name, wrap(name, function))
    try:
        yield times
    finally:
        for name, function in originals.items():
            setattr(module, name, function)


# --- The floor: the same writes by the shortest path ---------------------------------------------

FLOOR_SQL = {
    "lapse": """
        UPDATE sons_purchaseorder o SET status = 'lapsed', ended_at = %(at)s FROM sons_client c
         WHERE o.id = ANY(%(ids)s) AND o.status = 'conditional' AND c.id = o.client_id
        RETURNING o.id, c.legal_name, 'conditional', 'lapsed'""",
    "flag_firm_date": """
        UPDATE sons_purchaseorder o SET firm_date_flagged_at = %(at)s FROM sons_client c
         WHERE o.id = ANY(%(ids)s) AND o.firm_date_flagged_at IS NULL AND c.id = o.client_id
        RETURNING o.id, c.legal_name, o.status, o.status""",
    "lose_client": """
        UPDATE sons_purchaseorder o SET status = 'cancelled', sworn_statement = %(withdrawn)s,
               client_renunciation = '', ended_at = %(at)s
          FROM sons_client c, (SELECT id, status FROM sons_purchaseorder WHERE id = ANY(%(ids)s)
                                 FOR NO KEY UPDATE) old
         WHERE o.id = old.id AND old.status IN ('conditional', 'signed') AND c.id = o.client_id
        RETURNING o.id, c.legal_name, old.status, 'cancelled'""",
    "expire_conflict": """
        UPDATE sons_clientconflict k SET status = 'expired', closed_at = %(at)s
          FROM sons_client c, catalogue_dispositif d
         WHERE k.id = ANY(%(ids)s) AND k.status = 'open' AND c.id = k.client_id
           AND d.id = k.dispositif_id
        RETURNING k.id, c.legal_name || ' × ' || d.code, 'open', 'expired'""",
    "open_recovery": """
        INSERT INTO payments_recovery (cause, status, received_cents, offset_cents, amount_cents,
               opened_at, reason, notice_pdf, notice_sha256, order_id, dispositif_id)
        SELECT due.cause, 'open', p.paid, 0, p.paid, %(at)s, %(reason)s, '', '', due.id,
               o.dispositif_id
          FROM unnest(%(ids)s::bigint[], %(causes)s::text[]) AS due(id, cause)
          JOIN sons_purchaseorder o ON o.id = due.id
          JOIN (SELECT order_id, sum(paid_amount_cents) AS paid FROM payments_paymentclaim
                 WHERE order_id = ANY(%(ids)s) AND status = 'paid' AND kind <> 'compensation'
                 GROUP BY order_id) p ON p.order_id = due.id
         WHERE p.paid > 0
        RETURNING id, order_id, '', 'open'""",
    "start_recovery": """
        UPDATE sons_purchaseorder o SET status = 'in_recovery',
               ended_at = coalesce(o.ended_at, %(at)s)
          FROM sons_client c, (SELECT id, status FROM sons_purchaseorder WHERE id = ANY(%(ids)s)
                                 FOR NO KEY UPDATE) old
         WHERE o.id = old.id AND old.status <> 'in_recovery' AND c.id = o.client_id
        RETURNING o.id, c.legal_name, old.status, 'in_recovery'""",
    "claim_deadline_missed": """
        UPDATE payments_paymentclaim c SET deadline_missed_at = %(at)s,
               deadline_missed_reason = due.reason
          FROM unnest(%(ids)s::bigint[], %(reasons)s::text[]) AS due(id, reason)
         WHERE c.id = due.id AND c.deadline_missed_at IS NULL
        RETURNING c.id, c.order_id, c.status, c.status""",
}
FLOOR_MODELS = {
    "lapse": ("sons", "purchaseorder", "lapse"),
    "flag_firm_date": ("sons", "purchaseorder", "flag_missing_firm_date"),
    "lose_client": ("sons", "purchaseorder", "cancel"),
    "expire_conflict": ("sons", "clientconflict", "expire"),
    "open_recovery": ("payments", "recovery", "open"),
    "start_recovery": ("sons", "purchaseorder", "start_recovery"),
    "claim_deadline_missed": ("payments", "paymentclaim", "flag_deadline_missed"),
}


def floor(at: dt.datetime) -> dict[str, int]:
    """What the sweep writes, by hand: what is due (`due_now`), then per step one UPDATE
    (or INSERT) and one INSERT of its journal rows, chained (the same SHA-256 of the same
    fields) under the journal head's lock, committed. Returns the rows each step wrote."""
    from django.contrib.contenttypes.models import ContentType

    from core.journal import compute_hash

    due = due_now(at)
    values = {
        "at": at,
        "withdrawn": "Retrait d'office : pas de réponse au conflit de financement.",
        "reason": "Ouvert par le balayage des échéances.",
    }
    stamp = at.astimezone(dt.UTC)
    written = {}
    recovered: list[int] = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_journalhead (id, sequence, last_hash) VALUES (1, 0, %s) "
            "ON CONFLICT (id) DO NOTHING",
            ["0" * 64],
        )
        cursor.execute("SELECT sequence, last_hash FROM core_journalhead WHERE id = 1 FOR UPDATE")
        sequence, last_hash = cursor.fetchone()
        for step, statement in FLOOR_SQL.items():
            # The orders whose recovery was just opened move to « in recovery ».
            rows = recovered if step == "start_recovery" else due.get(step, [])
            ids = [row[0] if isinstance(row, tuple) else row for row in rows]
            extra = {}
            if step == "open_recovery":
                extra["causes"] = [cause for _pk, cause in rows]
            if step == "claim_deadline_missed":
                extra["reasons"] = [reason for _pk, reason in rows]
            cursor.execute(statement, {**values, **extra, "ids": ids})
            rows = cursor.fetchall()
            recovered = [row[1] for row in rows] if step == "open_recovery" else []  # order ids
            written[step] = len(rows)
            app, model, transition = FLOOR_MODELS[step]
            content_type = ContentType.objects.get_by_natural_key(app, model)
            columns: list[list] = [[] for _ in range(14)]
            for pk, label, source, target in rows:
                sequence += 1
                snapshot = {"at": at.isoformat()}
                fields = {
                    "sequence": sequence,
                    "recorded_at": stamp.isoformat(),
                    "actor_id": None,
                    "actor_label": "système:sweep_deadlines",
                    "content_type": f"{app}.{model}",
                    "object_id": str(pk),
                    "object_repr": f"BDC-{pk:08d} – {label}",
                    "transition": transition,
                    "source_state": source,
                    "target_state": target,
                    "reason": "",
                    "snapshot": snapshot,
                }
                entry_hash = compute_hash(fields, last_hash)
                for column, value in zip(
                    columns,
                    (
                        sequence,
                        stamp,
                        None,
                        fields["actor_label"],
                        content_type.pk,
                        fields["object_id"],
                        fields["object_repr"],
                        transition,
                        source,
                        target,
                        "",
                        json.dumps(snapshot),
                        last_hash,
                        entry_hash,
                    ),
                    strict=True,
                ):
                    column.append(value)
                last_hash = entry_hash
            cursor.execute(JOURNAL_UNNEST, columns)
        cursor.execute(
            "UPDATE core_journalhead SET sequence = %s, last_hash = %s WHERE id = 1",
            [sequence, last_hash],
        )
    return written


# --- Measuring: each run on its own copy of the database, committed -----------------------------


def measure(kind: str) -> dict:
    """One sweep (or its floor) at AT, in this fresh process, on a copy of the database that is
    dropped afterwards: its writes are committed as in production."""
    counter = QueryCounter()
    step_s: dict[str, float] = {}
    profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") and kind == "sweep" else None
    ContentTypeWarmUp.run()
    gc.collect()
    rss_before = status_mb("VmRSS")
    reset_peak_rss()
    load = os.getloadavg()[0]
    with connection.execute_wrapper(counter), timed_steps(step_s):
        if profiler:
            profiler.enable()
        cpu_before = _cpu_s()
        started = time.perf_counter()
        moved = sweep(AT) if kind == "sweep" else floor(AT)
        elapsed = time.perf_counter() - started
        cpu_s = _cpu_s() - cpu_before
        if profiler:
            profiler.disable()
    peak = status_mb("VmHWM")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        sys.stderr.write(out.getvalue())
    return {
        "kind": kind,
        "moved": moved,
        "moved_total": sum(moved.values()),
        "seconds": round(elapsed, 3),
        "step_s": step_s,
        "python_cpu_s": round(cpu_s, 3),
        "load_average_1min": round(load, 2),
        "queries": counter.count,
        "sql_s": round(sum(t for _n, t in counter.shapes.values()), 3),
        "costly_queries": counter.costly(int(os.environ.get("BENCH_TOP_QUERIES", "6"))),
        "rss_before_mb": round(rss_before, 1),
        "rss_peak_mb": round(peak, 1),
    }


class ContentTypeWarmUp:
    """Both sides start with the content types cached (one lookup each, not part of the work)."""

    @staticmethod
    def run() -> None:
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()
        for app, model, _transition in FLOOR_MODELS.values():
            ContentType.objects.get_by_natural_key(app, model)


def _admin():
    """A connection to the server's maintenance database, to copy and drop databases."""
    import psycopg

    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def _copy(source: str, target: str) -> None:
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{target}"')
        admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
        admin.execute(production_planner_sql(target))


def _drop(name: str) -> None:
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _in(database: str, *args: str) -> dict:
    """Runs this script with `args` on `database`, in a fresh interpreter; its JSON line."""
    url = os.environ.get("DATABASE_URL", "")
    head, _sep, _name = url.rpartition("/")
    done = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DATABASE_URL": f"{head}/{database}"},
    )
    # The sweep logs a line per transition at INFO (as in production); only the rest is shown.
    sys.stderr.writelines(
        line
        for line in done.stderr.splitlines(keepends=True)
        if " level=INFO " not in line and '"level": "INFO"' not in line
    )
    if done.returncode != 0:
        raise RuntimeError(f"sweep bench {args} on {database} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_on_copy(template: str, kind: str) -> dict:
    work = f"{template}_run"
    _copy(template, work)
    try:
        return _in(work, "--measure", kind)
    finally:
        _drop(work)


def main() -> int:
    if not PurchaseOrder.objects.filter(vendor__name__startswith="Éditeur national ").exists():
        sys.stderr.write("bench/sweep.py needs the national data set (make bench).\n")
        return 2
    national = connection.settings_dict["NAME"]
    orders = PurchaseOrder.objects.count()
    connection.close()  # a database is copied only when nobody is connected to it
    templates = {every: f"{national}_sweep{every}" for every in (1, 10)}
    started = time.perf_counter()
    activity = {}
    for every, template in templates.items():
        _copy(national, template)
        activity[every] = _in(template, "--activity", str(every))
    setup_s = time.perf_counter() - started
    try:
        # Interleaved, A B A B: the same machine load on both sides.
        runs = []
        for _round in range(ROUNDS):
            runs.append(run_on_copy(templates[1], "sweep"))
            runs.append(run_on_copy(templates[1], "floor"))
        tenth = run_on_copy(templates[10], "sweep")
    finally:
        for template in templates.values():
            _drop(template)
    sweeps = [r for r in runs if r["kind"] == "sweep"]
    floors = [r for r in runs if r["kind"] == "floor"]
    full = min(sweeps, key=lambda r: r["seconds"])
    sweep_s = statistics.median(r["seconds"] for r in sweeps)
    floor_s = statistics.median(r["seconds"] for r in floors)
    ratio = sweep_s / floor_s
    # Both sides, from the same rows, wrote the same: the sweep's counts against the floor's.
    written = floors[0]["moved"]
    expected = {
        "lapse": written["lapse"],
        "flag_firm_date": written["flag_firm_date"],
        "lose_client": written["lose_client"],
        "expire_conflict+await_decision": written["expire_conflict"],
        "open_recovery": written["open_recovery"],
        "claim_deadline_missed": written["claim_deadline_missed"],
    }
    moved = dict(full["moved"])
    moved["expire_conflict+await_decision"] = moved.pop("expire_conflict", 0) + moved.pop(
        "await_decision", 0
    )
    matches = all(moved.get(k, 0) == v for k, v in expected.items() if k != "lose_client")
    extra_moves = full["moved_total"] - tenth["moved_total"]
    extra_queries = full["queries"] - tenth["queries"]
    checks = {
        "ratio_to_floor": ratio <= TARGET_RATIO,
        "peak_mb": max(r["rss_peak_mb"] for r in sweeps) <= TARGET_PEAK_MB,
        "queries_constant": extra_queries <= TARGET_EXTRA_QUERIES,
        "moves_match_floor": matches,
    }
    report = {
        "database": "postgresql",
        "orders": orders,
        "at": AT.isoformat(),
        "setup_s": round(setup_s, 1),
        "moved": full["moved"],
        "moved_total": full["moved_total"],
        "floor_wrote": written,
        "sweep_s": [r["seconds"] for r in sweeps],
        "floor_s": [r["seconds"] for r in floors],
        "load_average_1min": [r["load_average_1min"] for r in runs],
        "ratio_to_floor": round(ratio, 2),
        "target_ratio": TARGET_RATIO,
        "sweep_step_s": full["step_s"],
        "sweep_sql_s": full["sql_s"],
        "sweep_python_cpu_s": full["python_cpu_s"],
        "floor_sql_s": floors[0]["sql_s"],
        "rss_peak_mb": max(r["rss_peak_mb"] for r in sweeps),
        "target_peak_mb": TARGET_PEAK_MB,
        "queries_full": full["queries"],
        "queries_tenth": tenth["queries"],
        "moved_tenth": tenth["moved_total"],
        "extra_queries_for_extra_moves": [extra_queries, extra_moves],
        "target_extra_queries": TARGET_EXTRA_QUERIES,
        "floor_queries": floors[0]["queries"],
        "costly_queries": full["costly_queries"],
        "missed": [name for name, ok in checks.items() if not ok],
    }
    print(json.dumps(report, ensure_ascii=False))  # noqa: T201 - the benchmark's output is its report
    for name, ok in checks.items():
        sys.stderr.write(f"sweep {name}: {'ok' if ok else 'MISSED'}\n")
    sys.stderr.write(
        f"sweep: {ratio:.2f}x its floor (target <= {TARGET_RATIO}x), {sweep_s:.2f} s vs "
        f"{floor_s:.2f} s, load {os.getloadavg()[0]:.2f}\n"
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--activity"]:
        rows = add_activity(int(sys.argv[2]))
        vacuum_analyze()
        print(json.dumps({"rows": rows}))  # noqa: T201 - read by main()
        sys.exit(0)
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(sys.argv[2]), ensure_ascii=False))  # noqa: T201 - read by main()
        sys.exit(0)
    sys.exit(main())
