"""An invoice's PDF as it stands now: the stored document with a stamp of its status drawn over every page.

The PDF stored at issue (``documents.invoice_pdf_store``) never changes and stays downloadable as the original.
Once something happened to the invoice (a payment, a credit note, a void), ``invoice_pdf_current`` serves that
same file with a stamp on each page ("PAID", "PARTIALLY PAID — $40.00 due", "CREDITED", "VOID"), without
rendering the invoice again: the stamp is a small Form XObject drawn with PDF operators in the standard
Helvetica-Bold font (nothing embedded), placed on each page with pikepdf. The page's own content streams are
left as they are, byte for byte: its /Contents becomes ``[q, <the original streams>, Q + the stamp]``.
"""

from __future__ import annotations

import enum
import io
import logging
import math
from dataclasses import dataclass

import pikepdf
from django.db.models import Q
from django.utils import timezone
from pikepdf import Array, Dictionary, Name, Operator, String

from octoo_billing.money import format_units

from ..models import CreditNote, Invoice, Payment
from .documents import invoice_pdf_open, pdf_filename

logger = logging.getLogger(__name__)

Status = Invoice.Status
# What changes an issued invoice's document: anything paid, credited or voided since the issue.
STAMPED_STATUSES = (Status.PAID, Status.PARTIALLY_PAID, Status.CREDITED, Status.VOID)


class StampKind(enum.StrEnum):
    """What the stamp says."""

    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    PARTIALLY_CREDITED = "partially_credited"
    CREDITED = "credited"
    VOID = "void"

    @property
    def rgb(self) -> tuple[float, float, float]:
        return STAMP_COLOURS[self]


# RGB, 0-1: green for settled, amber while something is due, blue for credit, red for void.
STAMP_COLOURS = {
    StampKind.PAID: (0.08, 0.50, 0.24),
    StampKind.PARTIALLY_PAID: (0.72, 0.38, 0.03),
    StampKind.PARTIALLY_CREDITED: (0.11, 0.31, 0.75),
    StampKind.CREDITED: (0.11, 0.31, 0.75),
    StampKind.VOID: (0.73, 0.11, 0.11),
}


@dataclass(frozen=True)
class Stamp:
    kind: StampKind
    title: str  # "PARTIALLY PAID — $40.00 due"
    details: tuple[str, ...] = ()  # smaller lines under the title: dates, credit note numbers


def invoice_pdf_stamped(invoice: Invoice) -> bool:
    """Whether the invoice's current PDF carries a stamp, i.e. differs from the stored original (no query)."""
    if invoice.is_draft:
        return False
    return invoice.status in STAMPED_STATUSES or invoice.paid_units > 0 or invoice.credited_units > 0


def _date(value) -> str:
    return f"{value:%b} {value.day}, {value.year}"  # Mar 5, 2026, as the PDF prints its dates


def _money(units: int, currency: str) -> str:
    """The amount as pages show it, or with the currency code when the symbol is not in the stamp font."""
    text = format_units(units, currency)
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return f"{currency} {format_units(units, currency, plain=True)}"
    return text


def _credit_notes(invoice: Invoice) -> str:
    """The credit notes issued against the invoice or applied to it ("" without any)."""
    notes = CreditNote.objects.filter(Q(invoice=invoice) | Q(applications__invoice=invoice))
    numbers = sorted(set(notes.values_list("number", flat=True)))
    if not numbers:
        return ""
    return f"Credit note{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}"


def _last_payment_on(invoice: Invoice) -> str:
    """The date of the invoice's last payment ("" without one)."""
    received = Payment.objects.filter(invoice=invoice).order_by("-received_on", "-id")
    last = received.values_list("received_on", flat=True).first()
    return _date(last) if last else ""


def invoice_stamp(invoice: Invoice) -> Stamp | None:
    """The stamp an issued invoice's PDF carries now (None: the original as it is)."""
    if not invoice_pdf_stamped(invoice):
        return None
    currency = invoice.currency
    tz = invoice.partner.tzinfo
    if invoice.status == Status.VOID:
        voided = timezone.localtime(invoice.voided_at, tz).date() if invoice.voided_at else None
        return Stamp(StampKind.VOID, "VOID", (f"Voided {_date(voided)}",) if voided else ())
    credits = _credit_notes(invoice)
    if invoice.status == Status.CREDITED:
        return Stamp(StampKind.CREDITED, "CREDITED", tuple(filter(None, [credits])))
    paid_on = _last_payment_on(invoice) if invoice.paid_units > 0 else ""
    if invoice.outstanding_units <= 0:
        details = [f"Last payment {paid_on}" if paid_on else "", credits]
        return Stamp(StampKind.PAID, "PAID", tuple(filter(None, details)))
    due = f"{_money(invoice.outstanding_units, currency)} due"
    as_of = f"Balance as of {_date(timezone.localdate(timezone=tz))}"
    if invoice.paid_units > 0:
        details = [f"{as_of} · last payment {paid_on}" if paid_on else as_of, credits]
        return Stamp(StampKind.PARTIALLY_PAID, f"PARTIALLY PAID — {due}", tuple(filter(None, details)))
    return Stamp(StampKind.PARTIALLY_CREDITED, f"PARTIALLY CREDITED — {due}", tuple(filter(None, [as_of, credits])))


# --- drawing ----------------------------------------------------------------------------------------------------

# Helvetica-Bold advance widths (1/1000 em) of the printable ASCII characters (Adobe's core font metrics), then
# the few WinAnsi characters a stamp may print; anything else is measured as an average glyph.
_ASCII_WIDTHS = (
    "278 333 474 556 556 889 722 238 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556 556 556 "
    "333 333 584 584 584 611 975 722 722 722 722 667 611 778 722 278 556 722 611 833 722 778 667 778 722 667 "
    "611 722 667 944 667 667 611 333 278 333 584 556 333 556 611 556 611 556 333 611 611 278 278 556 278 889 "
    "611 611 611 611 389 556 333 611 556 778 556 556 500 389 280 389 584"
)
WIDTHS = {chr(32 + i): int(width) for i, width in enumerate(_ASCII_WIDTHS.split())}
WIDTHS.update({"—": 1000, "–": 556, "·": 278, "€": 556, "£": 556, "¥": 556, "\u00a0": 278})
FONT = Name("/StampFont")
STAMP = Name("/OctooStamp")
OPACITY = Name("/StampOpacity")

TITLE_SIZE, TITLE_MIN = 26.0, 11.0
DETAIL_SIZE, DETAIL_MIN = 8.5, 5.0
MAX_TEXT_WIDTH = 290.0  # points: the stamp stays clear of the page's edges on a letter or A4 page
PAD_X, PAD_Y, GAP = 14.0, 9.0, 4.0
ANGLE = 9.0  # degrees, counter-clockwise: a rubber stamp, not a heading


def _encode(text: str) -> bytes:
    return text.encode("cp1252", errors="replace")  # WinAnsiEncoding, the encoding the font is declared with


def _width(text: str, size: float) -> float:
    return sum(WIDTHS.get(char, 556) for char in text) * size / 1000


def _fitted(text: str, size: float, smallest: float) -> float:
    """The font size at which ``text`` fits MAX_TEXT_WIDTH, from ``size`` down to ``smallest``."""
    natural = _width(text, size)
    return size if natural <= MAX_TEXT_WIDTH else max(smallest, size * MAX_TEXT_WIDTH / natural)


def _op(name: str, *operands) -> tuple:
    return (list(operands), Operator(name))


def _stamp_form(pdf: pikepdf.Pdf, stamp: Stamp) -> pikepdf.Stream:
    """The stamp as a Form XObject of ``pdf``: a double frame around the title and its detail lines."""
    title_size = _fitted(stamp.title, TITLE_SIZE, TITLE_MIN)
    detail_size = min([_fitted(line, DETAIL_SIZE, DETAIL_MIN) for line in stamp.details] or [DETAIL_SIZE])
    widths = [_width(stamp.title, title_size)] + [_width(line, detail_size) for line in stamp.details]
    width = max(widths) + 2 * PAD_X
    details_height = GAP + detail_size * 1.25 * len(stamp.details) if stamp.details else 0
    height = 2 * PAD_Y + title_size * 0.72 + details_height
    title_baseline = height - PAD_Y - title_size * 0.72
    r, g, b = stamp.kind.rgb
    ops = [
        _op("q"),
        _op("gs", OPACITY),
        _op("RG", r, g, b),
        _op("rg", r, g, b),
        _op("w", 2.4),
        _op("re", 1.2, 1.2, width - 2.4, height - 2.4),
        _op("S"),
        _op("w", 0.7),
        _op("re", 4.0, 4.0, width - 8.0, height - 8.0),
        _op("S"),
        _op("BT"),
    ]
    lines = [(stamp.title, title_size, title_baseline)] + [
        (line, detail_size, title_baseline - GAP - detail_size * 0.95 - detail_size * 1.25 * i)
        for i, line in enumerate(stamp.details)
    ]
    for text, size, baseline in lines:
        x = (width - _width(text, size)) / 2
        ops += [_op("Tf", FONT, round(size, 2)), _op("Tm", 1, 0, 0, 1, round(x, 2), round(baseline, 2))]
        ops.append(_op("Tj", String(_encode(text))))
    ops += [_op("ET"), _op("Q")]
    font = Dictionary(
        Type=Name.Font, Subtype=Name.Type1, BaseFont=Name("/Helvetica-Bold"), Encoding=Name.WinAnsiEncoding
    )
    resources = Dictionary(
        Font=Dictionary({str(FONT): font}),
        ExtGState=Dictionary({str(OPACITY): Dictionary(Type=Name.ExtGState, CA=0.85, ca=0.85)}),
    )
    form = pikepdf.Stream(pdf, pikepdf.unparse_content_stream(ops))
    form.Type, form.Subtype = Name.XObject, Name.Form
    form.BBox = Array([0, 0, round(width, 2), round(height, 2)])
    form.Resources = resources
    return pdf.make_indirect(form)


def _placement(page: pikepdf.Page, form: pikepdf.Stream) -> list[float]:
    """The ``cm`` matrix that centres the stamp near the top of the page, turned by ANGLE."""
    box = pikepdf.Rectangle(page.trimbox)
    _x0, _y0, width, height = (float(v) for v in form.BBox)
    centre_x = box.llx + box.width * 0.5
    centre_y = box.ury - min(box.height * 0.2, 160.0)
    cos, sin = math.cos(math.radians(ANGLE)), math.sin(math.radians(ANGLE))
    e = centre_x - (cos * width / 2 - sin * height / 2)
    f = centre_y - (sin * width / 2 + cos * height / 2)
    return [round(v, 4) for v in (cos, sin, -sin, cos, e, f)]


def pdf_stamp(data: bytes, stamp: Stamp) -> bytes:
    """``data`` (a PDF) with ``stamp`` drawn over every page. Each page's content streams stay as they are: the
    page's /Contents becomes [q, the original streams..., Q and the stamp] (pikepdf's ``add_overlay`` would
    coalesce them into one new stream)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        form = _stamp_form(pdf, stamp)
        for page in pdf.pages:
            name = page.add_resource(form, Name.XObject, STAMP)
            matrix = _placement(page, form)
            page.contents_add(b"q\n", prepend=True)
            stamp_ops = [_op("Q"), _op("q"), _op("cm", *matrix), _op("Do", name), _op("Q")]
            page.contents_add(pikepdf.unparse_content_stream(stamp_ops) + b"\n")
        out = io.BytesIO()
        pdf.save(out)  # the original streams are copied as they are (no recompression)
    return out.getvalue()


def original_filename(invoice: Invoice) -> str:
    """INV-2026-00001-original.pdf"""
    return pdf_filename(invoice).removesuffix(".pdf") + "-original.pdf"


def invoice_pdf_original(invoice: Invoice, *, user=None) -> tuple[bytes, str]:
    """(bytes, filename) of the stored PDF as issued (stored now if it is still missing); a draft's render."""
    data, filename = invoice_pdf_open(invoice=invoice, user=user)
    return (data, filename) if invoice.is_draft else (data, original_filename(invoice))


def invoice_pdf_current(invoice: Invoice, *, user=None) -> tuple[bytes, str]:
    """(bytes, filename) of the invoice's PDF as it stands now: the stored PDF (stored first if it is missing)
    with its status stamped over every page once it was paid, credited or voided; the original itself while
    nothing happened to it; a fresh render of a draft. Raises ``PdfRenderError`` like ``invoice_pdf_open``."""
    invoice = Invoice.objects.select_related("partner").get(pk=invoice.pk)  # its status now, not a page's copy
    data, filename = invoice_pdf_open(invoice=invoice, user=user)
    stamp = invoice_stamp(invoice)
    if stamp is None:
        return data, filename
    try:
        return pdf_stamp(data, stamp), filename
    except pikepdf.PdfError:  # a stored file pikepdf cannot read: the original, unstamped, rather than nothing
        logger.exception("could not stamp the PDF of invoice %s", invoice.pk)
        return data, filename


def invoice_pdf_download(invoice: Invoice, *, original: bool = False, user=None) -> tuple[bytes, str]:
    """What the office's and the portal's PDF links serve: the current PDF, or (``original``) the stored one."""
    if original:
        return invoice_pdf_original(invoice, user=user)
    return invoice_pdf_current(invoice, user=user)
