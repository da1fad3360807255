"""Supporting documents (seed 003): PDF, PNG or JPG, checked from the content; empty, oversized or
mistyped files are refused with a plain reason and nothing is stored."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from invoicing.audit import audit_trail
from invoicing.models import SupportingDocument
from invoicing.uploads import DocumentUploadForm, supporting_document_add, supporting_document_check
from tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def image_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(buffer, format=fmt)
    return buffer.getvalue()


PNG = image_bytes("PNG")
JPG = image_bytes("JPEG")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root):
    return [p for p in root.rglob("*") if p.is_file()]


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.mark.parametrize(
    "name, content, content_type",
    [("scan.pdf", PDF, "application/pdf"), ("photo.PNG", PNG, "image/png"), ("receipt.jpeg", JPG, "image/jpeg")],
)
def test_pdf_png_and_jpg_are_attached_with_the_type_read_from_their_content(media, name, content, content_type):
    service_request = ServiceRequestFactory()
    document = supporting_document_add(
        service_request=service_request,
        uploaded_file=upload(name, content, "text/plain"),  # the browser lies
    )
    assert document.content_type == content_type and document.name == name and document.size == len(content)
    assert document.file.read() == content
    assert [p.read_bytes() for p in stored_files(media)] == [content]
    assert "document_upload" in [e.action for e in audit_trail(service_request)]


def test_a_name_without_extension_gets_the_real_one(media):
    document = supporting_document_add(service_request=ServiceRequestFactory(), uploaded_file=upload("scan", PNG))
    assert document.content_type == "image/png" and document.file.name.endswith(".png")


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("invoice.pdf", PNG, "named as a PDF but its content is a PNG image"),
        ("invoice.pdf", b"just some text, not a PDF\n", "not a PDF, PNG or JPG file"),
        ("photo.png", JPG, "named as a PNG image but its content is a JPG image"),
        ("script.exe", PDF, "named as a .exe file"),
        ("page.html", b"<html><script>alert(1)</script></html>", "not a PDF, PNG or JPG file"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "cannot be read"),
        ("empty.pdf", b"", "is empty"),
    ],
)
def test_wrong_types_and_empty_files_are_refused_and_nothing_is_stored(media, name, content, expected):
    service_request = ServiceRequestFactory()
    with pytest.raises(ValidationError) as refused:
        supporting_document_add(service_request=service_request, uploaded_file=upload(name, content))
    assert expected in refused.value.messages[0]
    assert not SupportingDocument.objects.exists()
    assert stored_files(media) == []


def test_a_file_over_the_limit_is_refused_with_the_limit(settings, media):
    settings.SUPPORTING_DOCUMENT_MAX_BYTES = 1024
    big = PDF + b"0" * 2048
    with pytest.raises(ValidationError) as refused:
        supporting_document_add(service_request=ServiceRequestFactory(), uploaded_file=upload("big.pdf", big))
    assert "at most 1.0\xa0KB" in refused.value.messages[0]
    assert not SupportingDocument.objects.exists() and stored_files(media) == []


def test_the_default_limit_is_ten_megabytes():
    eleven_mb = upload("huge.pdf", PDF + b"0" * (11 * 1024 * 1024))
    with pytest.raises(ValidationError, match="at most 10"):
        supporting_document_check(eleven_mb)


def test_the_form_puts_the_reason_on_the_file_field():
    form = DocumentUploadForm(data={}, files={"file": upload("invoice.pdf", PNG)})
    assert not form.is_valid()
    assert "its content is a PNG image" in form.errors["file"][0]
    empty = DocumentUploadForm(data={}, files={"file": upload("empty.pdf", b"")})
    assert not empty.is_valid() and "empty" in empty.errors["file"][0]
    missing = DocumentUploadForm(data={}, files={})
    assert not missing.is_valid() and missing.errors["file"] == ["Choose a file to upload."]
