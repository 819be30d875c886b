import pytest
from celery import shared_task

from core.models import TaskFailure

pytestmark = pytest.mark.django_db


@shared_task(name="tests.always_fails")
def always_fails(order_id):
    raise OSError("SMTP injoignable")


def test_a_task_that_fails_for_good_is_kept_as_a_dead_letter():
    # As a worker runs it (no propagation to a caller): the failure is recorded.
    result = always_fails.apply(args=[12], throw=False)
    assert result.failed()
    failure = TaskFailure.objects.get()
    assert failure.task_name == "tests.always_fails"
    assert failure.arguments == [12]
    assert "SMTP injoignable" in failure.exception
