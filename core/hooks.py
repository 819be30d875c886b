"""Named hooks: what a lower app needs done and only an upper app knows how to do.

Dependencies point one way (README, « Architecture »): the lifecycle (`sons`) may not import
`signing`, yet a signed BDC must be sealed and an issued VA's link mailed. The lower app calls
the hook by name through this module; the upper app registers its implementation in its
``AppConfig.ready()``. The hooks are few and each is declared here with its signature:

- ``seal_pdf(content, *, reason) -> bytes``: the document with the server's PAdES seal added
  (``signing.pades.seal_pdf``);
- ``send_va_link(*, va, actor, at=None, mail=True)``: a new personal link to sign an issued VA,
  mailed after commit (``signing.services.send_va_link``).

Every hook must be filled: the app that fills it is installed in every configuration, so calling
a hook nobody registered is a deployment error, raised loudly, never skipped. Side effects that
any number of apps may listen to (a reminder announced to the integrations) are Django signals
of the app that sends them instead (e.g. ``reminders.signals``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:  # core.journal needs the models loaded; this module must import before that
    from .journal import Actor

# Core imports no app above it, not even for types: a VA and a signing link are `Any` here.


class SealPdf(Protocol):
    def __call__(self, content: bytes, *, reason: str) -> bytes: ...


class SendVaLink(Protocol):
    def __call__(
        self,
        *,
        va: Any,
        actor: Actor,
        at: dt.datetime | None = None,
        mail: bool = True,
    ) -> Any: ...


# name -> the app that fills it: the whole list of hooks (their types are the Protocols above).
HOOKS: dict[str, str] = {
    "seal_pdf": "signing",
    "send_va_link": "signing",
}

_registry: dict[str, Callable[..., Any]] = {}


class HookNotRegistered(ImproperlyConfigured):
    """A hook was called before (or without) the app that fills it being ready."""


def register(name: str, function: Callable[..., Any]) -> None:
    """Fills hook `name`; called from the providing app's ``ready()``. Registering the same
    function again is harmless (``ready()`` may run twice); a second, different one is refused."""
    if name not in HOOKS:
        raise ImproperlyConfigured(f"Crochet inconnu : « {name} » (connus : {', '.join(HOOKS)}).")
    if not callable(function):
        raise ImproperlyConfigured(f"Le crochet « {name} » doit recevoir une fonction.")
    current = _registry.get(name)
    if current is not None and current is not function:
        where = f"{current.__module__}.{current.__qualname__}"
        raise ImproperlyConfigured(f"Le crochet « {name} » est déjà fourni par {where}.")
    _registry[name] = function


def implementation(name: str) -> Callable[..., Any]:
    """The function registered for `name`; raises `HookNotRegistered` if there is none."""
    try:
        return _registry[name]
    except KeyError:
        if name not in HOOKS:
            raise ImproperlyConfigured(f"Crochet inconnu : « {name} ».") from None
        provider = HOOKS[name]
        raise HookNotRegistered(
            f"Le crochet « {name} » n'est fourni par aucune application : l'application "
            f"« {provider} » doit être dans INSTALLED_APPS et l'enregistrer dans son ready()."
        ) from None


def registered() -> dict[str, Callable[..., Any]]:
    """A copy of the registry (for the deployment checks and the tests)."""
    return dict(_registry)


@contextmanager
def replaced(name: str, replacement: Callable[..., Any]) -> Iterator[None]:
    """Within the block, hook `name` runs `replacement` (tests only)."""
    implementation(name)  # the hook must exist and be filled
    previous = _registry[name]
    _registry[name] = replacement
    try:
        yield
    finally:
        _registry[name] = previous


# -- typed callers: what the lower apps call --------------------------------------------------


def seal_pdf(content: bytes, *, reason: str) -> bytes:
    hook: SealPdf = implementation("seal_pdf")
    return hook(content, reason=reason)


def send_va_link(
    *,
    va: Any,
    actor: Actor,
    at: dt.datetime | None = None,
    mail: bool = True,
) -> Any:
    hook: SendVaLink = implementation("send_va_link")
    return hook(va=va, actor=actor, at=at, mail=mail)
