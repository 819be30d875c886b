"""PostgreSQL stopped under the web app's API writes, then started again.

The web app runs as gunicorn on a PostgreSQL cluster of the test's own (the shared one is never
stopped), migrated and loaded like production. While the database is down every request answers
a clean 503 (`application/problem+json` with a French `detail` under /api/, a French page
elsewhere), with `Retry-After`, never a 500 or a traceback; once it is back, the same requests
with the same Idempotency-Keys create each resource once, and replay it after that.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections import Counter

import psycopg
import pytest
import requests

from tests.faults.conftest import (
    BASE_DIR,
    VENV_BIN,
    WAIT,
    free_port,
    needs_postgres_binaries,
    postgres_only,
    wait_for,
)
from tests.sons.factories import valid_rpps

pytestmark = [postgres_only, needs_postgres_binaries]

SETUP = """
import json
from django.contrib.auth import get_user_model
from django.utils import timezone
from api.tokens import issue_token
from catalogue.models import VendorMember
from tests.factories import SolutionFactory, SolutionVersionFactory, VendorFactory
from tests.payments.factories import DAY, open_dispositif
from tests.sons.factories import referenced

User = get_user_model()
admin = User.objects.create_superuser("ans-admin", "ans@example.invalid", "pw")
dispositif = open_dispositif(acceptance="va")
vendor = VendorFactory(name="Éditeur Panne")
member = User.objects.create_user("membre-panne", "membre@example.invalid", "pw")
VendorMember.objects.create(user=member, vendor=vendor, role=VendorMember.Role.ADMIN)
version = SolutionVersionFactory(solution=SolutionFactory(editor=vendor))
referenced(dispositif=dispositif, actor=admin, at=timezone.now() - 10 * DAY, version=version)
print(json.dumps({
    "secret": issue_token(user=member, name="CRM").secret, "vendor": vendor.pk,
    "version": version.pk, "dispositif": dispositif.code,
}))
"""


def app_environment(cluster, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="sons.settings",
        DEBUG="0",
        SECRET_KEY="faults-test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        LOG_JSON="0",
        DATABASE_URL=cluster.url("sons"),
        MEDIA_ROOT=str(tmp_path / "media"),
        EMAIL_URL="consolemail://",
    )
    env.pop("STORAGE_URL", None)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def web_app(postgres_cluster, tmp_path):
    """The cluster migrated and loaded, a vendor with a token, gunicorn serving on it."""
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE sons")
    env = app_environment(postgres_cluster, tmp_path)
    manage(env, "migrate", "--skip-checks", "-v0")
    manage(env, "load_dispositifs", "--skip-checks")
    # As a deployment does: the pages name their static files through the manifest.
    manage(env, "collectstatic", "--noinput", "-v0")
    world = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    port = free_port()
    with open(tmp_path / "gunicorn.log", "wb") as log:
        server = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "sons.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--timeout",
                "30",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            requests.get(f"{base}/health/live/", timeout=WAIT)  # the first loads the app
            return True
        except requests.ConnectionError:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            return False

    try:
        wait_for(up, "gunicorn to answer")
        world.update(base=base, log=tmp_path / "gunicorn.log")
        yield world
    finally:
        server.terminate()
        server.wait(timeout=WAIT)


def post(app, path: str, body: dict, key: str) -> requests.Response:
    return requests.post(
        f"{app['base']}{path}",
        json=body,
        headers={"Authorization": f"Bearer {app['secret']}", "Idempotency-Key": key},
        timeout=WAIT,
    )


def assert_unavailable(response: requests.Response, *, api: bool = True) -> None:
    assert response.status_code == 503, response.text[:2000]
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.text
    if api:
        assert response.headers["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert (problem["status"], problem["code"]) == (503, "database_unavailable")
        assert "indisponible" in problem["detail"] and "réessayez" in problem["detail"]
    else:
        assert response.headers["Content-Type"].startswith("text/html")
        assert "momentanément indisponible" in response.text


def test_postgres_stopped_under_api_writes_answers_503_then_creates_each_resource_once(
    postgres_cluster, web_app
):
    """Killed: our PostgreSQL cluster (`pg_ctl stop -m fast`) between API writes of the running
    gunicorn; started again after.

    Counted: while it was down, 2 POSTs (a client, an order), 1 GET of the API and 1 HTML page
    answered 503 with Retry-After (the API's as problem+json in French), no 500, no traceback.
    After the restart the 2 POSTs sent again with their keys created 1 client and 1 order (201),
    sent a third time they were replayed (same body, `Idempotent-Replayed`), like the POST made
    before the stop: 3 resources, each once; 1 journal entry per created order, 0 doubles; the
    idempotency keys all `done`; the journal's chain unbroken (`manage.py verify_journal`)."""
    app = web_app
    first_key, client_key, order_key = (str(uuid.uuid4()) for _ in range(3))
    client_body = lambda n: {  # noqa: E731
        "kind": "medecin_liberal",
        "legal_name": f"Dr Panne {n}",
        "rpps": valid_rpps(880000 + n),
        "mssante_address": f"dr.panne{n}@medecin.mssante.fr",
        "email": f"dr.panne{n}@example.invalid",
    }
    before = post(app, "/api/v1/clients/", client_body(1), first_key)
    assert before.status_code == 201, before.text
    order_body = {
        "client": before.json()["id"],
        "dispositif": app["dispositif"],
        "solution_version": app["version"],
        "installation_scenario": "Poste de travail, profil cabinet libéral",
        "vendor_reference": "CRM-PANNE-1",
    }

    postgres_cluster.stop()
    assert_unavailable(post(app, "/api/v1/clients/", client_body(2), client_key))
    assert_unavailable(post(app, "/api/v1/orders/", order_body, order_key))
    listing = requests.get(
        f"{app['base']}/api/v1/orders/",
        headers={"Authorization": f"Bearer {app['secret']}"},
        timeout=WAIT,
    )
    assert_unavailable(listing)
    assert_unavailable(requests.get(f"{app['base']}/referencements/", timeout=WAIT), api=False)
    postgres_cluster.start()

    client = post(app, "/api/v1/clients/", client_body(2), client_key)
    order = post(app, "/api/v1/orders/", order_body, order_key)
    assert (client.status_code, order.status_code) == (201, 201), client.text + order.text
    for key, path, body, first in (
        (first_key, "/api/v1/clients/", client_body(1), before),
        (client_key, "/api/v1/clients/", client_body(2), client),
        (order_key, "/api/v1/orders/", order_body, order),
    ):
        again = post(app, path, body, key)
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]

    with psycopg.connect(postgres_cluster.url("sons")) as db:
        rpps = [client_body(n)["rpps"] for n in (1, 2)]
        clients = db.execute(
            "SELECT rpps, count(*) FROM sons_client WHERE rpps = ANY(%s) GROUP BY rpps", [rpps]
        ).fetchall()
        orders = db.execute(
            "SELECT id FROM sons_purchaseorder WHERE vendor_id = %s AND client_id = %s",
            [app["vendor"], order_body["client"]],
        ).fetchall()
        journal = Counter(
            db.execute(
                "SELECT e.object_id, e.transition FROM core_journalentry e "
                "JOIN django_content_type t ON t.id = e.content_type_id "
                "WHERE t.model = 'purchaseorder'"
            ).fetchall()
        )
        keys = Counter(
            state for (state,) in db.execute("SELECT state FROM api_idempotencyrecord").fetchall()
        )
    assert sorted(clients) == sorted((r, 1) for r in rpps)
    assert orders == [(order.json()["id"],)]
    assert journal and max(journal.values()) == 1
    assert {object_id for object_id, _t in journal} == {str(order.json()["id"])}
    assert set(keys) == {"done"} and keys["done"] == 3
    env = app_environment(postgres_cluster, app["log"].parent)
    assert "Traceback" not in app["log"].read_text()
    manage(env, "verify_journal", "--skip-checks")
