"""PDF documents (AR and AP invoices, proformas) rendered by WeasyPrint from Django templates.

Safe by construction:
- every text goes through Django's autoescape (the templates never use ``|safe``), so a description such as
  ``<img src="http://...">`` is printed, not parsed;
- the only URL fetcher serves the app's own static and media files (``AppFilesFetcher``): no http(s) to
  anywhere, no ``file://`` outside those folders, no ``data:``, so no redirects either;
- ``<link rel=attachment>`` / ``<a rel=attachment>`` never embed anything: such elements are removed before
  layout and any attachment left on the rendered document is dropped before the PDF is written.

Fast: one ``FontConfiguration`` and one parsed print stylesheet (with the bundled DejaVu fonts) per process,
reused by every render; WeasyPrint subsets fonts with libharfbuzz-subset (``make system-deps``).

An issued invoice's PDF is rendered once (by the worker, after the issue commits) and stored in
``Invoice.pdf`` so the document a customer received never changes; drafts are rendered on demand.
"""

from __future__ import annotations

import atexit
import logging
import mimetypes
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from customers.models import NO_PAYMENT_TERMS

from .audit import audit_record
from .models import Invoice, InvoiceProforma, Payment, Proforma, Slip
from .templatetags.money import money as money_filter
from .templatetags.money import rate as rate_filter

logger = logging.getLogger(__name__)

# Documents are rendered with this base URL. The ".invalid" top-level domain never resolves (RFC 2606), and
# the fetcher below never opens a network connection anyway: it maps these URLs to files on disk.
APP_ORIGIN = "https://octoo-billing.invalid"
BASE_URL = f"{APP_ORIGIN}/"
FONT_FILES = {"normal": "fonts/DejaVuSans.ttf", "bold": "fonts/DejaVuSans-Bold.ttf"}


class PdfRenderError(Exception):
    """A document could not be rendered; the message is shown to staff on the invoice."""


# --- The URL fetcher -----------------------------------------------------------------------------------


def _url_prefix(setting_url: str) -> str:
    path = urlsplit(setting_url or "").path
    return "/" + path.strip("/") + "/"


def _allowed_roots() -> list[Path]:
    roots = [Path(settings.MEDIA_ROOT)]
    roots += [Path(p if isinstance(p, str | Path) else p[1]) for p in getattr(settings, "STATICFILES_DIRS", [])]
    if getattr(settings, "STATIC_ROOT", None):
        roots.append(Path(settings.STATIC_ROOT))
    return [root.resolve() for root in roots]


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _weasyprint():
    import weasyprint  # imported lazily: loading Pango costs ~0.5 s, which pages that never print should not pay

    progress = logging.getLogger("weasyprint.progress")
    if progress.level == logging.NOTSET:  # its "Step 1 ... Step 7" lines at INFO would flood the worker's log
        progress.setLevel(logging.WARNING)
    return weasyprint


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class AppFilesFetcher(URLFetcher):
        """Serves only the app's static files and media files; refuses every other URL.

        ``https://octoo-billing.invalid/static/...`` and ``.../media/...`` (what the templates' relative URLs
        resolve to) are read from disk; ``file://`` URLs only inside the static or media folders. Nothing
        ever goes to the network, so there is nothing to redirect either. Refused URLs are logged and kept in
        ``refused`` (WeasyPrint then renders without the resource).
        """

        def __init__(self):
            super().__init__(timeout=1, allowed_protocols=("https", "file"), allow_redirects=False)
            self.refused: list[str] = []

        def local_path(self, url: str) -> Path:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            path = unquote(parts.path)
            if scheme == "https" and f"{scheme}://{parts.netloc.lower()}" == APP_ORIGIN:
                static, media = _url_prefix(settings.STATIC_URL), _url_prefix(settings.MEDIA_URL)
                if path.startswith(static):
                    found = finders.find(path[len(static) :])
                    if found:
                        return self._checked(Path(found))
                    if getattr(settings, "STATIC_ROOT", None):
                        return self._checked(Path(settings.STATIC_ROOT) / path[len(static) :])
                elif path.startswith(media):
                    return self._checked(Path(settings.MEDIA_ROOT) / path[len(media) :])
            elif scheme == "file" and parts.netloc in ("", "localhost"):
                return self._checked(Path(path))
            raise ValueError(f"only the app's own static and media files may be loaded, not {url[:200]}")

        def _checked(self, path: Path) -> Path:
            resolved = path.resolve()  # follows symlinks and "..": the real file must be inside a root
            if not _inside(resolved, _allowed_roots()) or not resolved.is_file():
                raise ValueError(f"not a static or media file: {path}")
            return resolved

        def fetch(self, url, headers=None):
            try:
                path = self.local_path(url)
            except Exception:  # noqa: BLE001 - refused, whatever the reason (bad scheme, traversal, missing)
                self.refused.append(url)
                logger.warning("PDF rendering refused to load %s", url[:200])
                raise
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": mime}, status=200)

        def open(self, url, data=None, timeout=None):  # never urllib: every URL goes through fetch()
            return self.fetch(getattr(url, "full_url", url))

    return AppFilesFetcher


def url_fetcher():
    """A new restricted fetcher (its ``refused`` list is per document)."""
    return _fetcher_class()()


# --- One font configuration and one print stylesheet per process ----------------------------------------

_lock = threading.Lock()
_shared: dict = {}


def _print_assets():
    """(FontConfiguration, CSS) built once per process: @font-face fonts are loaded and registered once."""
    if "css" not in _shared:
        with _lock:
            if "css" not in _shared:
                weasyprint = _weasyprint()
                from weasyprint.text.ffi import harfbuzz_subset
                from weasyprint.text.fonts import FontConfiguration

                if harfbuzz_subset is None:
                    logger.warning(
                        "libharfbuzz-subset0 is not installed: PDFs render about 4x slower (run `make system-deps`)."
                    )

                font_config = FontConfiguration()
                static = _url_prefix(settings.STATIC_URL)
                css_text = render_to_string(
                    "invoicing/pdf/print.css",
                    {"font_urls": {k: f"{APP_ORIGIN}{static}{v}" for k, v in FONT_FILES.items()}},
                )
                css = weasyprint.CSS(
                    string=css_text, base_url=BASE_URL, url_fetcher=url_fetcher(), font_config=font_config
                )
                _shared["font_config"], _shared["css"] = font_config, css
                atexit.register(_shared.clear)  # free the fonts before the interpreter tears modules down
    return _shared["font_config"], _shared["css"]


def _neutralise_attachments(html) -> None:
    """Remove every element that would make WeasyPrint embed a file (``rel=attachment``)."""
    root = html.etree_element
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in list(root.iter()):
        rel = (element.get("rel") or "").lower().split() if isinstance(element.tag, str) else []
        if "attachment" in rel:
            parent = parents.get(element)
            if parent is not None:
                parent.remove(element)


def html_to_pdf(html_text: str, *, title: str = "", author: str = "") -> bytes:
    """Render HTML (from our templates) to PDF bytes with the restricted fetcher and the shared fonts."""
    weasyprint = _weasyprint()
    font_config, css = _print_assets()
    with _lock:  # Pango and the shared font configuration are not thread-safe; workers are processes anyway
        html = weasyprint.HTML(string=html_text, base_url=BASE_URL, url_fetcher=url_fetcher())
        _neutralise_attachments(html)
        document = html.render(font_config=font_config, stylesheets=[css])
        document.metadata.attachments = []
        for page in document.pages:
            page.links = [link for link in page.links if link[0] != "attachment"]
        if title:
            document.metadata.title = title
        if author:
            document.metadata.authors = [author]
        document.metadata.generator = "Octoo Billing"
        return document.write_pdf()


# --- What a document shows ------------------------------------------------------------------------------


@dataclass
class Line:
    """One printed line, its figures already formatted. ``label`` carries the slip type and pay-schedule rate
    in the same text as the description: every extra cell or element costs layout time and memory on a
    2,500-line invoice."""

    label: str
    quantity_price: str  # "2.5 × $85.00": one cell, not two
    discount: str
    tax: str
    total: str
    total_units: int
    has_discount: bool
    has_tax: bool


@dataclass
class Group:
    """The lines of one proforma (or the invoice's own lines when ``proforma`` is None)."""

    proforma: Proforma | None
    codes: list = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    total_units: int = 0


# Slip types named in front of the description (the others are plain from their description).
TYPE_PREFIXES = {
    Slip.Type.ADJUSTMENT: "Adjustment",
    Slip.Type.CREDIT: "Credit",
    Slip.Type.REIMBURSEMENT: "Reimbursement",
}
SCHEDULE_LABELS = {value: label.lower() for value, label in Slip._meta.get_field("pay_schedule").choices}


def _label(slip: Slip) -> str:
    label = slip.description
    prefix = TYPE_PREFIXES.get(slip.slip_type)
    if prefix and not label.lower().startswith(prefix.lower()):
        label = f"{prefix}: {label}"
    if slip.pay_schedule:
        label = f"{label} · {SCHEDULE_LABELS.get(slip.pay_schedule, slip.pay_schedule)} rate"
    return label


@lru_cache(maxsize=8192)
def _money(units, currency: str) -> str:
    return money_filter(units, currency)


@lru_cache(maxsize=8192)
def _rate(units, currency: str) -> str:
    return rate_filter(units, currency)


def _quantity(quantity) -> str:
    text = f"{quantity.normalize():f}"  # 2.5000 -> "2.5", 10 -> "10" (never "1E+1")
    return text


def _line(slip: Slip, side: str, currency: str) -> Line:
    if side == "pay":
        return Line(
            label=_label(slip),
            quantity_price=f"{_quantity(slip.quantity)} × {_rate(slip.pay_rate_units, currency)}",
            discount="",
            tax="",
            total=_money(slip.pay_total_units, currency),
            total_units=slip.pay_total_units,
            has_discount=False,
            has_tax=False,
        )
    discount = slip.line_discount_units + slip.invoice_discount_units
    tax = ""
    if slip.bill_tax_units:
        tax = f"{_money(slip.bill_tax_units, currency)} ({slip.tax_rate.normalize()}%)"
    return Line(
        label=_label(slip),
        quantity_price=f"{_quantity(slip.quantity)} × {_rate(slip.bill_rate_units, currency)}",
        discount=f"−{_money(discount, currency)}" if discount else "",
        tax=tax,
        total=_money(slip.bill_total_units, currency),
        total_units=slip.bill_total_units,
        has_discount=bool(discount),
        has_tax=bool(slip.bill_tax_units),
    )


def _columns(groups: list[Group], side: str) -> dict:
    """Which optional columns this document needs (a column of blanks is noise, and costs render time)."""
    lines = [line for group in groups for line in group.lines]
    bill = side == "bill"
    discount = bill and any(line.has_discount for line in lines)
    tax = bill and any(line.has_tax for line in lines)
    return {"discount": discount, "tax": tax, "span": 1 + discount + tax}


def _codes_by_owner(*conditions, **filters) -> dict:
    """Applied expense codes keyed by invoice id, or by ("pf", proforma id)."""
    from expense_codes.models import AppliedExpenseCode

    found = defaultdict(list)
    for code in AppliedExpenseCode.objects.filter(*conditions, **filters).order_by("label_name", "value"):
        found[code.invoice_id or ("pf", code.proforma_id)].append(code)
    return found


def invoice_pdf_context(invoice: Invoice) -> dict:
    """Everything an invoice PDF shows, in a fixed number of queries whatever its size."""
    invoice = Invoice.objects.select_related("partner", "customer", "provider", "billing_contact").get(pk=invoice.pk)
    side = "bill" if invoice.kind == Invoice.Kind.AR else "pay"
    currency = invoice.currency
    links = InvoiceProforma.objects.filter(invoice=invoice)
    if invoice.status != Invoice.Status.VOID:
        links = links.filter(is_active=True)
    links = list(links.select_related("proforma", "proforma__provider").order_by("position", "id"))
    proformas = [link.proforma for link in links]
    slips = Slip.objects.filter(Q(invoice=invoice) | Q(proforma__in=[p.pk for p in proformas])).order_by(
        "position", "id"
    )
    codes = _codes_by_owner(Q(invoice=invoice) | Q(proforma__in=[p.pk for p in proformas]))
    per_proforma = invoice.expense_code_mode == "per_proforma"
    groups = {p.pk: Group(proforma=p, codes=codes.get(("pf", p.pk), []) if per_proforma else []) for p in proformas}
    own = Group(proforma=None)
    for slip in slips.iterator(chunk_size=2000):
        group = groups.get(slip.proforma_id, own) if slip.proforma_id else own
        line = _line(slip, side, currency)
        group.lines.append(line)
        group.total_units += line.total_units
    ordered = [g for g in groups.values() if g.lines]
    if own.lines:
        ordered.append(own)
    header_codes = [] if per_proforma else codes.get(invoice.pk, [])
    if not header_codes and not per_proforma and invoice.expense_code_key:
        header_codes = [{"label_name": "", "value": invoice.expense_code_key}]
    payments = list(Payment.objects.filter(invoice=invoice).order_by("received_on", "id"))
    children = list(invoice.children.exclude(status=Invoice.Status.VOID).order_by("issue_date", "id"))
    party = invoice.party
    contact = _contact(invoice)
    instructions = _instructions(invoice)
    return {
        "doc": invoice,
        "invoice": invoice,
        "kind": "ar" if invoice.kind == Invoice.Kind.AR else "ap",
        "title": "Invoice" if invoice.kind == Invoice.Kind.AR else "AP invoice (provider bill)",
        "number": invoice.number or "DRAFT",
        "is_draft": invoice.is_draft,
        "partner": invoice.partner,
        "party": party,
        "contact": contact,
        "currency": invoice.currency,
        "side": side,
        "groups": ordered,
        "columns": _columns(ordered, side),
        "has_proformas": bool(proformas),
        "header_codes": header_codes,
        "per_proforma": per_proforma,
        "payments": payments,
        "children": children,
        "terms": _terms(invoice),
        "instructions": instructions,
        "remittance": _remittance(invoice.partner, instructions),
        "logo_url": logo_url(invoice.partner),
        "generated_at": timezone.now(),
    }


def _contact(invoice: Invoice) -> dict:
    """Who the document is addressed to: the frozen snapshot once issued, the current contact on a draft."""
    if invoice.kind == Invoice.Kind.AP:
        provider = invoice.provider
        return {
            "organisation": invoice.bill_to_name or provider.name,
            "name": invoice.contact_name if invoice.contact_name != provider.name else "",
            "email": invoice.contact_email or provider.email,
            "address": invoice.contact_address or provider.address,
        }
    if invoice.is_draft:
        contact = invoice.billing_contact or invoice.customer.contacts.filter(is_default=True).first()
        return {
            "organisation": invoice.customer.name,
            "name": contact.name if contact else invoice.contact_name,
            "email": contact.email if contact else invoice.contact_email,
            "address": (contact.address if contact else "") or invoice.customer.address,
        }
    return {
        "organisation": invoice.bill_to_name or invoice.customer.name,
        "name": invoice.contact_name,
        "email": invoice.contact_email,
        "address": invoice.contact_address,
    }


def _terms(invoice: Invoice) -> str:
    if invoice.no_payment:
        return NO_PAYMENT_TERMS
    days = invoice.payment_terms_days
    if days is None and invoice.party is not None:
        days = invoice.party.payment_terms_days
    if days is None:
        return ""
    return "Due on receipt" if days == 0 else f"Net {days} days"


def _instructions(invoice: Invoice) -> dict:
    """How the balance gets paid: a check to the partner, or the card on file."""
    partner = invoice.partner
    if invoice.kind == Invoice.Kind.AP:
        return {"kind": "ap", "payer": partner.legal_name or partner.name}
    if invoice.status == Invoice.Status.VOID:
        return {"kind": "void"}
    if not invoice.is_draft and invoice.outstanding_units <= 0:
        return {"kind": "paid"}
    customer = invoice.customer
    if customer.payment_method == customer.PaymentMethod.CARD:
        if invoice.charged_on_issue and customer.card_last4:
            return {"kind": "card_auto", "last4": customer.card_last4, "brand": customer.card_brand}
        return {"kind": "card", "last4": customer.card_last4, "email": partner.email}
    return {"kind": "check", "payee": partner.legal_name or partner.name, "address": partner.address}


def logo_url(partner) -> str:
    """The partner's logo as the media URL the fetcher reads from MEDIA_ROOT ("" without a logo). The file was
    checked when it was uploaded (customers.company.logo_check): a plain PNG, or an SVG that loads nothing."""
    if not partner.logo:
        return ""
    return f"{APP_ORIGIN}{_url_prefix(settings.MEDIA_URL)}{quote(partner.logo.name)}"


@dataclass(frozen=True)
class Remittance:
    """How to pay by transfer (the company settings), printed on AR invoices with a balance the customer pays."""

    text: str
    bank_name: str
    account_name: str
    account_number: str
    routing: str

    @property
    def has_bank(self) -> bool:
        return any((self.bank_name, self.account_name, self.account_number, self.routing))


def _remittance(partner, instructions: dict) -> Remittance | None:
    if instructions["kind"] not in ("check", "card"):  # AP, void, paid, or charged to the card on file
        return None
    remittance = Remittance(
        text=partner.remittance,
        bank_name=partner.bank_name,
        account_name=partner.bank_account_name,
        account_number=partner.bank_account_number,
        routing=partner.bank_routing,
    )
    return remittance if remittance.text or remittance.has_bank else None


def proforma_pdf_context(proforma: Proforma, *, side: str = "bill") -> dict:
    proforma = Proforma.objects.select_related("partner", "customer", "provider", "service__request").get(
        pk=proforma.pk
    )
    codes = _codes_by_owner(proforma=proforma).get(("pf", proforma.pk), [])
    currency = proforma.partner.currency
    group = Group(proforma=proforma)
    for slip in Slip.objects.filter(proforma=proforma).order_by("position", "id"):
        line = _line(slip, side, currency)
        group.lines.append(line)
        group.total_units += line.total_units
    customer = proforma.customer
    contact = customer.contacts.filter(is_default=True).first()
    if side == "bill":
        totals = {
            "subtotal": proforma.bill_subtotal_units,
            "discount": proforma.bill_discount_units,
            "tax": proforma.bill_tax_units,
            "total": proforma.bill_total_units,
        }
    else:
        totals = {"subtotal": proforma.pay_total_units, "discount": 0, "tax": 0, "total": proforma.pay_total_units}
    return {
        "doc": proforma,
        "proforma": proforma,
        "kind": "proforma",
        "title": "Proforma",
        "number": proforma.number or "DRAFT",
        "is_draft": proforma.status == Proforma.Status.DRAFT or not proforma.number,
        "partner": proforma.partner,
        "party": customer,
        "contact": {
            "organisation": customer.name,
            "name": contact.name if contact else "",
            "email": contact.email if contact else customer.email,
            "address": (contact.address if contact else "") or customer.address,
        },
        "currency": proforma.partner.currency,
        "side": side,
        "groups": [group],
        "columns": _columns([group], side),
        "header_codes": codes,
        "totals": totals,
        "logo_url": logo_url(proforma.partner),
        "generated_at": timezone.now(),
    }


# --- Rendering and storing ------------------------------------------------------------------------------


def invoice_pdf_bytes(*, invoice: Invoice) -> bytes:
    """Render an invoice (any status) to PDF bytes now. Drafts carry a DRAFT watermark."""
    context = invoice_pdf_context(invoice)
    with timezone.override(context["partner"].tzinfo):  # the same in the worker as on a page
        html = render_to_string("invoicing/pdf/invoice.html", context)
    return html_to_pdf(html, title=f"{context['title']} {context['number']}", author=context["partner"].name)


def proforma_pdf_bytes(*, proforma: Proforma, side: str = "bill") -> bytes:
    context = proforma_pdf_context(proforma, side=side)
    with timezone.override(context["partner"].tzinfo):
        html = render_to_string("invoicing/pdf/proforma.html", context)
    return html_to_pdf(html, title=f"Proforma {context['number']}", author=context["partner"].name)


def pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.number or f'draft-{invoice.pk}'}.pdf"


def invoice_pdf_store(*, invoice: Invoice, user=None) -> Invoice:
    """Render an issued invoice and store the file, once: an invoice that already has its PDF keeps it.

    A failure is recorded in ``pdf_error`` (and the audit trail) and raised as ``PdfRenderError``; it never
    touches the invoice's status or number.
    """
    current = Invoice.objects.only("id", "status", "pdf", "number", "partner_id").get(pk=invoice.pk)
    if current.is_draft:
        raise PdfRenderError("A draft is rendered on demand; only issued invoices have a stored PDF.")
    if current.pdf:
        return current
    try:
        data = invoice_pdf_bytes(invoice=current)
    except Exception as exc:  # noqa: BLE001 - any rendering failure is recorded on the invoice, then raised
        message = f"The PDF could not be rendered: {type(exc).__name__}: {exc}"[:2000]
        logger.exception("PDF rendering failed for invoice %s", invoice.pk)
        Invoice.objects.filter(pk=current.pk).update(pdf_error=message, updated_at=timezone.now())
        audit_record(target=current, action="pdf_failed", actor=user, reason=message)
        raise PdfRenderError(message) from exc
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().only("id", "pdf", "number", "partner_id").get(pk=current.pk)
        if locked.pdf:  # another worker stored it meanwhile: keep theirs, the document never changes
            return locked
        locked.pdf.save(pdf_filename(locked), ContentFile(data), save=False)
        Invoice.objects.filter(pk=locked.pk).update(pdf=locked.pdf.name, pdf_error="", updated_at=timezone.now())
        audit_record(target=locked, action="pdf_stored", actor=user, data={"file": locked.pdf.name, "bytes": len(data)})
    invoice.pdf, invoice.pdf_error = locked.pdf.name, ""
    return locked


def invoice_pdf_open(*, invoice: Invoice, user=None) -> tuple[bytes, str]:
    """(bytes, filename) for a download: the stored file of an issued invoice, a fresh render of a draft."""
    if invoice.is_draft:
        return invoice_pdf_bytes(invoice=invoice), pdf_filename(invoice)
    stored = invoice_pdf_store(invoice=invoice, user=user)
    with stored.pdf.open("rb") as handle:
        return handle.read(), pdf_filename(stored)


__all__ = [
    "BASE_URL",
    "PdfRenderError",
    "html_to_pdf",
    "invoice_pdf_bytes",
    "invoice_pdf_context",
    "invoice_pdf_open",
    "invoice_pdf_store",
    "proforma_pdf_bytes",
    "url_fetcher",
]
