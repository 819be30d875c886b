import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from sons.celery import app
from tests.browser import browser, laptop_page, phone_page  # noqa: F401  (shared fixtures)

real_broker = pytest.mark.skipif(
    settings.CELERY_BROKER_URL.startswith("memory://") or not settings.CELERY_RESULT_BACKEND,
    reason="needs a real broker and result backend (CELERY_BROKER_URL, CELERY_RESULT_BACKEND)",
)


@pytest.fixture
def worker():
    """A real Celery worker consuming from the configured broker, eager mode off meanwhile."""
    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            yield
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("ans-admin", "ans@example.invalid", "pw")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Rendered documents go to a per-test folder, never into the project's media/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
