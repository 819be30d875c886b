from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API des fournisseurs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from reminders.signals import deadline_reminders_recorded

        from . import checks  # noqa: F401 - registers the webhooks' deployment check

        # The lower apps announce, the API listens: reminders never import the API.
        deadline_reminders_recorded.connect(
            announce_deadline_reminders, dispatch_uid="api.deadline_reminder_webhooks"
        )


def announce_deadline_reminders(sender, *, announcements, **kwargs) -> None:
    """Each vendor reminder becomes a « deadline.reminder » webhook to the subscribed systems."""
    from .webhooks import emit

    for vendor_id, payload in announcements:
        emit(vendor=vendor_id, event="deadline.reminder", payload=payload)
