from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "signing"
    verbose_name = "Signature en ligne"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import hooks

        from . import checks  # noqa: F401 - registers the seal's deployment check
        from .sealing import seal_pdf  # pyHanko loads on the first seal, not at start-up
        from .services import send_va_link

        # What the lifecycle asks of signing without importing it (core/hooks.py).
        hooks.register("seal_pdf", seal_pdf)
        hooks.register("send_va_link", send_va_link)
