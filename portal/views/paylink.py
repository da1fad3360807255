"""The "View and pay" page: one invoice opened by the signed link its e-mails carry (``invoicing.paylinks``), with
nobody signed in.

It shows that invoice only (partner, number, dates, a summary of its lines, what was paid, credited and is due now,
its PDF) and takes a card payment of the balance through ``invoicing.charging``, the system acting on the
customer's behalf (``Actor(Role.CUSTOMER)``). A settled invoice shows what settled it and no form; a void one says
it was cancelled; an expired link shows nothing of the invoice and names whom to ask for a new one; a link that is
not ours (a changed character, another invoice's number) is a plain 404. Every request to /pay/ is counted per
client address: more than ``PAY_LINK_REQUESTS_PER_MINUTE`` (30) in a minute is a 429.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from customers.formats import partner_formats
from customers.models import Partner
from invoicing import paylinks
from invoicing.charging import invoice_pay_by_card, invoice_payable_by_card
from invoicing.credits import invoice_lines
from invoicing.errors import BillingError
from invoicing.models import CreditApplication, Invoice, Payment, Refund, Slip
from invoicing.paylinks import PayLinkRefused, pay_link_invoice
from invoicing.pdf.documents import PdfRenderError
from invoicing.pdf.stamps import invoice_pdf_current
from invoicing.workflow import Actor, Role
from octoo_billing.http import pdf_response
from octoo_billing.money import format_units
from octoo_billing.security import client_ip
from octoo_billing.throttle import throttle_key, throttle_take
from portal.forms.pay import new_pay_key
from portal.forms.paylink import PayLinkCardForm

# Who pays through a link: nobody is signed in, so the system acts for the invoice's customer.
PAY_LINK_ACTOR = Actor(Role.CUSTOMER)
LINES_SHOWN = 10  # the rest are on the PDF
WINDOW_SECONDS = 60


def requests_per_minute() -> int:
    return getattr(settings, "PAY_LINK_REQUESTS_PER_MINUTE", 30)


def pay_link_throttled(view):
    """Count the request against its client address: over the limit, a 429 page and nothing else is done."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        key = f"paylink:{throttle_key(client_ip(request) or '')}"
        if not throttle_take(key=key, limit=requests_per_minute(), window=WINDOW_SECONDS):
            response = render(request, "paylink/too_many.html", status=429)
            response["Retry-After"] = str(WINDOW_SECONDS)
            return response
        return _private(view(request, *args, **kwargs))

    return wrapper


def _private(response):
    """The link is the key to the page: it is not sent on to other sites, and the page is not indexed.
    ("same-origin", not "no-referrer": the browser must still send this site's Origin with the card form, or
    the CSRF check refuses the payment.)"""
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


class PageState(enum.StrEnum):
    OPEN = "open"  # something to pay
    SETTLED = "settled"  # paid or credited
    VOID = "void"  # cancelled


@dataclass(frozen=True)
class CardPayment:
    """The card form and its one-time key (one charge per form shown)."""

    card_form: PayLinkCardForm
    key: str


@dataclass(frozen=True)
class PayLinkPage:
    """What the page shows of its one invoice."""

    invoice: Invoice
    partner: Partner
    state: PageState
    lines: list[Slip]
    more_lines: int
    payments: list[Payment]
    refunds: list[Refund]
    credits: list[CreditApplication]
    pay: CardPayment | None = None  # when it may be paid by card


def _state(invoice: Invoice) -> PageState:
    if invoice.status == Invoice.Status.VOID:
        return PageState.VOID
    if invoice.status in Invoice.OPEN_STATUSES and invoice.outstanding_units > 0:
        return PageState.OPEN
    return PageState.SETTLED


def pay_link_page(invoice: Invoice, *, card_form: PayLinkCardForm | None = None) -> PayLinkPage:
    state = _state(invoice)
    lines = invoice_lines(invoice) if state != PageState.VOID else []
    pay = None
    if state == PageState.OPEN and invoice_payable_by_card(invoice, None, actor=PAY_LINK_ACTOR):
        # A form shown again after an error keeps its key (submitting it twice still charges once).
        kept = card_form.cleaned_data.get("pay_key") if card_form is not None else None
        pay = CardPayment(card_form=card_form or PayLinkCardForm(), key=kept or new_pay_key())
    refunds = Refund.objects.filter(invoice=invoice, status=Refund.Status.SUCCEEDED)
    return PayLinkPage(
        invoice=invoice,
        partner=invoice.partner,
        state=state,
        lines=lines[:LINES_SHOWN],
        more_lines=max(len(lines) - LINES_SHOWN, 0),
        payments=list(Payment.objects.filter(invoice=invoice).order_by("received_on", "id")),
        refunds=list(refunds.select_related("credit_note").order_by("id")),
        credits=list(CreditApplication.objects.filter(invoice=invoice).select_related("credit_note").order_by("id")),
        pay=pay,
    )


def _render_page(request, token: str, invoice: Invoice, *, card_form=None, status=200):
    page = pay_link_page(invoice, card_form=card_form)
    context = {"page": page, "invoice": invoice, "partner": page.partner, "currency": invoice.currency, "token": token}
    with partner_formats(invoice.partner):  # nobody is signed in: the invoice's partner's zone and locale
        return render(request, "paylink/invoice.html", context, status=status)


def _expired_link_partner(token: str) -> Partner | None:
    """Whom to ask for a new link: the partner of an expired link's invoice. Only the link's age failed, so its
    signature is ours and the invoice in it is the one we sent."""
    try:
        data = signing.loads(token, salt=paylinks.SALT)
    except signing.BadSignature:
        return None
    invoice = (
        Invoice.objects.select_related("partner")
        .filter(pk=data.get("i"), number=data.get("n"), kind=Invoice.Kind.AR)
        .first()
    )
    return invoice.partner if invoice is not None else None


def _refused(request, token: str, refusal: PayLinkRefused):
    if refusal.reason == "expired":
        return render(request, "paylink/expired.html", {"partner": _expired_link_partner(token)}, status=410)
    return render(request, "paylink/invalid.html", status=404)


@pay_link_throttled
@never_cache
@require_http_methods(["GET", "POST"])
def invoice_page(request, token):
    """GET: the invoice. POST: pay its balance by card (one charge per form shown), then back to the page."""
    try:
        invoice = pay_link_invoice(token)
    except PayLinkRefused as refusal:
        return _refused(request, token, refusal)
    if request.method == "GET":
        return _render_page(request, token, invoice)
    if _state(invoice) != PageState.OPEN or not invoice_payable_by_card(invoice, None, actor=PAY_LINK_ACTOR):
        messages.info(request, "There is nothing to pay by card on this invoice.")
        return redirect("paylink:invoice", token=token)
    form = PayLinkCardForm(request.POST)
    if not form.is_valid():
        return _render_page(request, token, invoice, card_form=form, status=400)
    data = form.cleaned_data
    month, year = data["expiry"]
    try:
        outcome = invoice_pay_by_card(
            invoice=invoice,
            user=None,
            actor=PAY_LINK_ACTOR,
            idempotency_key=f"paylink-{invoice.pk}-{data['pay_key']}",
            number=data["number"],
            exp_month=month,
            exp_year=year,
        )
    except BillingError as exc:
        form.add_error("number", exc.message)
        return _render_page(request, token, invoice, card_form=form, status=400)
    if outcome.succeeded:
        with partner_formats(invoice.partner):
            amount = format_units(outcome.payment.amount_units, invoice.currency)
        messages.success(request, f"Thank you: {amount} was paid on {invoice.number} by card.")
    else:
        messages.error(request, outcome.message or "The card was not charged.")
    return redirect("paylink:invoice", token=token)


@pay_link_throttled
@require_GET
def invoice_pdf(request, token):
    """The invoice's PDF as it stands now (stamped once paid, credited or voided)."""
    try:
        invoice = pay_link_invoice(token)
    except PayLinkRefused as refusal:
        return _refused(request, token, refusal)
    try:
        data, filename = invoice_pdf_current(invoice)
    except PdfRenderError:
        messages.error(request, "The PDF of this invoice is not available right now. Please try again later.")
        return redirect(reverse("paylink:invoice", args=[token]))
    return pdf_response(data, filename, inline=request.GET.get("inline") == "1")
