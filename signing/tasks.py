"""Thin Celery tasks of online signing: the mails that carry a link, a one-time code, or the
signer's copy of the document they decided on."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from core.mail import send_then_record
from sons.tasks import RETRY

logger = logging.getLogger(__name__)


def link_url(link) -> str:
    """The absolute address of a link, as mailed (SIGNING_BASE_URL + the signed token)."""
    from . import tokens
    from .conf import setting

    path = reverse("signing:open", args=[tokens.link_token(link.public_id)])
    return setting("SIGNING_BASE_URL").rstrip("/") + path


@shared_task(name="signing.send_link_email", **RETRY)
def send_link_email(link_id: int) -> None:
    from catalogue.deadlines import format_paris

    from .conf import psc_configured
    from .selectors import check_link, document_title, links, vendor_contact
    from .services import record_link_sent

    link = links().get(pk=link_id)
    if link.sent_at is not None or not check_link(link, at=timezone.now()).usable:
        return  # sent already (a retry), or replaced / decided before the mail left
    order = link.order
    context = {
        "title": document_title(link),
        "kind": link.kind,
        "reference": order.reference,
        "client": order.client.legal_name,
        "solution": order.solution_version.solution.name,
        "version": order.solution_version.version,
        "dispositif": order.dispositif.code,
        "vendor": vendor_contact(link),
        "url": link_url(link),
        "expires_at": format_paris(link.expires_at),
        "psc": psc_configured(),
    }
    with translation.override("fr"):
        subject = render_to_string("web/signing/mail/link_subject.txt", context).strip()
        body = render_to_string("web/signing/mail/link.txt", context)
    # Recorded as soon as the server accepts it: a redelivered task then finds `sent_at`.
    send_then_record(
        EmailMessage(subject, body, None, [link.sent_to]),
        lambda: record_link_sent(link_id=link_id, at=timezone.now()),
    )
    logger.info("signing_link_mailed link_id=%s", link_id)


@shared_task(name="signing.send_code_email", **RETRY)
def send_code_email(code_id: int) -> None:
    from catalogue.deadlines import format_paris

    from .models import OneTimeCode
    from .selectors import document_title
    from .services import record_code_sent
    from .tokens import code_from_secret

    code = OneTimeCode.objects.select_related("link__order__vendor", "link__va").get(pk=code_id)
    now = timezone.now()
    if code.sent_at is not None or code.used_at is not None or now >= code.expires_at:
        return
    context = {
        "code": code_from_secret(code.secret),
        "title": document_title(code.link),
        "vendor": code.link.order.vendor.name,
        "expires_at": format_paris(code.expires_at),
        "minutes": max(1, round((code.expires_at - code.created_at).total_seconds() / 60)),
    }
    with translation.override("fr"):
        subject = render_to_string("web/signing/mail/code_subject.txt", context).strip()
        body = render_to_string("web/signing/mail/code.txt", context)
    send_then_record(
        EmailMessage(subject, body, None, [code.sent_to]),
        lambda: record_code_sent(code_id=code_id, at=now),
    )
    logger.info("signing_code_mailed code_id=%s link_id=%s", code_id, code.link_id)


class SignedCopyNotReady(Exception):
    """The recorded document is still being prepared by the lifecycle's own task: try later."""


def verification_path() -> str:
    """The public page where anyone can check the server's seal on a document."""
    return reverse("signing:verify_seal")


def verification_url() -> str:
    from .conf import setting

    return setting("SIGNING_BASE_URL").rstrip("/") + verification_path()


@shared_task(
    name="signing.send_signed_copy",
    autoretry_for=(OSError, SignedCopyNotReady),
    retry_backoff=True,
    max_retries=8,
)
def send_signed_copy(link_id: int) -> None:
    """Mails the signer the document they signed or refused, as recorded and sealed: attached,
    or, above SIGNING_COPY_MAIL_MAX_BYTES, as their link, which offers it for a while."""
    from catalogue.deadlines import format_paris

    from .conf import setting
    from .selectors import copy_until, document_title, links, signed_copy, vendor_contact
    from .services import record_copy_sent

    link = links().get(pk=link_id)
    if link.copy_sent_at is not None or link.used_at is None:
        return  # sent already (a retry or a redelivery)
    copy = signed_copy(link)
    if not copy.ready:
        raise SignedCopyNotReady(f"link {link_id}: the signed document is not recorded yet")
    size = copy.file.size
    attach = size <= setting("SIGNING_COPY_MAIL_MAX_BYTES")
    context = {
        "title": document_title(link),
        "kind": link.kind,
        "refused": link.outcome == "refused",
        "reference": link.order.reference,
        "client": link.order.client.legal_name,
        "decided_at": format_paris(link.used_at),
        "sha256": copy.sha256,
        "attached": attach,
        "filename": copy.filename,
        "size_mb": f"{size / 1_000_000:.1f}".replace(".", ","),
        "url": link_url(link),
        "until": format_paris(copy_until(link)),
        "verification_url": verification_url(),
        "vendor": vendor_contact(link),
    }
    with translation.override("fr"):
        subject = render_to_string("web/signing/mail/copy_subject.txt", context).strip()
        body = render_to_string("web/signing/mail/copy.txt", context)
    message = EmailMessage(subject, body, None, [link.sent_to])
    if attach:
        with copy.file.open("rb") as handle:
            message.attach(copy.filename, handle.read(), "application/pdf")
    send_then_record(message, lambda: record_copy_sent(link_id=link_id, at=timezone.now()))
    logger.info("signing_copy_mailed link_id=%s attached=%s bytes=%s", link_id, attach, size)
