"""Small real PDFs for tests that stamp or read a document without rendering one with WeasyPrint."""

import io

import pikepdf
from pypdf import PdfReader


def text_pdf_bytes(text: str = "Invoice as issued") -> bytes:
    """A one-page PDF showing ``text`` in Helvetica (ASCII only)."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(612, 792))
    page = pdf.pages[0]
    font = pdf.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    )
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.obj.Contents = pdf.make_stream(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("ascii"))
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def pdf_text(data: bytes) -> str:
    """Every page's text, its whitespace collapsed."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())
