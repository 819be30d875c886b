"""Health checks (django-health-check): the library's database, cache and storage checks, plus
the engine's own: the Celery broker, the age of the last deadline sweep and the last verification
of the journal's chain.

`/health/` runs them all and answers 200, or 503 naming the failed checks (JSON when asked with
`Accept: application/json` or `?format=json`); a warning (`ServiceWarning`) is shown, not failed.
`/health/live/` runs none: it answers 200 while the process serves, for the load balancer.
The checks read; none writes to the engine's tables (the storage check writes and deletes a file).
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.checks import Cache, Database, Storage
from health_check.exceptions import ServiceUnavailable, ServiceWarning
from health_check.views import HealthCheckView

from .models import RoutineRun

# The sweep runs at 00:05, 12:01 and 14:01 (Paris) and the journal is verified at 03:30: a day and
# two hours leaves room for a slow run without letting a stopped scheduler go unnoticed.
MAX_AGE = dt.timedelta(hours=26)


def embedded_mode() -> bool:
    """No broker: tasks run in-process and nothing is scheduled (settings' CELERY_BROKER_URL)."""
    return settings.CELERY_BROKER_URL.startswith("memory://")


def _hours(age: dt.timedelta) -> str:
    return f"{age.total_seconds() / 3600:.0f} h"


@dataclasses.dataclass
class CeleryBroker(HealthCheck):
    """The broker accepts a connection; in the embedded mode there is none to reach (OK)."""

    timeout: dt.timedelta = dataclasses.field(default=dt.timedelta(seconds=3), repr=False)

    async def run(self):
        url = settings.CELERY_BROKER_URL
        if embedded_mode():
            return
        if url.startswith(("redis://", "rediss://")):
            from health_check.contrib.redis import Redis
            from redis.asyncio import Redis as RedisClient

            seconds = self.timeout.total_seconds()
            await Redis(
                client_factory=lambda: RedisClient.from_url(
                    url, socket_connect_timeout=seconds, socket_timeout=seconds
                )
            ).run()
            return
        await sync_to_async(self._connect, thread_sensitive=False)(url)

    def _connect(self, url: str) -> None:
        from kombu import Connection

        try:
            with Connection(url, connect_timeout=self.timeout.total_seconds()) as connection:
                connection.ensure_connection(max_retries=1)
        except Exception as error:  # kombu raises its transport's own errors
            raise ServiceUnavailable(f"Broker unreachable ({type(error).__name__})") from error


class _RoutineCheck(HealthCheck):
    """Reads the routine's RoutineRun row, on the request's thread (its database connection)."""

    routine = ""

    async def run(self):
        try:
            run = await sync_to_async(RoutineRun.objects.filter(name=self.routine).first)()
        except DatabaseError as error:
            raise ServiceUnavailable("Database unreachable") from error
        self.judge(run, timezone.now())

    @abc.abstractmethod
    def judge(self, run: RoutineRun | None, now: dt.datetime) -> None:
        """Raises ServiceWarning or ServiceUnavailable when `run` (or its absence) calls for it."""


@dataclasses.dataclass
class DeadlineSweep(_RoutineCheck):
    """The last deadline sweep ran less than `max_age` ago. Never run: a failure, except in the
    embedded mode where nothing is scheduled (a warning: `manage.py sweep_deadlines`)."""

    max_age: dt.timedelta = dataclasses.field(default=MAX_AGE, repr=False)
    routine = RoutineRun.SWEEP

    def judge(self, run, now):
        if run is None:
            message = "No deadline sweep has run yet"
            if embedded_mode():
                raise ServiceWarning(f"{message} (embedded mode: manage.py sweep_deadlines)")
            raise ServiceUnavailable(message)
        age = now - run.finished_at
        if age > self.max_age:
            raise ServiceUnavailable(f"Last deadline sweep {_hours(age)} ago")


@dataclasses.dataclass
class JournalVerification(_RoutineCheck):
    """The last verification of the journal's chain found it whole (a failure otherwise) and is
    less than `max_age` old (a warning otherwise, or when none has run yet)."""

    max_age: dt.timedelta = dataclasses.field(default=MAX_AGE, repr=False)
    routine = RoutineRun.JOURNAL

    def judge(self, run, now):
        if run is None:
            raise ServiceWarning("The journal's chain has never been verified")
        if not run.succeeded:
            raise ServiceUnavailable(f"Journal chain broken ({run.detail})")
        age = now - run.finished_at
        if age > self.max_age:
            raise ServiceWarning(f"Journal last verified {_hours(age)} ago")


CHECKS = (
    Database,
    Cache,
    Storage,
    CeleryBroker,
    DeadlineSweep,
    JournalVerification,
)


class HealthView(HealthCheckView):
    """The library's view, answering 503 (not its 500) when a check fails, and 200 when the
    only findings are warnings (the library counts a warning as an error)."""

    checks = CHECKS

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            failed = [
                result
                for result in self.results
                if result.error and not isinstance(result.error, ServiceWarning)
            ]
            response.status_code = 503 if failed else 200
        return response
