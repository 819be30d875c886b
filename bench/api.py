"""API benchmarks on the national data set (run by `make bench`, never by the test suite).

Against gunicorn on this machine, production settings (DEBUG off), PostgreSQL `sons_bench`:

1. Listing orders: GET /api/v1/orders/?dispositif=<code>&status=signed (page of 100), 20
   concurrent clients, each in its own process looping without pause (sync workers close each
   connection, the gthread class keeps it alive), each a different national vendor with its own
   token, so that every request goes through authentication, vendor scoping, the per-token rate
   limit and the record of the call. Latency percentiles, then the same load on a plain Django
   view returning the same rows as JSON (one query, `.values()`, no authentication), and the
   ratio of the two.
2. Bulk: POST /api/v1/orders/bulk/ with 10,000 new orders for a vendor's 10,000 clients, end to
   end (the request, then the job's status until it is finished: above 1,000 items a bulk runs as
   a task; without a broker the task runs in-process after its request).

Setup (reported, not timed): 20 users and tokens for national vendors 000-019; a vendor
« Éditeur bench API » with a referenced solution and 10,000 clients, bulk-inserted. Clean-up (at
the start and at the end of each run): everything created is deleted again - users, tokens and
their calls, orders, clients, the bench vendor - except the journal entries of the 10,000 orders
(the journal is append-only) and the one user they name as author, kept inactive; then
`VACUUM ANALYZE` of the tables it wrote (autovacuum is off on the bench server).

The plain view is mounted for the run only: gunicorn gets a settings module written to a
temporary folder, the project's settings with a URL configuration that adds the plain view.

Prints one JSON line; exits 1 when a target is missed.
Environment: BENCH_CLIENTS (20), BENCH_REQUESTS (requests per client, 60), BENCH_BULK (10000),
BENCH_WORKERS (gunicorn workers, 4), BENCH_WORKER_CLASS (sync; or gthread with BENCH_THREADS
threads per worker, 4), BENCH_PORT (a free port by default).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sons.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from api.models import ApiToken, BulkJob, IdempotencyRecord  # noqa: E402
from api.tokens import issue_token  # noqa: E402
from catalogue.deadlines import PARIS  # noqa: E402
from catalogue.models import (  # noqa: E402
    Dispositif,
    Referencing,
    ReferencingStatus,
    Solution,
    SolutionVersion,
    Vendor,
    VendorMember,
)
from core.identifiers import build_siret  # noqa: E402
from sons.management.commands.seed_national import rpps  # noqa: E402
from sons.models import Client, ClientKind, ClientRelationship, OrderStatus, PurchaseOrder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CLIENTS = int(os.environ.get("BENCH_CLIENTS", "20"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "60"))
WARMUP = 5
BULK = int(os.environ.get("BENCH_BULK", "10000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "sync")
THREADS = int(os.environ.get("BENCH_THREADS", "4"))  # for the gthread worker class
PORT = int(os.environ.get("BENCH_PORT", "0")) or free_port()
HOST = "127.0.0.1"

USER_PREFIX = "bench-api-"
BULK_USER = "bench-api-masse"
BENCH_VENDOR = "Éditeur bench API"
BENCH_SIRET = build_siret("79999998", "0001")
BENCH_RPPS_FROM = 800_000_000  # national clients are rpps(0..orders), payments' 900,000,000+

# Targets (issue): 10,000 orders in one bulk ≤ 20 s end to end; the list's p95 ≤ 100 ms under
# 20 concurrent clients.
TARGET_BULK_S = 20.0
TARGET_LIST_P95_MS = 100.0

TOUCHED_TABLES = (
    "sons_purchaseorder",
    "sons_client",
    "sons_clientrelationship",
    "api_apicall",
    "api_apitoken",
    "api_bulkjob",
)

PLAIN_URLS = '''
"""Benchmark only: the project's URLs and a plain view returning the rows the API lists."""
from django.http import JsonResponse
from django.urls import path

from sons.models import PurchaseOrder
from sons.urls import urlpatterns as project

FIELDS = (
    "id", "vendor_reference", "client_id", "client__legal_name", "dispositif__code",
    "solution_version_id", "referencing_id", "installation_scenario", "status", "created_at",
    "signed_at", "signatory_name", "signatory_role", "signature_method", "amount_ht_cents",
    "amount_ttc_cents", "vat_rate", "conditional_until", "ended_at", "pdf_sha256",
)


def plain_orders(request):
    rows = (
        PurchaseOrder.objects.filter(
            vendor_id=request.GET["vendor"],
            dispositif__code=request.GET["dispositif"],
            status=request.GET["status"],
        )
        .order_by("-id")
        .values(*FIELDS)[:100]
    )
    return JsonResponse({"results": list(rows)})


urlpatterns = [path("bench/plain-orders/", plain_orders), *project]
'''

PLAIN_SETTINGS = """
from sons.settings import *  # noqa: F403

ROOT_URLCONF = "bench_api_urls"
"""


# --- setup and clean-up -------------------------------------------------------------------------


def clean() -> None:
    """Deletes what an earlier run left (journal entries excepted: append-only)."""
    user_model = get_user_model()
    with transaction.atomic():
        users = user_model.objects.filter(username__startswith=USER_PREFIX)
        ApiToken.objects.filter(user__in=users).delete()  # their calls go with them
        VendorMember.objects.filter(user__in=users).delete()
        IdempotencyRecord.objects.filter(key__startswith="bench-").delete()
        users.exclude(username=BULK_USER).delete()
        user_model.objects.filter(username=BULK_USER).update(is_active=False)
        vendor = Vendor.objects.filter(siret=BENCH_SIRET).first()
        if vendor is not None:
            BulkJob.objects.filter(vendor=vendor).delete()
            PurchaseOrder.objects.filter(vendor=vendor).delete()
            clients = list(
                ClientRelationship.objects.filter(vendor=vendor).values_list("client_id", flat=True)
            )
            ClientRelationship.objects.filter(vendor=vendor).delete()
            Client.objects.filter(pk__in=clients).delete()
            Referencing.objects.filter(vendor=vendor).delete()
            SolutionVersion.objects.filter(solution__editor=vendor).delete()
            Solution.objects.filter(editor=vendor).delete()
            vendor.delete()
    # Autovacuum is off on the bench server: the deleted rows would slow every later run down.
    with connection.cursor() as cursor:
        for table in TOUCHED_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")


def listing_tokens() -> list[dict]:
    """One member and token for each of the first national vendors, with its dispositif."""
    user_model = get_user_model()
    vendors = list(
        Vendor.objects.filter(name__startswith="Éditeur national ").order_by("name")[:CLIENTS]
    )
    if len(vendors) < CLIENTS:
        raise SystemExit("Jeu national absent : lancez d'abord `manage.py seed_national`.")
    out = []
    for n, vendor in enumerate(vendors):
        user = user_model.objects.create_user(f"{USER_PREFIX}{n:02d}", password=None)
        VendorMember.objects.create(user=user, vendor=vendor, role=VendorMember.Role.STAFF)
        referencing = Referencing.objects.filter(vendor=vendor).select_related("dispositif").first()
        out.append(
            {
                "vendor": vendor.pk,
                "dispositif": referencing.dispositif.code,
                "token": issue_token(user=user, name="bench").secret,
                "rows": PurchaseOrder.objects.filter(
                    vendor=vendor, dispositif=referencing.dispositif, status=OrderStatus.SIGNED
                ).count(),
            }
        )
    return out


def bulk_setup() -> dict:
    """The bench vendor, its referenced solution and BULK registered clients, bulk-inserted."""
    dispositif = Dispositif.objects.filter(vague=1).order_by("code").first()
    with transaction.atomic():
        vendor = Vendor.objects.create(
            kind=Vendor.Kind.EDITEUR, name=BENCH_VENDOR, siret=BENCH_SIRET, is_demo=True
        )
        solution = Solution.objects.create(editor=vendor, name="Logiciel bench API")
        version = SolutionVersion.objects.create(solution=solution, version="1.0")
        decided = dt.datetime(2022, 6, 20, 10, 0, tzinfo=PARIS)
        Referencing.objects.create(
            solution_version=version,
            dispositif=dispositif,
            vendor=vendor,
            status=ReferencingStatus.REFERENCED,
            submitted_at=decided,
            decided_at=decided,
            ans_number="BENCH-API",
            referenced_on=decided.date(),
        )
        clients = Client.objects.bulk_create(
            [
                Client(
                    kind=ClientKind.MEDECIN_LIBERAL,
                    legal_name=f"Dr Bench API {n:05d}",
                    rpps=rpps(BENCH_RPPS_FROM + n),
                    is_demo=True,
                )
                for n in range(BULK)
            ],
            batch_size=5000,
        )
        ClientRelationship.objects.bulk_create(
            [ClientRelationship(vendor=vendor, client=c) for c in clients], batch_size=5000
        )
        user, _created = get_user_model().objects.update_or_create(
            username=BULK_USER, defaults={"is_active": True}
        )
        VendorMember.objects.create(user=user, vendor=vendor, role=VendorMember.Role.ADMIN)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sons_client; ANALYZE sons_clientrelationship")
    return {
        "token": issue_token(user=user, name="bench").secret,
        "items": [
            {
                "client": c.pk,
                "dispositif": dispositif.code,
                "solution_version": version.pk,
                "installation_scenario": "Poste de travail, profil cabinet",
                "vendor_reference": f"BENCH-{n:05d}",
            }
            for n, c in enumerate(clients)
        ],
    }


# --- gunicorn ---------------------------------------------------------------------------------


def start_gunicorn(folder: Path) -> subprocess.Popen:
    (folder / "bench_api_urls.py").write_text(textwrap.dedent(PLAIN_URLS))
    (folder / "bench_api_settings.py").write_text(textwrap.dedent(PLAIN_SETTINGS))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench_api_settings",
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-" + uuid.uuid4().hex * 2),
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "API_RATE_LIMIT": "1000000/min",
        "PYTHONPATH": f"{folder}:{ROOT}",
    }
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "sons.wsgi",
            "--bind",
            f"{HOST}:{PORT}",
            "--workers",
            str(WORKERS),
            "--worker-class",
            WORKER_CLASS,
            "--threads",
            str(THREADS if WORKER_CLASS == "gthread" else 1),
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _attempt in range(100):
        if process.poll() is not None:
            break
        try:
            status, _body = request("GET", "/api/v1/schema/?format=json")
            if status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn n'a pas démarré.")


def request(method: str, path: str, *, token=None, body=None, headers=None, connection_=None):
    """One request; on `connection_` when given (kept alive), else on a connection of its own."""
    own = connection_ is None
    if own:
        connection_ = http.client.HTTPConnection(HOST, PORT, timeout=300)
    sent = {"Host": HOST, **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        connection_.request(method, path, body=data, headers=sent)
        response = connection_.getresponse()
        return response.status, response.read()
    finally:
        if own:
            connection_.close()


# --- measures ---------------------------------------------------------------------------------


def _client(path, token, barrier, results) -> None:
    """One client in its own process (no lock shared with the others), on one kept-alive
    connection: warm-up, then timed."""
    kept = http.client.HTTPConnection(HOST, PORT, timeout=300)
    for _n in range(WARMUP):
        request("GET", path, token=token, connection_=kept)
    barrier.wait()
    mine, bad = [], 0
    for _n in range(REQUESTS):
        started = time.perf_counter()
        status, _body = request("GET", path, token=token, connection_=kept)
        mine.append((time.perf_counter() - started) * 1000)
        bad += status != 200
    kept.close()
    results.put((mine, bad))


def load(targets: list[tuple[str, str | None]]) -> dict:
    """Each target (path, token) is one client looping in its own process; latency in ms."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(targets) + 1)
    results = context.Queue()
    clients = [context.Process(target=_client, args=(*t, barrier, results)) for t in targets]
    for process in clients:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    latencies: list[float] = []
    errors = 0
    for _process in clients:
        mine, bad = results.get()
        latencies.extend(mine)
        errors += bad
    elapsed = time.perf_counter() - started
    for process in clients:
        process.join()
    ordered = sorted(latencies)

    def pct(p):
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 1)

    return {
        "requests": len(ordered),
        "errors": errors,
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "mean_ms": round(statistics.fmean(ordered), 1),
        "throughput_rps": round(len(ordered) / elapsed, 1),
    }


def server_cpu_s(master: int) -> float:
    """CPU seconds used so far by gunicorn's master and workers (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == master or ppid == master:
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def measured(targets, master: int) -> dict:
    """The load, with gunicorn's CPU time per request (the application's own cost)."""
    before = server_cpu_s(master)
    result = load(targets)
    # warm-up requests are included in the CPU time: count them in the divisor too
    served = result["requests"] + WARMUP * len(targets)
    result["server_cpu_ms_per_request"] = round((server_cpu_s(master) - before) * 1000 / served, 1)
    return result


def single(path: str, token: str | None, count: int = 50) -> float:
    """Median latency (ms) of one client alone."""
    times = []
    for _n in range(count):
        started = time.perf_counter()
        request("GET", path, token=token)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def bulk_run(setup: dict) -> dict:
    started = time.perf_counter()
    status, body = request(
        "POST",
        "/api/v1/orders/bulk/",
        token=setup["token"],
        body={"items": setup["items"]},
        headers={"Idempotency-Key": f"bench-{uuid.uuid4()}"},
    )
    answered = time.perf_counter() - started
    job = json.loads(body)
    if status not in (200, 202):
        raise SystemExit(f"Bulk refusé ({status}) : {body[:500]!r}")
    while job["state"] in ("pending", "running"):
        time.sleep(0.2)
        _status, raw = request("GET", f"/api/v1/bulk-jobs/{job['id']}/", token=setup["token"])
        job = json.loads(raw)
    total = time.perf_counter() - started
    return {
        "items": len(setup["items"]),
        "http_status": status,
        "state": job["state"],
        "created": sum(1 for r in job["results"] if r["created"]),
        "response_s": round(answered, 2),
        "end_to_end_s": round(total, 2),
    }


def main() -> int:
    if connection.vendor != "postgresql":
        raise SystemExit("Ce banc d'essai tourne sur PostgreSQL (DATABASE_URL).")
    clean()
    report: dict = {
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "orders_in_database": PurchaseOrder.objects.count(),
        "clients": CLIENTS,
        "requests_per_client": REQUESTS,
        "gunicorn": f"{WORKERS} {WORKER_CLASS} workers"
        + (f" x {THREADS} threads" if WORKER_CLASS == "gthread" else ""),
    }
    try:
        tokens = listing_tokens()
        setup_started = time.perf_counter()
        bulk = bulk_setup()
        report["setup_s"] = round(time.perf_counter() - setup_started, 1)
        report["rows_per_list"] = sorted(t["rows"] for t in tokens)
        with tempfile.TemporaryDirectory() as folder:
            server = start_gunicorn(Path(folder))
            try:
                api = [
                    (f"/api/v1/orders/?dispositif={t['dispositif']}&status=signed", t["token"])
                    for t in tokens
                ]
                plain = [
                    (
                        f"/bench/plain-orders/?vendor={t['vendor']}&dispositif={t['dispositif']}"
                        "&status=signed",
                        None,
                    )
                    for t in tokens
                ]
                status, body = request("GET", api[0][0], token=api[0][1])
                assert status == 200 and len(json.loads(body)["results"]) == 100, body[:300]
                report["list_api_alone_ms"] = single(*api[0])
                report["list_plain_alone_ms"] = single(*plain[0])
                report["list_api"] = measured(api, server.pid)
                report["list_plain"] = measured(plain, server.pid)
                report["list_p95_ratio"] = round(
                    report["list_api"]["p95_ms"] / report["list_plain"]["p95_ms"], 2
                )
                report["bulk"] = bulk_run(bulk)
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        clean()
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report["targets"] = {
        "bulk_end_to_end_s": TARGET_BULK_S,
        "list_p95_ms": TARGET_LIST_P95_MS,
    }
    report["met"] = (
        report["bulk"]["end_to_end_s"] <= TARGET_BULK_S
        and report["bulk"]["created"] == BULK
        and report["list_api"]["p95_ms"] <= TARGET_LIST_P95_MS
        and report["list_api"]["errors"] == 0
    )
    print(json.dumps(report, ensure_ascii=False))  # noqa: T201 - the benchmark's output is its report
    return 0 if report["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
