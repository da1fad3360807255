"""Supporting documents uploaded on a request (seed 003): PDF, PNG or JPG, accepted only when their content is
what they claim to be and nothing more.

The type is read from the file's first bytes (its "magic number"), never trusted from the name or the
browser's content type; a name whose extension says otherwise is refused too. Empty and oversized files are
refused. A refused upload stores nothing, and every refusal says in plain words which file and why.

Beyond the type, the rule is "a plain document, nothing hidden, nothing that runs":

* **No web page inside (polyglots).** The whole file, every byte (streams and image data included), is
  searched case-insensitively for the start of an HTML document or of an element that runs or loads
  something: ``<!doctype``, ``<html``, ``<head``, ``<body``, ``<script``, ``<iframe``, ``<object``,
  ``<embed``, ``<meta``, each followed by a space, ``/`` or ``>`` (``HTML_MARKERS``). Searching everything
  rather than only what lies outside PDF streams means no parser trick (a fake ``stream`` keyword in a
  comment, a broken ``/Length``) can hide markup from the check, and an uncompressed stream full of markup
  is just as readable to a browser. The markers are long enough that compressed data hits one by chance
  about once in 10^11 bytes, so a genuine scan or photo is not refused for it. (Downloads are also sent as
  attachments with their real content type and ``nosniff``: this rule is the second line of defence.)
* **Nothing before or after the document.** A PDF must start with ``%PDF-`` at its first byte and end with
  its last ``%%EOF`` followed by nothing but PDF whitespace (space, tab, CR, LF, FF, NUL). A PNG must end
  with its ``IEND`` chunk and a JPG with its end-of-image marker (``FFD9``), with nothing at all after them:
  the chunks and segments are walked to find that end, so an ``IEND``/``FFD9`` inside the data does not
  count. (Some phones add a video clip or a second picture after a JPG's end; such a file is refused and
  saving the picture again as a plain JPG is the way through.)
* **No active content in a PDF.** The PDF must open with pikepdf (qpdf): a damaged file that cannot be
  repaired, or one that needs a password to open, is refused. Then *every* object of the file, not only
  the catalog and the pages, and every dictionary and array nested in them (stream dictionaries and the
  trailer included) is inspected; it is refused when any of them holds JavaScript (``/JS``, a
  ``/JavaScript`` name tree or action), actions that run by themselves (``/AA``), an action that starts a
  program or opens another file or sends data (``/Launch``, ``/GoToR``, ``/GoToE``, ``/SubmitForm``,
  ``/ImportData``), embedded or attached files (``/EmbeddedFiles``, ``/EF``, ``/EmbeddedFile``,
  ``/FileAttachment`` annotations), a form (``/AcroForm``, ``/XFA``, ``/Widget`` fields, form actions) or
  multimedia (``/RichMedia``, ``/Movie``, ``/Sound``, ``/Screen``, ``/3D``, their actions). Plain links
  (``/URI``, ``/GoTo``) and an ``/OpenAction`` that only says which page to show are fine. The reason
  named is the first found in ``ActiveContent``'s order, and the way through is always the same: print the
  document to a plain PDF.
* **Pictures are stored re-encoded.** A PNG or JPG is decoded in full with Pillow (refusing one larger
  than ``Image.MAX_IMAGE_PIXELS``, a "decompression bomb", before decoding it), turned upright from its
  EXIF orientation, and encoded again in the same format. Only the pixels, the colour profile, the
  transparency and the resolution are kept: EXIF (camera, place, time), XMP, comments and text chunks are
  dropped. The stored file and its recorded size are the re-encoded ones; the name stays as uploaded.
"""

from __future__ import annotations

import enum
import io
import os
import re
from dataclasses import dataclass

import pikepdf
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename
from PIL import Image, ImageOps, JpegImagePlugin

from audit.recording import audit_record
from octoo_billing.files import JPG_KIND, PDF_KIND, PNG_KIND, FileKind, jpeg_end, png_end

from .models import ServiceRequest, SupportingDocument

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# The kinds a supporting document can be (octoo_billing.files tells them apart by their first bytes).
KINDS = (PDF_KIND, PNG_KIND, JPG_KIND)
ALLOWED_EXTENSIONS = {ext: kind for kind in KINDS for ext in kind.extensions}

HTML_MARKERS = re.compile(rb"<(?:!doctype|html|head|body|script|iframe|object|embed|meta)[\s/>]", re.IGNORECASE)
PDF_WHITESPACE = b"\x00\t\n\x0c\r "
PDF_EOF = b"%%EOF"
PLAIN_PDF_ADVICE = "save it as a plain PDF (Print to PDF) and upload it again."
PLAIN_PDF_AGAIN = "Save it again as a plain PDF (Print to PDF) and upload it."


class ActiveContent(enum.Enum):
    """What a PDF may not contain, in the order a refusal names them; the value follows the file's name in it."""

    JAVASCRIPT = "contains JavaScript"
    LAUNCH = "contains an action that starts a program, opens another file or sends data"
    AUTOMATIC_ACTIONS = "contains actions that run by themselves when it is opened or read"
    EMBEDDED_FILES = "has other files attached inside it"
    FORM = "is a fillable form"
    MULTIMEDIA = "contains video, sound or 3D content"


# Action types (/S) and what they are.
ACTIVE_ACTIONS = {
    "/JavaScript": ActiveContent.JAVASCRIPT,
    "/Launch": ActiveContent.LAUNCH,
    "/GoToR": ActiveContent.LAUNCH,
    "/GoToE": ActiveContent.LAUNCH,
    "/SubmitForm": ActiveContent.LAUNCH,
    "/ImportData": ActiveContent.LAUNCH,
    "/ResetForm": ActiveContent.FORM,
    "/Rendition": ActiveContent.MULTIMEDIA,
    "/Movie": ActiveContent.MULTIMEDIA,
    "/Sound": ActiveContent.MULTIMEDIA,
    "/RichMediaExecute": ActiveContent.MULTIMEDIA,
    "/GoTo3DView": ActiveContent.MULTIMEDIA,
}
# Dictionary keys whose mere presence is active content.
ACTIVE_KEYS = {
    "/JS": ActiveContent.JAVASCRIPT,
    "/JavaScript": ActiveContent.JAVASCRIPT,
    "/AA": ActiveContent.AUTOMATIC_ACTIONS,
    "/Launch": ActiveContent.LAUNCH,
    "/EmbeddedFiles": ActiveContent.EMBEDDED_FILES,
    "/EF": ActiveContent.EMBEDDED_FILES,
    "/AcroForm": ActiveContent.FORM,
    "/XFA": ActiveContent.FORM,
    "/RichMediaContent": ActiveContent.MULTIMEDIA,
}
# /Type or /Subtype values (annotations, file streams) that are active content.
ACTIVE_TYPES = {
    "/EmbeddedFile": ActiveContent.EMBEDDED_FILES,
    "/FileAttachment": ActiveContent.EMBEDDED_FILES,
    "/Widget": ActiveContent.FORM,
    "/RichMedia": ActiveContent.MULTIMEDIA,
    "/Movie": ActiveContent.MULTIMEDIA,
    "/Sound": ActiveContent.MULTIMEDIA,
    "/Screen": ActiveContent.MULTIMEDIA,
    "/3D": ActiveContent.MULTIMEDIA,
}


@dataclass(frozen=True)
class CheckedDocument:
    """An upload that passed the checks: its kind and the bytes to store (re-encoded for a picture)."""

    kind: FileKind
    content: bytes


def max_upload_bytes() -> int:
    return getattr(settings, "SUPPORTING_DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES)


def sniff(head: bytes) -> FileKind | None:
    """The kind of file these first bytes start, or None if it is not a PDF, PNG or JPG."""
    for kind in KINDS:
        if head.startswith(kind.signature):
            return kind
    return None


def _read_all(uploaded_file) -> bytes:
    uploaded_file.seek(0)
    content = uploaded_file.read()
    uploaded_file.seek(0)
    return content


def _display_name(uploaded_file) -> str:
    return os.path.basename(getattr(uploaded_file, "name", "") or "") or "the file"


# --- PDF -------------------------------------------------------------------------------------------------------


def _pdf_object_findings(obj, found: set[ActiveContent]) -> None:
    """Add what this object and the direct objects nested in it hold; indirect ones are visited on their own."""
    pending = [obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj]
    while pending:
        current = pending.pop()
        if isinstance(current, pikepdf.Dictionary):
            for key, value in current.items():
                if key in ACTIVE_KEYS:
                    found.add(ACTIVE_KEYS[key])
                if isinstance(value, pikepdf.Name):
                    if key == "/S" and str(value) in ACTIVE_ACTIONS:
                        found.add(ACTIVE_ACTIONS[str(value)])
                    if key in ("/Type", "/Subtype") and str(value) in ACTIVE_TYPES:
                        found.add(ACTIVE_TYPES[str(value)])
                elif _direct_container(value):
                    pending.append(value)
        elif isinstance(current, pikepdf.Array):
            pending.extend(item for item in current if _direct_container(item))


def _direct_container(item) -> bool:
    return isinstance(item, pikepdf.Dictionary | pikepdf.Array) and not item.is_indirect


def pdf_active_content(pdf: pikepdf.Pdf) -> list[ActiveContent]:
    """Everything active found in any object of the file (not only the catalog), in ``ActiveContent`` order."""
    found: set[ActiveContent] = set()
    _pdf_object_findings(pdf.trailer, found)
    for obj in pdf.objects:
        _pdf_object_findings(obj, found)
    return [item for item in ActiveContent if item in found]


def _check_pdf(name: str, content: bytes) -> None:
    end = content.rfind(PDF_EOF)
    if end < 0:
        raise ValidationError(
            f"“{name}” is not a complete PDF (its end is missing): it may be damaged. {PLAIN_PDF_AGAIN}",
            code="bad",
        )
    if content[end + len(PDF_EOF) :].strip(PDF_WHITESPACE):
        raise ValidationError(
            f"“{name}” has extra data after the end of the PDF, which we don't accept; {PLAIN_PDF_ADVICE}",
            code="polyglot",
        )
    try:
        with pikepdf.open(io.BytesIO(content)) as pdf:
            found = pdf_active_content(pdf)
    except pikepdf.PasswordError:
        raise ValidationError(
            f"“{name}” is protected with a password, which we don't accept; "
            "save it as a PDF without a password (Print to PDF) and upload it again.",
            code="encrypted",
        ) from None
    except Exception:  # noqa: BLE001 - qpdf raises several kinds of errors for a damaged file
        raise ValidationError(
            f"“{name}” looks like a PDF but cannot be opened: it may be damaged. {PLAIN_PDF_AGAIN}",
            code="bad",
        ) from None
    if found:
        raise ValidationError(
            f"“{name}” {found[0].value}, which we don't accept; {PLAIN_PDF_ADVICE}", code="active_content"
        )


# --- PNG and JPG -----------------------------------------------------------------------------------------------


def _unreadable(name: str, kind: FileKind) -> ValidationError:
    return ValidationError(f"“{name}” looks like a {kind.label} but cannot be read: it may be damaged.", code="bad")


def _too_many_pixels(name: str, width: int = 0, height: int = 0) -> ValidationError:
    limit = Image.MAX_IMAGE_PIXELS or 0
    limit_words = f"{limit / 1_000_000:.0f} million" if limit >= 1_000_000 else f"{limit:,}"
    dimensions = f" ({width:,} × {height:,} pixels)" if width and height else ""
    return ValidationError(
        f"“{name}” is too large a picture{dimensions}; pictures can have at most {limit_words} pixels. "
        "Make it smaller and upload it again.",
        code="too_large",
    )


def _reencode_image(name: str, kind: FileKind, content: bytes) -> bytes:
    """The picture decoded and encoded again upright, without its metadata; refused when it cannot be read."""
    try:
        with Image.open(io.BytesIO(content), formats=[kind.pillow_format]) as image:
            width, height = image.size
            if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
                raise _too_many_pixels(name, width, height)
            image.load()
            upright = ImageOps.exif_transpose(image)
            options: dict = {}
            for key in ("icc_profile", "dpi", "transparency"):
                if image.info.get(key) is not None:
                    options[key] = image.info[key]
            if kind is JPG_KIND and getattr(image, "quantization", None):
                options["qtables"] = image.quantization
                sampling = JpegImagePlugin.get_sampling(image)
                if sampling != -1:
                    options["subsampling"] = sampling
        upright.info = {}  # EXIF, XMP, comments, text: only what is in ``options`` is written
        buffer = io.BytesIO()
        upright.save(buffer, format=kind.pillow_format, **options)
    except ValidationError:
        raise
    except Image.DecompressionBombError:
        raise _too_many_pixels(name) from None
    except Exception:  # noqa: BLE001 - Pillow raises many kinds of errors for a damaged file
        raise _unreadable(name, kind) from None
    return buffer.getvalue()


def _check_image(name: str, kind: FileKind, content: bytes) -> bytes:
    end = png_end(content) if kind is PNG_KIND else jpeg_end(content)
    if end is None:
        raise _unreadable(name, kind)
    if end < len(content):
        raise ValidationError(
            f"“{name}” has extra data after the end of the picture, which we don't accept; "
            f"save it again as a plain {kind.label} and upload it again.",
            code="polyglot",
        )
    return _reencode_image(name, kind, content)


# --- the check and the upload ----------------------------------------------------------------------------------


def supporting_document_inspect(uploaded_file) -> CheckedDocument:
    """Check the upload (see the module's docstring) and return what to store; a ``ValidationError`` says why not."""
    name = _display_name(uploaded_file)
    size = getattr(uploaded_file, "size", None)
    if not size:
        raise ValidationError(f"“{name}” is empty. Choose the document again.", code="empty")
    limit = max_upload_bytes()
    if size > limit:
        raise ValidationError(
            f"“{name}” is {filesizeformat(size)}; documents can be at most {filesizeformat(limit)}.",
            code="too_large",
        )
    content = _read_all(uploaded_file)
    kind = sniff(content)
    if kind is None:
        raise ValidationError(
            f"“{name}” is not a PDF, PNG or JPG file (its content is something else). "
            "Only PDF, PNG and JPG documents can be attached.",
            code="wrong_type",
        )
    extension = os.path.splitext(name)[1].lower()
    if extension and extension not in kind.extensions:
        claimed = ALLOWED_EXTENSIONS.get(extension)
        claimed_label = claimed.label if claimed else f"a {extension} file"
        raise ValidationError(
            f"“{name}” is named as {'a ' + claimed_label if claimed else claimed_label} but its content is a "
            f"{kind.label}. Upload it with its real type ({' or '.join(kind.extensions)}).",
            code="wrong_type",
        )
    if HTML_MARKERS.search(content):
        advice = PLAIN_PDF_ADVICE if kind is PDF_KIND else f"save it again as a plain {kind.label} and upload it again."
        raise ValidationError(
            f"“{name}” has web page code (HTML) hidden inside it, which we don't accept; {advice}", code="polyglot"
        )
    if kind is PDF_KIND:
        _check_pdf(name, content)
        return CheckedDocument(kind, content)
    return CheckedDocument(kind, _check_image(name, kind, content))


def supporting_document_check(uploaded_file) -> FileKind:
    """Refuse with a plain ``ValidationError`` unless the file is a plain PDF, PNG or JPG within the limit."""
    return supporting_document_inspect(uploaded_file).kind


def _storage_name(name: str, kind: FileKind) -> str:
    stem, extension = os.path.splitext(os.path.basename(name))
    stem = get_valid_filename(stem)[:80] or "document"
    if extension.lower() not in kind.extensions:
        extension = kind.extensions[0]
    return f"{stem}{extension.lower()}"


def supporting_document_add(
    *, service_request: ServiceRequest, uploaded_file, user=None, checked: CheckedDocument | None = None
) -> SupportingDocument:
    """Attach an uploaded file to a request after checking it (``checked``: already inspected); nothing is stored
    if it is refused. A picture is stored re-encoded (see the module's docstring), so its stored size may differ
    from the upload's."""
    checked = checked or supporting_document_inspect(uploaded_file)
    display_name = os.path.basename(uploaded_file.name)[:200] or _storage_name("document", checked.kind)
    document = SupportingDocument(
        request=service_request,
        name=display_name,
        content_type=checked.kind.content_type,
        size=len(checked.content),
    )
    document.file.save(_storage_name(uploaded_file.name, checked.kind), ContentFile(checked.content), save=False)
    try:
        with transaction.atomic():
            document.save()
            audit_record(
                target=service_request,
                action="document_upload",
                actor=user,
                data={"document_id": document.pk, "name": document.name, "size": document.size},
            )
    except Exception:
        document.file.delete(save=False)  # the row was not saved: do not leave the file behind
        raise
    return document


class DocumentUploadForm(forms.Form):
    file = forms.FileField(
        label="Supporting document",
        help_text="PDF, PNG or JPG, up to 10 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"}),
        error_messages={"required": "Choose a file to upload.", "empty": "The file is empty."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = f"PDF, PNG or JPG, up to {filesizeformat(max_upload_bytes())}."

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        supporting_document_check(uploaded)
        return uploaded


__all__ = [
    "ActiveContent",
    "CheckedDocument",
    "DocumentUploadForm",
    "KINDS",
    "max_upload_bytes",
    "pdf_active_content",
    "sniff",
    "supporting_document_add",
    "supporting_document_check",
    "supporting_document_inspect",
]
