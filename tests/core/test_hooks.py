"""The hooks through which the lifecycle asks signing (core/hooks.py), and the reminders' signal
the API listens to: filled at start-up, loud when missing."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import hooks
from reminders.signals import deadline_reminders_recorded


def test_every_hook_is_filled_at_start_up_by_its_app():
    from signing.sealing import seal_pdf
    from signing.services import send_va_link

    assert hooks.registered() == {"seal_pdf": seal_pdf, "send_va_link": send_va_link}
    assert set(hooks.HOOKS) == set(hooks.registered())


def test_a_hook_nobody_filled_says_which_app_must(monkeypatch):
    monkeypatch.setattr(hooks, "_registry", {})
    with pytest.raises(hooks.HookNotRegistered, match="« signing » doit être dans INSTALLED_APPS"):
        hooks.seal_pdf(b"%PDF", reason="Essai")


def test_an_unknown_or_second_implementation_is_refused():
    with pytest.raises(ImproperlyConfigured, match="Crochet inconnu"):
        hooks.register("sign_everything", print)
    with pytest.raises(ImproperlyConfigured, match=r"déjà fourni par signing\.sealing\.seal_pdf"):
        hooks.register("seal_pdf", lambda content, *, reason: content)
    hooks.register("seal_pdf", hooks.implementation("seal_pdf"))  # ready() twice: harmless


def test_the_lifecycle_seals_through_the_hook():
    from sons.tasks import _sealed

    calls = []

    def fake(content, *, reason):
        calls.append(reason)
        return content + b"-sealed"

    with hooks.replaced("seal_pdf", fake):
        assert _sealed(b"%PDF", reason="Essai") == b"%PDF-sealed"
    assert calls == ["Essai"]
    assert hooks.implementation("seal_pdf") is not fake


def test_the_api_listens_to_the_reminders():
    from api.apps import announce_deadline_reminders

    listeners = [ref() for _key, ref, *_rest in deadline_reminders_recorded.receivers]
    assert announce_deadline_reminders in listeners
