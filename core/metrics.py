"""The engine's Prometheus metrics, defined once here; the apps call them in one line each.

HTTP requests, latencies and database queries are django-prometheus's (its middlewares and
database backends, see the settings). Ours:

- `sons_transitions_total{model, transition}`: journaled state changes (core.journal);
- `sons_payment_claims{state}`: claims by state, counted at scrape time by one GROUP BY;
- `sons_reminders_sent_total{kind}`: reminders mailed (reminders.tasks), one per delivery;
- `sons_filings_built_total{kind}`: ASP filings built (payments.services.filings);
- `sons_celery_tasks_{started,succeeded,failed,retried}_total{task}` and
  `sons_celery_task_duration_seconds{task}`: from Celery's signals, in whichever process runs
  the task (the worker, or the web process in the embedded mode).

With several processes (gunicorn workers, Celery's prefork pool) each process writes its values
under PROMETHEUS_MULTIPROC_DIR and the scrape adds them up (prometheus_client's multiprocess
mode); the directory must exist, be the same for every process of the host and be emptied when
they start (README, « Operations »).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections import Counter as Tally
from collections.abc import Iterable

from celery.signals import task_failure, task_postrun, task_prerun, task_retry, task_success
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

logger = logging.getLogger(__name__)

TRANSITIONS = Counter(
    "sons_transitions",
    "State changes written to the transition journal, by model and transition.",
    ["model", "transition"],
)
REMINDERS_SENT = Counter(
    "sons_reminders_sent", "Reminders mailed (one per delivery, digests included).", ["kind"]
)
FILINGS_BUILT = Counter("sons_filings_built", "ASP filings built, by kind of claim.", ["kind"])

TASKS_STARTED = Counter("sons_celery_tasks_started", "Celery tasks started.", ["task"])
TASKS_SUCCEEDED = Counter("sons_celery_tasks_succeeded", "Celery tasks succeeded.", ["task"])
TASKS_FAILED = Counter(
    "sons_celery_tasks_failed", "Celery tasks failed for good (dead letters).", ["task"]
)
TASKS_RETRIED = Counter("sons_celery_tasks_retried", "Celery task retries scheduled.", ["task"])
TASK_DURATION = Histogram(
    "sons_celery_task_duration_seconds",
    "Run time of Celery tasks.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, float("inf")),
)


def count_transitions(entries: Iterable) -> None:
    """Counted when the journal entries are written, inside the change's transaction (not after
    commit): a change rolled back after its journal entry is still counted, which only happens
    when something fails after the change; after-commit counting would add a callback to every
    transaction of the engine."""
    tally = Tally(
        (f"{e.content_type.app_label}.{e.content_type.model}", e.transition) for e in entries
    )
    for (model, transition), n in tally.items():
        TRANSITIONS.labels(model=model, transition=transition).inc(n)


def count_reminders_sent(kinds: Iterable[str]) -> None:
    for kind, n in Tally(kinds).items():
        REMINDERS_SENT.labels(kind=kind).inc(n)


class ClaimsByState:
    """`sons_payment_claims{state}`, counted when Prometheus scrapes: one GROUP BY query.

    The model is looked up by name: core must not import payments (dependencies point one way)."""

    NAME = "sons_payment_claims"
    HELP = "Payment claims by state, counted at scrape time."

    def describe(self):
        return [GaugeMetricFamily(self.NAME, self.HELP, labels=["state"])]

    def collect(self):
        claim = apps.get_model("payments", "PaymentClaim")
        try:
            counts = dict(claim.objects.order_by().values_list("status").annotate(n=Count("pk")))
        except DatabaseError:
            logger.warning("metrics_claims_unavailable", exc_info=True)
            return
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["state"])
        states = {value for value, _label in claim._meta.get_field("status").flatchoices}
        for state in sorted(states | set(counts)):
            family.add_metric([state], counts.get(state, 0))
        yield family


CLAIMS_BY_STATE = ClaimsByState()


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


if not multiprocess_mode():
    REGISTRY.register(CLAIMS_BY_STATE)


def _registry() -> CollectorRegistry:
    """The process's own registry, or every process's values read from the shared directory
    (as django-prometheus's ExportToDjangoView does), plus the claims counted now."""
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(CLAIMS_BY_STATE)
    return registry


def allowed_to_scrape(request) -> bool:
    """A bearer token from the environment (METRICS_TOKEN) or an address in the configured
    networks (METRICS_ALLOWED_NETWORKS; loopback only, and only with DEBUG on, by default)."""
    token = getattr(settings, "METRICS_TOKEN", "")
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in getattr(settings, "METRICS_ALLOWED_NETWORKS", [])
    )


def metrics_view(request):
    """`/metrics` in Prometheus's text format (or OpenMetrics when asked); 403 to strangers."""
    if not allowed_to_scrape(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(_registry()), content_type=content_type)


# -- Celery tasks: counted by their signals, in the process that runs them ----------------------

_started: dict[str, float] = {}


def _name(sender) -> str:
    return getattr(sender, "name", None) or str(sender)


@task_prerun.connect
def _task_started(sender=None, task_id=None, **kwargs):
    TASKS_STARTED.labels(task=_name(sender)).inc()
    _started[task_id] = time.perf_counter()


@task_postrun.connect
def _task_ended(sender=None, task_id=None, **kwargs):
    began = _started.pop(task_id, None)
    if began is not None:
        TASK_DURATION.labels(task=_name(sender)).observe(time.perf_counter() - began)


@task_success.connect
def _task_succeeded(sender=None, **kwargs):
    TASKS_SUCCEEDED.labels(task=_name(sender)).inc()


@task_failure.connect
def _task_failed(sender=None, **kwargs):
    TASKS_FAILED.labels(task=_name(sender)).inc()


@task_retry.connect
def _task_retried(sender=None, **kwargs):
    TASKS_RETRIED.labels(task=_name(sender)).inc()
