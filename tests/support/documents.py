"""Small, real supporting documents for tests: a plain one-page PDF and a tiny PNG."""

import io

import pikepdf
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def plain_pdf_bytes() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name: str, content: bytes | None = None, content_type: str = "application/pdf") -> SimpleUploadedFile:
    """An uploaded file as a form would receive it (a plain PDF unless ``content`` says otherwise)."""
    return SimpleUploadedFile(name, plain_pdf_bytes() if content is None else content, content_type=content_type)
