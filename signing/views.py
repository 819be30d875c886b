"""The pages a client opens from the link in their mail: prove who they are, read, sign.

Each page checks the link first; a link that no longer opens its document gets a page saying
why and what to do. The identity proven (code or Pro Santé Connect) is kept in the session for
that one link, for SIGNING_SESSION_MAX_AGE. Once the link has served to sign or refuse, it
offers the signer's copy (the recorded, sealed document) for SIGNING_COPY_MAX_AGE: the link's
signed token is the key, as it was to the document before; nothing is reachable by its ids.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalogue.selectors import price
from core.errors import RuleViolation
from core.money import format_euros
from sons import documents
from sons.models import ClientKind
from sons.models.acceptance import IdentityMethod, identity_label
from sons.models.client import PROFESSIONALS
from sons.services.orders import order_to_sign_pdf

from . import pades, psc, selectors, services
from .conf import psc_configured, setting
from .forms import BdcSignForm, CodeForm, VaRefuseForm, VaSignForm
from .models import LinkKind, SigningLink
from .selectors import LinkCheck, LinkProblem
from .services import Identity, Origin
from .tasks import verification_path

logger = logging.getLogger(__name__)

SESSION_KEY = "signing"
PSC_SESSION_KEY = "signing_psc"


# --- Session: who proved their identity for which link --------------------------------------------


def _entries(request: HttpRequest) -> dict:
    return request.session.get(SESSION_KEY, {})


def _remember(request: HttpRequest, link: SigningLink, **values) -> None:
    entries = _entries(request)
    entry = entries.get(str(link.pk), {})
    entry.update(values)
    entries[str(link.pk)] = entry
    request.session[SESSION_KEY] = entries


def _remember_identity(request: HttpRequest, link: SigningLink, identity: Identity) -> None:
    # A new session key once the person is identified: an earlier one cannot ride on it.
    request.session.cycle_key()
    _remember(request, link, identity=identity.as_session(), verified_at=timezone.now().isoformat())


def _identity(request: HttpRequest, link: SigningLink) -> Identity | None:
    entry = _entries(request).get(str(link.pk))
    if not entry or "identity" not in entry:
        return None
    verified_at = dt.datetime.fromisoformat(entry["verified_at"])
    if timezone.now() - verified_at > dt.timedelta(seconds=setting("SIGNING_SESSION_MAX_AGE")):
        return None
    return Identity.from_session(entry["identity"])


def _origin(request: HttpRequest) -> Origin:
    return Origin(
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
    )


# --- Pages shared by every step -------------------------------------------------------------------

PROBLEM_TEXT = {
    LinkProblem.UNKNOWN: (
        _("Ce lien n'est pas reconnu"),
        _(
            "Vérifiez que l'adresse a été copiée en entier depuis le courriel reçu. Si c'est le "
            "cas, demandez à votre fournisseur de vous renvoyer un lien de signature."
        ),
    ),
    LinkProblem.EXPIRED: (
        _("Ce lien a expiré"),
        _("Demandez à votre fournisseur de vous renvoyer un lien de signature."),
    ),
    LinkProblem.REPLACED: (
        _("Ce lien a été remplacé par un plus récent"),
        _(
            "Utilisez le lien du dernier courriel reçu pour ce document, ou demandez à votre "
            "fournisseur de vous en renvoyer un."
        ),
    ),
    LinkProblem.SIGNED: (
        _("Ce document est déjà signé"),
        _(
            "Il n'y a plus rien à faire. Pour en obtenir une copie, adressez-vous à votre "
            "fournisseur."
        ),
    ),
    LinkProblem.REFUSED: (
        _("Ce document a été refusé"),
        _(
            "Le fournisseur corrige les réserves bloquantes, puis vous enverra une nouvelle "
            "version à vérifier, avec un nouveau lien."
        ),
    ),
    LinkProblem.SUPERSEDED: (
        _("Une nouvelle version de cette VA a été émise"),
        _(
            "Ce lien portait sur une version précédente. Utilisez le lien du courriel qui "
            "accompagne la nouvelle version, ou demandez-le à votre fournisseur."
        ),
    ),
    LinkProblem.CLOSED: (
        _("Ce document n'attend plus de signature"),
        _("Si vous pensez que c'est une erreur, contactez votre fournisseur."),
    ),
}


COPY_GONE = _(
    "Votre exemplaire n'est plus proposé sur ce lien depuis le %(until)s (heure de Paris). "
    "Pour en obtenir une copie, adressez-vous à votre fournisseur, %(vendor)s."
)


def _problem(request: HttpRequest, check: LinkCheck) -> HttpResponse:
    title, advice = PROBLEM_TEXT[check.problem]
    link = check.link
    if link is not None and link.used_at is not None:
        # Decided through this very link: its copy is offered there for a while.
        if selectors.copy_offered(link, at=timezone.now()):
            return _copy_page(request, link, reopened=True, status=410)
        advice = COPY_GONE % {
            "until": selectors.paris(selectors.copy_until(link)),
            "vendor": link.order.vendor.name,
        }
    context = {
        "heading": title,
        "advice": advice,
        "since": selectors.paris(check.since),
        "problem": check.problem.value,
        "document": selectors.document_title(link) if link else "",
        "vendor": selectors.vendor_contact(link) if link else None,
    }
    status = 404 if check.problem == LinkProblem.UNKNOWN else 410
    return render(request, "web/signing/problem.html", context, status=status)


def _check(token: str) -> LinkCheck:
    return selectors.check_link(selectors.link_for_token(token), at=timezone.now())


def _base_context(link: SigningLink) -> dict:
    return {
        "link": link,
        "token": _token(link),
        "document": selectors.document_title(link),
        "vendor": selectors.vendor_contact(link),
        "is_va": link.kind == LinkKind.VA,
    }


def _token(link: SigningLink) -> str:
    from .tokens import link_token

    return link_token(link.public_id)


# --- Step 1: prove who you are --------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    check = _check(token)
    if not check.usable:
        return _problem(request, check)
    link = check.link
    if _identity(request, link) is not None:
        return redirect("signing:document", token=token)
    form = CodeForm()
    error = ""
    if request.method == "POST" and not psc_configured():
        action = request.POST.get("action")
        try:
            if action == "send":
                code = services.request_code(link=link)
                messages.success(
                    request,
                    _("Un code vient d'être envoyé à %(address)s.")
                    % {"address": selectors.masked_address(code.sent_to)},
                )
                return redirect("signing:open", token=token)
            if action == "verify":
                form = CodeForm(request.POST)
                if form.is_valid():
                    identity = services.verify_code(link=link, code=form.cleaned_data["code"])
                    _remember_identity(request, link, identity)
                    return redirect("signing:document", token=token)
        except RuleViolation as refusal:
            if refusal.code in {p.value for p in LinkProblem}:
                return _problem(request, _check(token))
            if form.is_bound and refusal.field == "code":
                form.add_error("code", refusal.message)  # shown under the field, in view
            else:
                error = refusal.message
        link.refresh_from_db()
    now = timezone.now()
    last_code = link.codes.order_by("-created_at", "-id").first()
    context = {
        **_base_context(link),
        "psc": psc_configured(),
        "form": form,
        "error": error,
        "address": selectors.masked_address(link.sent_to),
        "code_pending": last_code is not None
        and last_code.used_at is None
        and now < last_code.expires_at,
        "locked_until": selectors.paris(link.locked_until)
        if selectors.is_locked(link, at=now)
        else "",
        "expires_at": selectors.paris(link.expires_at),
        "code_minutes": setting("SIGNING_CODE_MAX_AGE") // 60,
    }
    failed = bool(error or form.errors)
    return render(request, "web/signing/identify.html", context, status=400 if failed else 200)


def _callback_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("signing:psc_callback"))


@never_cache
@require_GET
def psc_start(request: HttpRequest, token: str) -> HttpResponse:
    check = _check(token)
    if not check.usable:
        return _problem(request, check)
    if not psc_configured():
        raise Http404
    try:
        login = psc.start_login(
            redirect_uri=request.build_absolute_uri(reverse("signing:psc_callback"))
        )
    except RuleViolation as refusal:
        messages.error(request, refusal.message)
        return redirect("signing:open", token=token)
    request.session[PSC_SESSION_KEY] = {
        "state": login.state,
        "nonce": login.nonce,
        "verifier": login.code_verifier,
        "token": token,
    }
    return redirect(login.url)


@never_cache
@require_GET
def psc_callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(PSC_SESSION_KEY, None)
    if not pending or not psc_configured() or request.GET.get("state") != pending["state"]:
        return render(request, "web/signing/psc_error.html", status=400)
    token = pending["token"]
    check = _check(token)
    if not check.usable:
        return _problem(request, check)
    link = check.link
    if "error" in request.GET or not request.GET.get("code"):
        messages.error(request, _("La connexion avec Pro Santé Connect a été interrompue."))
        return redirect("signing:open", token=token)
    try:
        pro = psc.finish_login(
            redirect_uri=_callback_uri(request),
            code=request.GET["code"],
            nonce=pending["nonce"],
            code_verifier=pending["verifier"],
        )
        identity = Identity(
            method=IdentityMethod.PRO_SANTE_CONNECT,
            subject=pro.national_id or pro.subject,
            email=pro.email,
            rpps=pro.rpps,
            name=pro.name,
        )
        problem = services.identity_problem(link, identity)
        if problem is not None:
            raise problem
    except RuleViolation as refusal:
        messages.error(request, refusal.message)
        return redirect("signing:open", token=token)
    _remember_identity(request, link, identity)
    return redirect("signing:document", token=token)


# --- Step 2: read and decide ----------------------------------------------------------------------


def _role_for(link: SigningLink) -> str:
    kind = link.order.client.kind
    if kind in PROFESSIONALS:
        return str(ClientKind(kind).label)
    return ""


def _initial(link: SigningLink, identity: Identity, document_sha256: str) -> dict:
    client = link.order.client
    name = identity.name or (client.legal_name if client.kind in PROFESSIONALS else "")
    return {"signer_name": name, "signer_role": _role_for(link), "document_sha256": document_sha256}


def _va_context(link: SigningLink) -> dict:
    va, order = link.va, link.order
    return {
        "va": va,
        "order": order,
        "solution": order.solution_version.solution.name,
        "version": order.solution_version.version,
        "dispositif": order.dispositif,
        "issued_at": selectors.paris(va.issued_at),
        "document_sha256": va.pdf_sha256,
        "document_ready": bool(va.pdf_sha256 and va.pdf),
    }


def _bdc_context(link: SigningLink) -> dict:
    order = link.order
    tariff, amount = price(
        dispositif=order.dispositif, characteristics=order.contact.characteristics
    )
    return {
        "order": order,
        # The amount shown is the tariff's: a demo tariff is marked beside it.
        "amount_is_demo": tariff.is_demo,
        "solution": order.solution_version.solution.name,
        "version": order.solution_version.version,
        "dispositif": order.dispositif,
        "amount_ht": format_euros(amount.ht_cents),
        "amount_ttc": format_euros(amount.ttc_cents),
        "document_sha256": documents.sha256_hex(order_to_sign_pdf(order)),
        "document_ready": True,
    }


def _document_page(request, link, identity, *, forms=None, error="", status=200):
    is_va = link.kind == LinkKind.VA
    try:
        details = _va_context(link) if is_va else _bdc_context(link)
    except RuleViolation as refusal:  # no tariff for the BDC: nothing to sign yet
        details, error = {"document_ready": False, "document_sha256": ""}, refusal.message
    initial = _initial(link, identity, details["document_sha256"])
    forms = forms or {}
    if is_va:
        forms.setdefault("sign", VaSignForm(initial=initial, statements=link.va.statements))
        forms.setdefault("refuse", VaRefuseForm(initial=initial, prefix="refus"))
    else:
        forms.setdefault("sign", BdcSignForm(initial=initial))
    context = {
        **_base_context(link),
        **details,
        "identity": identity,
        "identity_label": identity_label(identity.method, identity.subject),
        "name_from_identity": bool(identity.name),
        "forms": forms,
        "error": error,
    }
    template = "web/signing/va.html" if is_va else "web/signing/bdc.html"
    return render(request, template, context, status=status)


def _identified(request, token):
    """The usable link and the identity proven for it, or the response to send instead."""
    check = _check(token)
    if not check.usable:
        return None, None, _problem(request, check)
    identity = _identity(request, check.link)
    if identity is None:
        return None, None, redirect("signing:open", token=token)
    return check.link, identity, None


@never_cache
@require_GET
def document(request: HttpRequest, token: str) -> HttpResponse:
    link, identity, response = _identified(request, token)
    if response is not None:
        return response
    return _document_page(request, link, identity)


@never_cache
@require_GET
def document_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The exact document to sign, shown in the browser."""
    link, _who, response = _identified(request, token)
    if response is not None:
        return response
    if link.kind == LinkKind.VA:
        if not link.va.pdf:
            raise Http404
        handle = link.va.pdf.open("rb")
        name = f"{link.order.reference}-VA-v{link.va.version}.pdf"
        return FileResponse(handle, content_type="application/pdf", filename=name)
    content = order_to_sign_pdf(link.order)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{link.order.reference}-a-signer.pdf"'
    return response


@never_cache
@require_POST
def sign(request: HttpRequest, token: str) -> HttpResponse:
    link, identity, response = _identified(request, token)
    if response is not None:
        return response
    if link.kind == LinkKind.VA:
        form = VaSignForm(request.POST, statements=link.va.statements)
    else:
        form = BdcSignForm(request.POST)
    if not form.is_valid():
        return _document_page(request, link, identity, forms={"sign": form}, status=400)
    data = form.cleaned_data
    common = {
        "link": link,
        "identity": identity,
        "signer_name": data["signer_name"],
        "signer_role": data["signer_role"],
        "document_sha256": data["document_sha256"],
        "origin": _origin(request),
    }
    try:
        if link.kind == LinkKind.VA:
            services.sign_va_online(
                **common,
                confirmed=form.confirmed(),
                non_blocking_reserves=data["non_blocking_reserves"],
            )
        else:
            services.sign_order_online(**common, accepted=data["accepted"])
    except RuleViolation as refusal:
        return _refused(request, token, link, identity, refusal, forms={"sign": form})
    return redirect("signing:done", token=token)


@never_cache
@require_POST
def refuse(request: HttpRequest, token: str) -> HttpResponse:
    link, identity, response = _identified(request, token)
    if response is not None:
        return response
    if link.kind != LinkKind.VA:
        raise Http404
    form = VaRefuseForm(request.POST, prefix="refus")
    if not form.is_valid():
        return _document_page(request, link, identity, forms={"refuse": form}, status=400)
    data = form.cleaned_data
    try:
        services.refuse_va_online(
            link=link,
            identity=identity,
            signer_name=data["signer_name"],
            signer_role=data["signer_role"],
            blocking_reserves=data["blocking_reserves"],
            document_sha256=data["document_sha256"],
            origin=_origin(request),
        )
    except RuleViolation as refusal:
        return _refused(request, token, link, identity, refusal, forms={"refuse": form})
    return redirect("signing:done", token=token)


def _refused(request, token, link, identity, refusal: RuleViolation, *, forms):
    check = _check(token)
    if not check.usable:  # decided meanwhile (another tab, the vendor...) or expired
        return _problem(request, check)
    return _document_page(request, link, identity, forms=forms, error=refusal.message, status=400)


# --- Step 3: the confirmation and the signed document ---------------------------------------------


def _decided_link(request, token) -> SigningLink | HttpResponse:
    """The link that served to decide, while it offers its copy; else the page saying why not."""
    link = selectors.link_for_token(token)
    if link is None or link.used_at is None:
        raise Http404
    if not selectors.copy_offered(link, at=timezone.now()):
        return _problem(request, selectors.check_link(link, at=timezone.now()))
    return link


def _copy_page(request, link: SigningLink, *, reopened: bool = False, status: int = 200):
    copy = selectors.signed_copy(link)
    context = {
        **_base_context(link),
        "reopened": reopened,
        "refused": link.outcome == "refused",
        "decided_at": selectors.paris(link.used_at),
        "copy_until": selectors.paris(selectors.copy_until(link)),
        "signed_ready": copy.ready,
        "signed_sha256": copy.sha256,
        "document_sha256": link.document_sha256,
        "copy_mailed": bool(link.copy_sent_at),
        "sent_to": selectors.masked_address(link.sent_to),
        "certificate_url": reverse("signing:seal_certificate"),
        "verification_url": verification_path(),
    }
    return render(request, "web/signing/done.html", context, status=status)


@never_cache
@require_GET
def done(request: HttpRequest, token: str) -> HttpResponse:
    link = _decided_link(request, token)
    if isinstance(link, HttpResponse):
        return link
    return _copy_page(request, link)


@never_cache
@require_GET
def signed_pdf(request: HttpRequest, token: str) -> HttpResponse:
    link = _decided_link(request, token)
    if isinstance(link, HttpResponse):
        return link
    copy = selectors.signed_copy(link)
    if not copy.ready:
        # Rendered after the response (core/after_response.py): the confirmation page says so.
        return redirect("signing:done", token=token)
    return FileResponse(
        copy.file.open("rb"),
        content_type="application/pdf",
        as_attachment=True,
        filename=copy.filename,
    )


@require_GET
def seal_certificate(request: HttpRequest) -> HttpResponse:
    """The certificate of the server's seal, to check a sealed document with any PDF reader."""
    response = HttpResponse(pades.certificate_pem(), content_type="application/x-pem-file")
    response["Content-Disposition"] = 'attachment; filename="cachet-sons.pem"'
    return response
