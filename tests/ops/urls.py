"""A view that logs and schedules a task, as the engine's views do, for the request id's tests."""

import logging

from django.http import JsonResponse
from django.urls import path

from core.tasks import verify_journal_task
from sons.urls import urlpatterns as engine_urlpatterns

logger = logging.getLogger("tests.ops")


def schedule_verification(request):
    logger.info("verification_scheduled by=test")
    result = verify_journal_task.delay()
    return JsonResponse({"task_id": result.id})


urlpatterns = [path("test-ops/verifier/", schedule_verification), *engine_urlpatterns]
