"""A partner's company settings, changed by its billing admins: company details, invoice prefixes, how to pay
(remittance text, bank details), the e-mail sender, the logo, the time zone and the locale. The office's settings
page sets the next invoice numbers with them, in one transaction and one audit row (invoicing.company).

They are printed on PDFs (invoicing.pdf), used by e-mails (invoicing.delivery) and the time zone is the one every
page of the partner's staff and customers is shown in (customers.middleware); the locale is how money and dates
are written on them, on PDFs, e-mails and CSV files (octoo_billing.locale).

``company_settings_update`` checks everything first and saves nothing when something is wrong: a
``ValidationError`` keyed by field. It writes one audit row listing what changed (the bank account number only
by its last four digits: it never goes to the audit trail or a log in full).

The logo is checked by its content, never by its name or the browser's content type:

* **PNG**: the PNG signature, nothing after its ``IEND`` chunk, read in full by Pillow (``verify``, then decoded
  within a pixel limit) and stored re-encoded without its text chunks;
* **SVG**: parsed by expat with no DTD, no entity declarations and no processing instructions (so no "billion
  laughs" and no external entities), root ``<svg>`` in the SVG namespace, and nothing that runs or loads:
  no ``<script>``, ``<foreignObject>``, HTML elements or animations, no ``on*=`` attributes, no
  ``javascript:`` URLs, no references other than to the logo's own parts (``href="#id"``, no ``xml:base``),
  no ``@import``, outside ``url(...)``, ``image-set()`` or CSS escapes in styles;
* at most ``LOGO_MAX_BYTES``, and a file named ``.svg`` must hold an SVG, one named ``.png`` a PNG.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import xml.parsers.expat
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image

from audit.recording import audit_record
from octoo_billing.files import PNG_KIND, png_end

from .access import staff_membership
from .billing import MAX_TERMS_DAYS, check_staff
from .models import Partner

# Field groups, in the order the settings page shows them.
COMPANY_FIELDS = ("name", "legal_name", "address", "tax_id", "phone")
INVOICE_FIELDS = ("ar_prefix", "ap_prefix", "proforma_prefix", "default_payment_terms_days", "issue_generated_invoices")
PAYMENT_FIELDS = ("remittance", "bank_name", "bank_account_name", "bank_account_number", "bank_routing")
EMAIL_FIELDS = ("email", "email_sender_name")
TIME_FIELDS = ("time_zone", "locale")
# The payment reminder schedule: a sorted list of days from the due date, checked by invoicing.reminders (the
# office saves it through invoicing.company, which parses what was typed).
REMINDER_FIELDS = ("reminder_days",)
SETTINGS = COMPANY_FIELDS + INVOICE_FIELDS + PAYMENT_FIELDS + EMAIL_FIELDS + TIME_FIELDS + REMINDER_FIELDS
# Besides the settings: a new logo (an uploaded file) and removing the logo.
EXTRA_VALUES = ("logo", "logo_remove")

SINGLE_LINE = ("name", "legal_name", "tax_id", "phone", "email", "email_sender_name", "bank_name", "bank_account_name")
CODES = ("ar_prefix", "ap_prefix", "proforma_prefix", "bank_account_number", "bank_routing", "time_zone", "locale")
SECRET_FIELDS = ("bank_account_number",)  # in the audit trail by their last four characters only

ADMIN_ONLY = "Only a billing admin can change the company settings."

LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_PIXELS = 25_000_000


# --- the logo --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedLogo:
    """A logo that passed the checks: what to store and under which extension."""

    extension: str  # ".png" or ".svg"
    content_type: str
    content: bytes


SVG_NS = "http://www.w3.org/2000/svg"
XHTML_NS = "http://www.w3.org/1999/xhtml"
# Elements that run something, load something or embed another document, in whatever namespace.
SVG_FORBIDDEN_ELEMENTS = {
    "script": "a script (<script>)",
    "foreignobject": "embedded web content (<foreignObject>)",
    "iframe": "an embedded page (<iframe>)",
    "embed": "an embedded object (<embed>)",
    "object": "an embedded object (<object>)",
    "handler": "a script (<handler>)",
    "listener": "an event listener (<listener>)",
    "set": "an animation (<set>)",
    "animate": "an animation (<animate>)",
    "animatemotion": "an animation (<animateMotion>)",
    "animatetransform": "an animation (<animateTransform>)",
    "animatecolor": "an animation (<animateColor>)",
    "discard": "an animation (<discard>)",
}
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)


class _SvgRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _compact(value: str) -> str:
    """The value as a browser would read a URL in it: no whitespace or control characters, lower case."""
    return _CONTROL.sub("", value).lower()


def _check_css(css: str) -> None:
    compact = _compact(css)
    if "\\" in css:  # a CSS escape can spell url( or @import so that no check sees it
        raise _SvgRefused("an escaped character in a style")
    if "@import" in compact:
        raise _SvgRefused("a style that imports another file (@import)")
    if "expression(" in compact or "javascript:" in compact:
        raise _SvgRefused("a script in a style")
    if "//" in compact or "image-set(" in compact or "image(" in compact:
        raise _SvgRefused("a style that loads something from another address")
    for _quote, target in _CSS_URL.findall(css):
        if not target.strip().startswith("#"):
            raise _SvgRefused(f"a style that loads “{target.strip()[:80]}”")


def _local(name: str) -> tuple[str, str]:
    """(namespace, local name) of an expat name split on a space."""
    namespace, _, local = name.rpartition(" ")
    return namespace, local


def _svg_check(content: bytes) -> None:
    """Parse the SVG, refusing (``_SvgRefused``) anything listed in the module's docstring."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    depth = [0]
    style_depth = [0]

    def refuse(reason):
        def handler(*_args):
            raise _SvgRefused(reason)

        return handler

    def start(name, attributes):
        namespace, local = _local(name)
        lower = local.lower()
        if depth[0] == 0 and (lower != "svg" or namespace != SVG_NS):
            raise _SvgRefused(f'a <{local}> root element instead of <svg xmlns="{SVG_NS}">')
        depth[0] += 1
        if lower in SVG_FORBIDDEN_ELEMENTS:
            raise _SvgRefused(SVG_FORBIDDEN_ELEMENTS[lower])
        if namespace == XHTML_NS:
            raise _SvgRefused(f"web page (HTML) content (<{local}>)")
        if lower == "style":
            style_depth[0] += 1
        for key, value in attributes.items():
            _attr_ns, attr = _local(key)
            attr = attr.lower()
            compact = _compact(value)
            if attr.startswith("on"):
                raise _SvgRefused(f"an event handler that runs a script ({attr}=)")
            if "javascript:" in compact or "vbscript:" in compact:
                raise _SvgRefused("a javascript: link")
            if attr == "base":
                raise _SvgRefused("a base address for its links (xml:base)")
            if attr == "href" and not value.strip().startswith("#"):
                raise _SvgRefused(f"a link to “{value.strip()[:80]}” (only links to its own parts, #id, are allowed)")
            if attr == "style":
                _check_css(value)
            elif "url(" in compact:
                _check_css(value)

    def end(name):
        depth[0] -= 1
        if _local(name)[1].lower() == "style":
            style_depth[0] -= 1

    def text(data):
        if style_depth[0]:
            _check_css(data)

    parser.StartDoctypeDeclHandler = refuse("a DOCTYPE declaration (DTD)")
    parser.EntityDeclHandler = refuse("an entity declaration")
    parser.UnparsedEntityDeclHandler = refuse("an entity declaration")
    parser.NotationDeclHandler = refuse("a notation declaration")
    parser.ExternalEntityRefHandler = refuse("an external entity")
    parser.ProcessingInstructionHandler = refuse("a processing instruction (such as <?xml-stylesheet?>)")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.Parse(content, True)
    if depth[0] != 0:  # pragma: no cover - expat refuses unclosed elements itself
        raise _SvgRefused("unclosed elements")


def _looks_like_svg(content: bytes) -> bool:
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")) and b"<svg" in content[:65536].lower()


def _png_checked(name: str, content: bytes) -> bytes:
    end = png_end(content)
    if end is None:
        raise ValidationError(f"“{name}” looks like a PNG image but cannot be read: it may be damaged.", code="bad")
    if end < len(content):
        raise ValidationError(
            f"“{name}” has extra data after the end of the picture; save it again as a plain PNG and upload it.",
            code="polyglot",
        )
    try:
        with Image.open(io.BytesIO(content), formats=["PNG"]) as image:
            image.verify()
        with Image.open(io.BytesIO(content), formats=["PNG"]) as image:
            width, height = image.size
            if width * height > LOGO_MAX_PIXELS:
                raise ValidationError(
                    f"“{name}” is {width:,} × {height:,} pixels; a logo can have at most "
                    f"{LOGO_MAX_PIXELS / 1_000_000:.0f} million pixels.",
                    code="too_large",
                )
            image.load()
            options = {key: image.info[key] for key in ("transparency", "dpi", "icc_profile") if key in image.info}
            image.info = {}
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", **options)  # re-encoded: text chunks and anything else hidden dropped
    except ValidationError:
        raise
    except Exception:  # noqa: BLE001 - Pillow raises many kinds of errors for a damaged or hostile file
        raise ValidationError(
            f"“{name}” looks like a PNG image but cannot be read: it may be damaged.", code="bad"
        ) from None
    return buffer.getvalue()


def logo_check(uploaded_file) -> CheckedLogo:
    """Check an uploaded logo by its content (see the module's docstring); a ``ValidationError`` says why not."""
    name = os.path.basename(getattr(uploaded_file, "name", "") or "") or "the file"
    size = getattr(uploaded_file, "size", None)
    if not size:
        raise ValidationError(f"“{name}” is empty. Choose the logo again.", code="empty")
    too_large = ValidationError(
        f"“{name}” is {size:,} bytes; a logo can be at most 1 MB ({LOGO_MAX_BYTES:,} bytes).", code="too_large"
    )
    if size > LOGO_MAX_BYTES:
        raise too_large
    uploaded_file.seek(0)
    content = uploaded_file.read(LOGO_MAX_BYTES + 1)
    uploaded_file.seek(0)
    if len(content) > LOGO_MAX_BYTES:
        raise too_large
    extension = os.path.splitext(name)[1].lower()
    if content.startswith(PNG_KIND.signature):
        kind = CheckedLogo(".png", "image/png", b"")
    elif _looks_like_svg(content):
        kind = CheckedLogo(".svg", "image/svg+xml", b"")
    else:
        raise ValidationError(
            f"“{name}” is not a PNG or SVG image (its content is something else). Logos can be PNG or SVG.",
            code="wrong_type",
        )
    if extension and extension != kind.extension:
        real = "a PNG" if kind.extension == ".png" else "an SVG"
        raise ValidationError(
            f"“{name}” is named as a {extension} file but its content is {real} image. "
            f"Upload it with its real type ({kind.extension}).",
            code="wrong_type",
        )
    if kind.extension == ".png":
        return CheckedLogo(".png", "image/png", _png_checked(name, content))
    try:
        _svg_check(content)
    except _SvgRefused as refused:
        raise ValidationError(
            f"“{name}” holds {refused.reason}, which a logo may not; save it as a plain SVG and upload it again.",
            code="active_content",
        ) from None
    except xml.parsers.expat.ExpatError as error:
        raise ValidationError(
            f"“{name}” is not a well-formed SVG ({xml.parsers.expat.ErrorString(error.code)}, line {error.lineno}).",
            code="bad",
        ) from None
    return CheckedLogo(".svg", "image/svg+xml", content)


# --- the settings ----------------------------------------------------------------------------------------------


def _mask(value: str) -> str:
    return f"…{value[-4:]}" if value else ""


def _clean_text(field: str, value):
    if value is None:
        return ""
    if isinstance(value, str):
        if field in SINGLE_LINE:
            return " ".join(value.split())  # no line breaks (the sender name goes into a mail header)
        if field in CODES:
            return value.strip()
        return "\n".join(line.rstrip() for line in value.strip().splitlines())
    return value


def _values_errors(partner: Partner) -> dict[str, list[str]]:
    """Rules beyond each field's own validators (which ``full_clean`` checks)."""
    errors: dict[str, list[str]] = {}
    if not partner.name:
        errors["name"] = ["Enter the company name."]
    elif Partner.objects.filter(name__iexact=partner.name).exclude(pk=partner.pk).exists():
        errors["name"] = ["That name is taken by another company on Octoo; choose another."]
    prefixes = {"ar_prefix": "AR", "ap_prefix": "AP", "proforma_prefix": "proforma"}
    seen: dict[str, str] = {}
    for field, label in prefixes.items():
        value = getattr(partner, field)
        if not value:
            errors[field] = [f"Enter the {label} prefix."]
            continue
        other = seen.get(value.upper())
        if other:
            errors[field] = [f"The {label} prefix must differ from the {other} prefix."]
        seen.setdefault(value.upper(), label)
    days = partner.default_payment_terms_days
    if days is None or not 0 <= days <= MAX_TERMS_DAYS:
        errors["default_payment_terms_days"] = [f"Enter a number of days from 0 (due on receipt) to {MAX_TERMS_DAYS}."]
    reminder_days = partner.reminder_days
    if not isinstance(reminder_days, list) or any(type(day) is not int for day in reminder_days):
        errors["reminder_days"] = ["Enter the reminder days as whole numbers separated by commas, e.g. -3, 1, 7."]
    return errors


def company_admin_check(user, partner: Partner) -> None:
    """Only the partner's billing admins change its company settings (``user=None``: the system itself)."""
    check_staff(user, partner.pk)
    if user is not None and not staff_membership(user).is_billing_admin:
        raise PermissionDenied(ADMIN_ONLY)


@transaction.atomic
def company_settings_update(
    *,
    partner: Partner,
    user,
    other_changes: dict[str, list] | None = None,
    other_errors: dict[str, list[str]] | None = None,
    **values,
) -> Partner:
    """Change a partner's company settings: any of ``SETTINGS`` (the others keep their value), plus ``logo``, an
    uploaded PNG or SVG (checked by ``logo_check``), or ``logo_remove=True`` to remove the logo.

    Billing admins of the partner only (``user=None``: the system itself, e.g. the demo data). Checks everything
    and saves nothing on error (``ValidationError`` keyed by field); writes one audit row listing what changed.

    A caller that changes more of the company in the same transaction (invoicing.company: the next invoice
    numbers) passes what it changed, ``other_changes`` (field: [before, after]), to be listed in the same audit
    row, and what it refused, ``other_errors`` (field: messages), to be raised with these fields' errors.
    """
    unknown = set(values) - set(SETTINGS) - set(EXTRA_VALUES)
    if unknown:
        raise TypeError(f"company_settings_update() got unexpected fields: {', '.join(sorted(unknown))}")
    company_admin_check(user, partner)
    errors: dict[str, list[str]] = {field: list(messages) for field, messages in (other_errors or {}).items()}
    changed: dict[str, list] = dict(other_changes or {})
    logo = values.pop("logo", None)
    logo_remove = bool(values.pop("logo_remove", False))
    checked_logo = None
    if logo is not None:
        try:
            checked_logo = logo_check(logo)
        except ValidationError as error:
            errors["logo"] = error.messages

    partner = Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    before = {field: getattr(partner, field) for field in SETTINGS}
    for field, value in values.items():
        setattr(partner, field, _clean_text(field, value))
    for field, messages in _values_errors(partner).items():
        errors.setdefault(field, []).extend(messages)
    try:
        partner.full_clean(exclude=["slug", "currency", "logo", *errors], validate_unique=False)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)

    for field in SETTINGS:
        if before[field] != getattr(partner, field):
            if field in SECRET_FIELDS:
                changed[field] = [_mask(before[field]), _mask(getattr(partner, field))]
            else:
                changed[field] = [before[field], getattr(partner, field)]
    old_logo = partner.logo.name if partner.logo else ""
    if checked_logo is not None:
        digest = hashlib.sha256(checked_logo.content).hexdigest()[:12]
        # Written now, before the row: a rollback after this leaves an unused file, never a row without its file.
        partner.logo.save(f"logo-{digest}{checked_logo.extension}", ContentFile(checked_logo.content), save=False)
    elif logo_remove and old_logo:
        partner.logo = ""
    new_logo = partner.logo.name if partner.logo else ""
    if new_logo != old_logo:
        changed["logo"] = [old_logo, new_logo]
    if not changed:
        return partner
    partner.save(update_fields=[*SETTINGS, "logo"])
    if old_logo and new_logo != old_logo:
        storage = partner.logo.storage
        transaction.on_commit(lambda: storage.delete(old_logo))  # the old file goes once the change is committed
    audit_record(target=partner, action="company_settings", actor=user, data=changed, partner_id=partner.pk)
    return partner


def logo_data_uri(partner: Partner) -> str:
    """The stored logo as a ``data:`` URI for an ``<img>`` (pages allow ``data:`` images; media is not served),
    or "" when there is none or its file is missing."""
    if not partner.logo:
        return ""
    content_type = "image/svg+xml" if partner.logo.name.lower().endswith(".svg") else "image/png"
    try:
        with partner.logo.open("rb") as handle:
            content = handle.read(LOGO_MAX_BYTES + 1)
    except OSError:
        return ""
    return f"data:{content_type};base64,{base64.b64encode(content).decode('ascii')}"
