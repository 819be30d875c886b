"""What upper apps add to the demo world of `manage.py seed_demo` (never for production).

Also the demo's « living programme » calendar: a demo dispositif whose deadlines are set
relative to the day seed_demo runs, labelled as demo in its code, title and legal reference
(`sons.demo_marks.DEMO_DISPOSITIF_PREFIX` says which dispositifs are demo).

The demo world is written by sons, which may not import payments. Some of its orders need what
only payments writes: an avance filed with the ASP and paid, so that the end of réalisation
judges them as it judges real ones (SONS.md, « End of réalisation, exactly »: a paid avance
with neither the completion notified nor the solde filed goes to recovery). Payments registers
a hook here at start-up (its AppConfig.ready); seed_demo calls it with those orders. An app that
is not installed adds nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from .models import PurchaseOrder

# hook(orders, filed_at, paid_at): an avance of each order, filed at `filed_at`, paid at `paid_at`
PaidAvanceHook = Callable[[list[PurchaseOrder], dt.datetime, dt.datetime], None]

_PAID_AVANCE_HOOKS: list[PaidAvanceHook] = []
# hook(orders, at): an avance of each order prepared (made ready, not yet filed) at `at`
ReadyAvanceHook = Callable[[list[PurchaseOrder], dt.datetime], None]

_READY_AVANCE_HOOKS: list[ReadyAvanceHook] = []


def register_paid_avance_hook(hook: PaidAvanceHook) -> None:
    if hook not in _PAID_AVANCE_HOOKS:
        _PAID_AVANCE_HOOKS.append(hook)


def pay_demo_avances(orders: list[PurchaseOrder], *, filed_at: dt.datetime, paid_at: dt.datetime):
    for hook in _PAID_AVANCE_HOOKS:
        hook(orders, filed_at, paid_at)


def register_ready_avance_hook(hook: ReadyAvanceHook) -> None:
    if hook not in _READY_AVANCE_HOOKS:
        _READY_AVANCE_HOOKS.append(hook)


def prepare_demo_avances(orders: list[PurchaseOrder], *, at: dt.datetime):
    for hook in _READY_AVANCE_HOOKS:
        hook(orders, at)


# hook(orders, at): the notices of completion of these orders filed and deposited at the ASP at
# `at` (SONS.md step 4: the deposit is what tells the ASP)
DepositCompletionHook = Callable[[list[PurchaseOrder], dt.datetime], None]

_DEPOSIT_COMPLETION_HOOKS: list[DepositCompletionHook] = []


def register_deposit_completion_hook(hook: DepositCompletionHook) -> None:
    if hook not in _DEPOSIT_COMPLETION_HOOKS:
        _DEPOSIT_COMPLETION_HOOKS.append(hook)


def deposit_demo_completions(orders: list[PurchaseOrder], *, at: dt.datetime):
    for hook in _DEPOSIT_COMPLETION_HOOKS:
        hook(orders, at)
