"""Claims and filings: what is ready, building a filing (avance, solde, secondary), its JSON and
zip, the agency's feedback file and what it changed. Every move through payments.services."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import RuleViolation
from payments.asp.feedback import AspFeedback
from payments.models import (
    FILABLE_CLAIM_KINDS,
    ClaimKind,
    ClaimStatus,
    FilingStatus,
    PaymentClaim,
)
from payments.services import claims as claim_services
from payments.services import filings as filing_services
from portal import forms, selectors
from portal.access import portal_page

from .common import download, now, refused

# What the claim's own page asks next, once it is opened: not a reason to wait before opening it.
ASKED_ON_THE_CLAIM = {"invoice_missing"}


def _rows(orders, at, kind):
    """Each order with every rule that stops its claim now, read as the claim's guards read it
    (`payments.acts.claim_refusals` on a claim not saved: the order's rules, `claim_blockers`
    for a solde, then the claim's own such as an avance not yet paid), and sorted: possible
    now, waiting (and on what), or too late (a deadline in force has passed)."""
    rows = {"now": [], "waits": [], "late": []}
    for order in orders:
        problems, _checks = claim_services.claim_problems(
            PaymentClaim(order=order, kind=kind, amount_ttc_cents=0), at
        )
        problems = [p for p in problems if p["code"] not in ASKED_ON_THE_CLAIM]
        late = [p for p in problems if p["code"].endswith("_deadline_passed")]
        row = {"order": order, "kind": kind, "blockers": [p["message"] for p in problems]}
        if late:
            row["blockers"] = [p["message"] for p in late]
        rows["late" if late else "waits" if problems else "now"].append(row)
    return rows


@portal_page
@require_GET
def claim_list(request):
    vendor = request.vendor
    at = now()
    avance = selectors.orders_to_claim(vendor, ClaimKind.AVANCE)
    solde = selectors.orders_to_claim(vendor, ClaimKind.SOLDE)
    filings = Paginator(selectors.vendor_filings(vendor), 25).get_page(request.GET.get("depots"))
    return render(
        request,
        "web/portal/claims.html",
        {
            "ready_groups": selectors.ready_claims_by_filing(vendor),
            "avance_rows": _rows(avance[:50], at, ClaimKind.AVANCE),
            "avance_count": avance.count(),
            "solde_rows": _rows(solde[:50], at, ClaimKind.SOLDE),
            "solde_count": solde.count(),
            "open_claims": selectors.vendor_claims(vendor)
            .filter(status__in=[ClaimStatus.DRAFT, ClaimStatus.TO_CORRECT])
            .order_by("pk")[:100],
            "late_claims": selectors.vendor_claims(vendor)
            .filter(status=ClaimStatus.READY, deadline_missed_at__isnull=False)
            .select_related("order__client", "order__dispositif")
            .order_by("pk")[:100],
            "filings": filings,
            "feedback_form": forms.FeedbackForm(),
        },
    )


@portal_page
@require_POST
def claim_open(request, pk: int, kind: str):
    """Opens a claim on one order: an avance is checked and made ready at once, a solde or a
    secondary prestation waits for its invoice."""
    order = selectors.order_of(request.vendor, pk)
    if kind not in FILABLE_CLAIM_KINDS:
        raise Http404("Nature de demande inconnue.")
    at = now()
    try:
        claim = claim_services.open_claim(order=order, kind=kind, actor=request.user, at=at)
    except RuleViolation as exc:
        refused(request, exc)
        return redirect("portal:claims")
    if kind == ClaimKind.AVANCE:
        try:
            claim_services.make_ready(claim=claim, actor=request.user, at=at)
        except RuleViolation as exc:
            refused(request, exc)
            return redirect("portal:claim_detail", pk=claim.pk)
        messages.success(
            request,
            _("Demande d'avance de %(ref)s prête.") % {"ref": order.reference},
        )
        return redirect("portal:claims")
    messages.success(request, _("Demande ouverte : joignez la facture."))
    return redirect("portal:claim_detail", pk=claim.pk)


def _claim_page(request, claim, *, invoice_form=None, status=200):
    problems, _checks = claim_services.claim_problems(claim, now())
    return render(
        request,
        "web/portal/claim_detail.html",
        {
            "claim": claim,
            "problems": problems if claim.status == ClaimStatus.DRAFT else [],
            "invoice_form": invoice_form or forms.InvoiceForm(),
            "needs_invoice": claim.kind in claim_services.INVOICED_KINDS,
        },
        status=status,
    )


@portal_page
@require_GET
def claim_detail(request, pk: int):
    return _claim_page(request, selectors.claim_of(request.vendor, pk))


# The invoice form's fields, by the names attach_invoice's rules give them.
INVOICE_FIELDS = {"invoice_date": "date", "invoice_number": "number", "invoice_pdf": "pdf"}


@portal_page
@require_POST
def claim_invoice(request, pk: int):
    claim = selectors.claim_of(request.vendor, pk)
    form = forms.InvoiceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _claim_page(request, claim, invoice_form=form, status=400)
    try:
        claim_services.attach_invoice(
            claim=claim,
            number=form.cleaned_data["number"],
            date=form.cleaned_data["date"],
            amount_ttc_cents=form.cleaned_data["amount"],
            pdf=form.cleaned_data["pdf"].read(),
            actor=request.user,
        )
    except RuleViolation as exc:
        # The rule under its field, what was typed kept; a rule on the claim itself above.
        forms.add_refusal(form, exc, INVOICE_FIELDS)
        return _claim_page(request, claim, invoice_form=form, status=400)
    else:
        messages.success(request, _("Facture jointe."))
    return redirect("portal:claim_detail", pk=claim.pk)


@portal_page
@require_POST
def claim_step(request, pk: int, step: str):
    claim = selectors.claim_of(request.vendor, pk)
    try:
        if step == "prete":
            claim_services.make_ready(claim=claim, actor=request.user, at=now())
            messages.success(request, _("Demande prête : elle partira dans le prochain dépôt."))
        elif step == "reprendre":
            filing_services.reopen_claim(claim=claim, actor=request.user)
            messages.success(request, _("Demande reprise en brouillon : corrigez-la."))
        elif step == "annuler":
            claim_services.cancel_claim(
                claim=claim, actor=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("Demande annulée."))
        else:
            raise Http404("Étape inconnue.")
    except RuleViolation as exc:
        refused(request, exc)
    return redirect("portal:claim_detail", pk=claim.pk)


@portal_page
@require_GET
def claim_invoice_pdf(request, pk: int):
    claim = selectors.claim_of(request.vendor, pk)
    return download(claim.invoice_pdf)


@portal_page
@require_POST
def filing_build(request):
    """Gathers the vendor's ready claims of one dispositif and kind into filings."""
    form = forms.BuildFilingForm(request.POST)
    if not form.is_valid() or form.cleaned_data["kind"] not in FILABLE_CLAIM_KINDS:
        raise Http404("Dépôt inconnu.")
    dispositif = (
        selectors.vendor_dispositifs(request.vendor)
        .filter(pk=form.cleaned_data["dispositif"])
        .first()
    )
    if dispositif is None:
        raise Http404("Dispositif inconnu.")
    try:
        built = filing_services.build_filings(
            vendor=request.vendor,
            dispositif=dispositif,
            kind=form.cleaned_data["kind"],
            actor=request.user,
            at=now(),
        )
    except RuleViolation as exc:
        refused(request, exc)
        return redirect("portal:claims")
    if built.left_out:
        messages.error(
            request,
            _(
                "%(count)s demande(s) hors délai écartée(s) du dépôt (échéance de dépôt passée) : "
                "%(lines)s."
            )
            % {
                "count": len(built.left_out),
                "lines": " ; ".join(f"{c.order_reference} – {c.reason}" for c in built.left_out),
            },
        )
    if not built:
        return redirect("portal:claims")
    messages.success(
        request,
        _("Dépôt constitué : %(names)s.") % {"names": ", ".join(f.name for f in built)},
    )
    return redirect("portal:filing_detail", pk=built[0].pk)


@portal_page
@require_GET
def filing_detail(request, pk: int):
    filing = selectors.filing_of(request.vendor, pk)
    return render(
        request,
        "web/portal/filing_detail.html",
        {
            "filing": filing,
            "claims": filing.claims.select_related("order__client", "order__tariff").order_by(
                "line_number"
            ),
        },
    )


@portal_page
@require_GET
def filing_json(request, pk: int):
    filing = selectors.filing_of(request.vendor, pk)
    return download(filing.json_file, f"{filing.name}.json")


@portal_page
@require_GET
def filing_zip(request, pk: int):
    filing = selectors.filing_of(request.vendor, pk)
    return download(filing.zip_file, f"{filing.name}.zip")


@portal_page
@require_POST
def filing_transmit(request, pk: int):
    filing = selectors.filing_of(request.vendor, pk)
    try:
        filing = filing_services.transmit_filing(filing=filing, actor=request.user, at=now())
    except RuleViolation as exc:
        refused(request, exc)
    else:
        if filing.status == FilingStatus.SET_ASIDE:
            messages.error(
                request,
                _("Dépôt non transmis et écarté : %(reason)s")
                % {"reason": filing.set_aside_reason},
            )
        else:
            messages.success(request, _("Dépôt marqué transmis à l'ASP."))
    return redirect("portal:filing_detail", pk=filing.pk)


def _foreign_filings(vendor, content: bytes) -> list[str] | None:
    """Names in the file that are not this vendor's filings (None when the file is unreadable,
    which the import then reports in its own words)."""
    try:
        feedback = AspFeedback.model_validate_json(content)
    except ValueError:
        return None
    names = {item.filing for item in feedback.items}
    ours = set(
        selectors.vendor_filings(vendor).filter(name__in=names).values_list("name", flat=True)
    )
    return sorted(names - ours)


@portal_page
@require_http_methods(["GET", "POST"])
def feedback_upload(request):
    """Imports the agency's feedback file on the vendor's filings and shows what it changed."""
    form = forms.FeedbackForm(request.POST or None, request.FILES or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        content = upload.read()
        foreign = _foreign_filings(request.vendor, content)
        if foreign:
            context["problems"] = [
                _("dépôt inconnu : %(name)s") % {"name": name} for name in foreign
            ]
            return render(request, "web/portal/feedback.html", context, status=400)
        claims = selectors.vendor_claims(request.vendor).filter(filing__isnull=False)
        before = dict(claims.values_list("pk", "status"))
        at = now()
        try:
            done = filing_services.import_feedback(
                content=content, file_name=upload.name, actor=request.user, at=at
            )
        except filing_services.FeedbackRefused as exc:
            context["problems"] = exc.problems
            return render(request, "web/portal/feedback.html", context, status=400)
        except RuleViolation as exc:
            context["problems"] = [exc.message]
            return render(request, "web/portal/feedback.html", context, status=400)
        changed = [
            {"claim": claim, "before": ClaimStatus(before[claim.pk]).label}
            for claim in claims.filter(pk__in=list(before)).order_by("filing__name", "line_number")
            if claim.status != before[claim.pk]
        ]
        context.update(
            {
                "done": done,
                "already": done.imported_at != at,
                "changed": changed,
                "form": forms.FeedbackForm(),
            }
        )
    return render(request, "web/portal/feedback.html", context)
