"""Working out which reminders are due, recording each once, and delivering them.

`due_reminders(at)` computes (reads only); `send_due_reminders(at)` records the new ones in one
transaction and queues their mails after commit. Each reminder has a unique key, inserted with
ON CONFLICT DO NOTHING and tagged with this run's id: of two runs at once, each key is won by
exactly one, and only the winner creates the deliveries, so nobody gets the same reminder twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from catalogue.deadlines import DeadlineKind, format_deadline, format_paris
from catalogue.models import Dispositif, Vendor, VendorMember
from catalogue.selectors import AppliedDeadline, upcoming_deadlines
from payments.obligations import orders_concerned
from sons.models import OrderStatus, PurchaseOrder, VaStatus, VerificationAptitude
from sons.selectors import orders_at_risk

from . import signals
from .models import Delivery, Preference, Reminder, ReminderKind
from .rules import threshold_after, threshold_before

logger = logging.getLogger(__name__)


def vendor_thresholds() -> list[int]:
    return list(settings.REMINDER_DAYS_BEFORE_DEADLINE)


def va_thresholds() -> list[int]:
    return list(settings.REMINDER_DAYS_AFTER_VA_ISSUED)


@dataclass(frozen=True)
class Due:
    """A reminder due at the instant judged, before it is recorded."""

    key: str
    kind: str
    threshold_days: int
    reason: str
    vendor_id: int | None = None
    dispositif_id: int | None = None
    va_id: int | None = None
    deadline: AppliedDeadline | None = None
    order_ids: tuple[int, ...] = field(default=())


# -- what is due --------------------------------------------------------------------------------


def _deadline_key(prefix: str, deadline: AppliedDeadline, dispositif_id: int, n: int) -> str:
    return f"{prefix}:{dispositif_id}:{deadline.kind}:{deadline.at.isoformat()}:J-{n}"


def _upcoming(at: dt.datetime, kinds: Iterable[str]):
    """(dispositif, deadline, threshold) for every deadline in force whose threshold is reached."""
    horizon = dt.timedelta(days=max(vendor_thresholds()))
    for kind in kinds:
        for dispositif, deadline in upcoming_deadlines(
            dispositifs=Dispositif.objects.all(), kind=kind, at=at, within=horizon
        ):
            n = threshold_before(deadline.at, at, vendor_thresholds())
            if n is not None:
                yield dispositif, deadline, n


def _vendor_deadlines(at: dt.datetime) -> list[Due]:
    due = []
    for dispositif, deadline, n in _upcoming(at, DeadlineKind.values):
        orders = orders_concerned(deadline.kind, at=at)
        if orders is None:
            continue
        by_vendor: dict[int, list[int]] = defaultdict(list)
        for vendor_id, order_id in (
            orders.filter(dispositif=dispositif)
            .order_by("vendor_id", "pk")
            .values_list("vendor_id", "pk")
        ):
            by_vendor[vendor_id].append(order_id)
        reason = (
            f"{DeadlineKind(deadline.kind).label} le {format_deadline(deadline.at)} "
            f"({deadline.version.legal_reference}), seuil J-{n}"
        )
        due += [
            Due(
                key=_deadline_key(f"vendor:{vendor_id}", deadline, dispositif.pk, n),
                kind=ReminderKind.VENDOR_DEADLINE,
                threshold_days=n,
                reason=reason,
                vendor_id=vendor_id,
                dispositif_id=dispositif.pk,
                deadline=deadline,
                order_ids=tuple(ids),
            )
            for vendor_id, ids in by_vendor.items()
        ]
    return due


def _admin_at_risk(at: dt.datetime) -> list[Due]:
    due = []
    for dispositif, deadline, n in _upcoming(at, [DeadlineKind.REALISATION]):
        ids = tuple(
            orders_at_risk(at=at, dispositifs=Dispositif.objects.filter(pk=dispositif.pk))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids:
            due.append(
                Due(
                    key=_deadline_key("admin", deadline, dispositif.pk, n),
                    kind=ReminderKind.ADMIN_AT_RISK,
                    threshold_days=n,
                    reason=(
                        f"{len(ids)} BDC ni notifiés achevés ni soldés, fin de réalisation le "
                        f"{format_deadline(deadline.at)}, seuil J-{n}"
                    ),
                    dispositif_id=dispositif.pk,
                    deadline=deadline,
                    order_ids=ids,
                )
            )
    return due


def _client_va(at: dt.datetime) -> list[Due]:
    first = min(va_thresholds())
    waiting = VerificationAptitude.objects.filter(
        status=VaStatus.ISSUED,
        issued_at__lte=at - dt.timedelta(days=first),
        order__status=OrderStatus.SIGNED,
    ).values_list("pk", "order_id", "issued_at")
    due = []
    for va_id, order_id, issued_at in waiting:
        n = threshold_after(issued_at, at, va_thresholds())
        due.append(
            Due(
                key=f"va:{va_id}:J+{n}",
                kind=ReminderKind.CLIENT_VA,
                threshold_days=n,
                reason=f"VA émise le {format_paris(issued_at)}, en attente depuis {n} jours",
                va_id=va_id,
                order_ids=(order_id,),
            )
        )
    return due


def due_reminders(at: dt.datetime) -> list[Due]:
    """Every reminder due at `at`, whether or not it was already sent (see `not_yet_sent`)."""
    return _vendor_deadlines(at) + _client_va(at) + _admin_at_risk(at)


def not_yet_sent(due: list[Due]) -> list[Due]:
    keys = [d.key for d in due]
    recorded = set()
    for start in range(0, len(keys), 1000):
        recorded |= set(
            Reminder.objects.filter(key__in=keys[start : start + 1000]).values_list(
                "key", flat=True
            )
        )
    return [d for d in due if d.key not in recorded]


# -- who receives it ----------------------------------------------------------------------------


def _preferences(user_ids: Iterable[int]) -> dict[int, Preference]:
    return {p.user_id: p for p in Preference.objects.filter(user_id__in=list(user_ids))}


def _vendor_recipients(vendor_ids: set[int]) -> dict[int, list[tuple[str, int | None, bool]]]:
    """Per vendor: (address, user id, in digest) of its active members who want deadline
    reminders; the vendor's contact address when none of its members has an address."""
    members = list(
        VendorMember.objects.filter(vendor_id__in=vendor_ids, user__is_active=True)
        .exclude(user__email="")
        .values_list("vendor_id", "user_id", "user__email")
    )
    prefs = _preferences(u for _v, u, _e in members)
    out: dict[int, list[tuple[str, int | None, bool]]] = defaultdict(list)
    with_members = set()
    for vendor_id, user_id, email in members:
        with_members.add(vendor_id)
        pref = prefs.get(user_id) or Preference()
        if pref.vendor_deadlines:
            out[vendor_id].append((email, user_id, pref.daily_digest))
    for vendor_id, email in Vendor.objects.filter(pk__in=vendor_ids - with_members).values_list(
        "pk", "contact_email"
    ):
        if email:
            out[vendor_id].append((email, None, False))
    return out


def _admin_recipients() -> list[tuple[str, int | None, bool]]:
    staff = list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("pk", "email")
    )
    prefs = _preferences(pk for pk, _e in staff)
    out = []
    for pk, email in staff:
        pref = prefs.get(pk) or Preference()
        if pref.admin_at_risk:
            out.append((email, pk, pref.daily_digest))
    return out


def _client_recipients(va_ids: set[int]) -> dict[int, list[tuple[str, int | None, bool]]]:
    out = {}
    for va_id, email, mssante in VerificationAptitude.objects.filter(pk__in=va_ids).values_list(
        "pk", "contact_email", "mssante_address"
    ):
        address = email or mssante
        out[va_id] = [(address, None, False)] if address else []
    return out


def _announce_to_integrations(reminders: list[Reminder]) -> None:
    """Vendors' systems get the same reminder: the API listens to this signal and sends it as a
    « deadline.reminder » webhook to the subscribed ones (reminders/signals.py, api/apps.py)."""
    if not reminders:
        return
    announcements = [
        (
            reminder.vendor_id,
            {
                "dispositif": reminder.dispositif.code,
                "deadline_kind": reminder.deadline_kind,
                "deadline_at": reminder.deadline_at,
                "legal_reference": reminder.calendar_version.legal_reference,
                "threshold_days": reminder.threshold_days,
                "orders": [PurchaseOrder.reference_of(pk) for pk in reminder.order_ids],
            },
        )
        for reminder in Reminder.objects.filter(pk__in=[r.pk for r in reminders]).select_related(
            "dispositif", "calendar_version"
        )
    ]
    signals.deadline_reminders_recorded.send(sender=Reminder, announcements=announcements)


# -- recording and sending ----------------------------------------------------------------------


def send_due_reminders(*, at: dt.datetime | None = None) -> dict[str, int]:
    """Records every reminder due at `at` not yet recorded, creates its deliveries, and queues
    the immediate ones after commit. Returns how many reminders of each kind this run sent."""
    from . import tasks

    at = at or timezone.now()
    fresh = not_yet_sent(due_reminders(at))
    run_id = uuid.uuid4()
    with transaction.atomic():
        Reminder.objects.bulk_create(
            [
                Reminder(
                    key=d.key,
                    kind=d.kind,
                    run_id=run_id,
                    computed_at=at,
                    vendor_id=d.vendor_id,
                    dispositif_id=d.dispositif_id,
                    va_id=d.va_id,
                    deadline_kind=d.deadline.kind if d.deadline else "",
                    deadline_at=d.deadline.at if d.deadline else None,
                    calendar_version=d.deadline.version if d.deadline else None,
                    threshold_days=d.threshold_days,
                    order_ids=list(d.order_ids),
                )
                for d in fresh
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
        won = list(Reminder.objects.filter(run_id=run_id).only("pk", "kind", "vendor_id", "va_id"))
        vendors = _vendor_recipients({r.vendor_id for r in won if r.vendor_id})
        clients = _client_recipients({r.va_id for r in won if r.va_id})
        admins = (
            _admin_recipients() if any(r.kind == ReminderKind.ADMIN_AT_RISK for r in won) else []
        )
        deliveries = []
        for reminder in won:
            if reminder.kind == ReminderKind.VENDOR_DEADLINE:
                recipients = vendors.get(reminder.vendor_id, [])
            elif reminder.kind == ReminderKind.CLIENT_VA:
                recipients = clients.get(reminder.va_id, [])
            else:
                recipients = admins
            deliveries += [
                Delivery(reminder=reminder, email=email, user_id=user_id, in_digest=digest)
                for email, user_id, digest in recipients
            ]
            if not recipients:
                logger.warning("reminder_without_recipient reminder_id=%s", reminder.pk)
        Delivery.objects.bulk_create(deliveries, batch_size=500)
        immediate = [
            pk
            for pk in Delivery.objects.filter(reminder__run_id=run_id, in_digest=False).values_list(
                "pk", flat=True
            )
        ]
        transaction.on_commit(lambda: [tasks.deliver.delay(pk) for pk in immediate])
        _announce_to_integrations([r for r in won if r.kind == ReminderKind.VENDOR_DEADLINE])
    counts = {kind: sum(1 for r in won if r.kind == kind) for kind in ReminderKind.values}
    logger.info(
        "reminders at=%s run=%s %s",
        at.isoformat(),
        run_id,
        " ".join(f"{k}={v}" for k, v in counts.items()),
    )
    return counts
