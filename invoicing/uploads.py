"""Supporting documents uploaded on a request (seed 003): PDF, PNG or JPG, checked from their content.

The type is read from the file's first bytes (its "magic number"), never trusted from the name or the
browser's content type; a name whose extension says otherwise is refused too, so a file is always what it
claims to be. Empty and oversized files are refused. A refused upload stores nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename

from .audit import audit_record
from .models import ServiceRequest, SupportingDocument

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class FileKind:
    content_type: str
    label: str
    extensions: tuple[str, ...]
    signature: bytes


KINDS = (
    FileKind("application/pdf", "PDF", (".pdf",), b"%PDF-"),
    FileKind("image/png", "PNG image", (".png",), b"\x89PNG\r\n\x1a\n"),
    FileKind("image/jpeg", "JPG image", (".jpg", ".jpeg"), b"\xff\xd8\xff"),
)
ALLOWED_EXTENSIONS = {ext: kind for kind in KINDS for ext in kind.extensions}


def max_upload_bytes() -> int:
    return getattr(settings, "SUPPORTING_DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES)


def sniff(head: bytes) -> FileKind | None:
    """The kind of file these first bytes start, or None if it is not a PDF, PNG or JPG."""
    for kind in KINDS:
        if head.startswith(kind.signature):
            return kind
    return None


def _read_head(uploaded_file, size: int = 16) -> bytes:
    uploaded_file.seek(0)
    head = uploaded_file.read(size)
    uploaded_file.seek(0)
    return head


def _image_is_whole(uploaded_file) -> bool:
    from PIL import Image

    try:
        uploaded_file.seek(0)
        with Image.open(uploaded_file) as image:
            image.verify()
        return True
    except Exception:  # noqa: BLE001 - Pillow raises many kinds of errors for a damaged file
        return False
    finally:
        uploaded_file.seek(0)


def supporting_document_check(uploaded_file) -> FileKind:
    """Refuse with a plain ``ValidationError`` unless the file is a non-empty PDF, PNG or JPG within the limit."""
    name = os.path.basename(getattr(uploaded_file, "name", "") or "") or "the file"
    size = getattr(uploaded_file, "size", None)
    if not size:
        raise ValidationError(f"“{name}” is empty. Choose the document again.", code="empty")
    limit = max_upload_bytes()
    if size > limit:
        raise ValidationError(
            f"“{name}” is {filesizeformat(size)}; documents can be at most {filesizeformat(limit)}.",
            code="too_large",
        )
    kind = sniff(_read_head(uploaded_file))
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
    if kind.content_type.startswith("image/") and not _image_is_whole(uploaded_file):
        raise ValidationError(f"“{name}” looks like a {kind.label} but cannot be read: it may be damaged.", code="bad")
    return kind


def _storage_name(name: str, kind: FileKind) -> str:
    stem, extension = os.path.splitext(os.path.basename(name))
    stem = get_valid_filename(stem)[:80] or "document"
    if extension.lower() not in kind.extensions:
        extension = kind.extensions[0]
    return f"{stem}{extension.lower()}"


def supporting_document_add(*, service_request: ServiceRequest, uploaded_file, user=None) -> SupportingDocument:
    """Attach an uploaded file to a request after checking it; nothing is stored if it is refused."""
    kind = supporting_document_check(uploaded_file)
    display_name = os.path.basename(uploaded_file.name)[:200] or _storage_name("document", kind)
    document = SupportingDocument(
        request=service_request,
        name=display_name,
        content_type=kind.content_type,
        size=uploaded_file.size,
    )
    uploaded_file.seek(0)
    document.file.save(_storage_name(uploaded_file.name, kind), uploaded_file, save=False)
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
    "DocumentUploadForm",
    "KINDS",
    "max_upload_bytes",
    "sniff",
    "supporting_document_add",
    "supporting_document_check",
]
