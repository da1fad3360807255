"""Supporting documents (seed 003): PDF, PNG or JPG, checked from the content; empty, oversized or
mistyped files are refused with a plain reason and nothing is stored. PDFs with active content (JavaScript,
launch actions, automatic actions, attached files, forms), damaged or password-protected PDFs, polyglots (web
page code inside, data after the end) and decompression bombs are refused on the office upload page; pictures
are stored re-encoded, upright and without their metadata."""

import io

import pikepdf
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from pikepdf import Array, Dictionary, Name, String
from PIL import Image, PngImagePlugin

from audit.recording import audit_trail
from invoicing.models import SupportingDocument
from invoicing.pdf.engine import html_to_pdf
from invoicing.uploads import DocumentUploadForm, supporting_document_add, supporting_document_check
from tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db


# --- fixture builders ------------------------------------------------------------------------------------------


def build_pdf(change=None, **save_options) -> bytes:
    """A one-page PDF made with pikepdf, after ``change(pdf)`` adds what a test needs."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    if change:
        change(pdf)
    buffer = io.BytesIO()
    pdf.save(buffer, **save_options)
    return buffer.getvalue()


def with_unreferenced_object(data: bytes, body: str) -> bytes:
    """The PDF with one more object, reachable from nothing (an incremental update listing it in its xref)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        number, root = int(pdf.trailer.Size), pdf.Root.objgen[0]
    previous_xref = int(data.rsplit(b"startxref", 1)[1].split()[0])
    obj = f"{number} 0 obj\n{body}\nendobj\n".encode()
    tail = (
        f"xref\n{number} 1\n{len(data):010d} 00000 n \n"
        f"trailer\n<< /Size {number + 1} /Root {root} 0 R /Prev {previous_xref} >>\n"
        f"startxref\n{len(data) + len(obj)}\n%%EOF\n"
    ).encode()
    return data + obj + tail


def javascript_action():
    return Dictionary(S=Name.JavaScript, JS=String("app.alert('hello')"))


def open_action_javascript(pdf):
    pdf.Root.OpenAction = pdf.make_indirect(javascript_action())


def names_javascript(pdf):
    pdf.Root.Names = Dictionary(
        JavaScript=Dictionary(Names=Array([String("start"), pdf.make_indirect(javascript_action())]))
    )


def javascript_deep_in_an_object(pdf):
    pdf.Root.PieceInfo = pdf.make_indirect(Dictionary(Tool=Dictionary(Data=Array([1, javascript_action()]))))


def add_annotation(pdf, **fields):
    annotation = pdf.make_indirect(Dictionary(Type=Name.Annot, Rect=[0, 0, 100, 20], **fields))
    pdf.pages[0].Annots = pdf.make_indirect(Array([annotation]))
    return annotation


def launch_link(pdf):
    add_annotation(pdf, Subtype=Name.Link, A=Dictionary(S=Name.Launch, F=String("calc.exe")))


def page_open_action(pdf):
    pdf.pages[0].AA = Dictionary(O=Dictionary(S=Name.GoTo, D=Array([pdf.pages[0].obj, Name.Fit])))


def embedded_file(pdf):
    pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ not really a program")


def file_attachment_annotation(pdf):
    spec = pikepdf.AttachedFileSpec(pdf, b"MZ not really a program", filename="payload.exe")
    add_annotation(pdf, Subtype=Name.FileAttachment, FS=spec.obj)


def acroform(pdf):
    field = add_annotation(pdf, Subtype=Name.Widget, FT=Name.Tx, T=String("name"), P=pdf.pages[0].obj)
    pdf.Root.AcroForm = Dictionary(Fields=Array([field]))


def links_and_a_start_page(pdf):
    """What plain PDFs have and is accepted: a web link and an /OpenAction that only says which page to show."""
    add_annotation(pdf, Subtype=Name.Link, A=Dictionary(S=Name.URI, URI=String("https://example.com/terms")))
    pdf.Root.OpenAction = Array([pdf.pages[0].obj, Name.Fit])


def image_bytes(fmt: str, size=(8, 8), mode="RGB", color="teal", **save_options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, **save_options)
    return buffer.getvalue()


def photo_with_exif() -> bytes:
    """A 60×40 JPG whose EXIF says "turn me 90°" and tells the camera and the place, with a comment."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (45.0, 30.0, 0.0)}  # GPS latitude
    image = Image.new("RGB", (60, 40), "teal")
    image.paste("red", (0, 0, 10, 10))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, comment=b"taken at home")
    return buffer.getvalue()


def png_with_text(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    image = Image.new("P", (8, 8), 1)
    image.putpalette([0, 0, 0, 0, 128, 128])
    return _saved(image, "PNG", pnginfo=info, exif=exif, transparency=0)


def _saved(image, fmt, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


PDF = build_pdf()
PNG = image_bytes("PNG")
JPG = image_bytes("JPEG")
HTML = b"<html><script>alert(document.cookie)</script></html>"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root):
    return [p for p in root.rglob("*") if p.is_file()]


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def office(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def service_request(customer):
    return ServiceRequestFactory(customer=customer, partner=customer.partner)


def office_upload(client, service_request, name, content):
    return client.post(
        reverse("office:request_document_upload", args=[service_request.pk]),
        {"file": SimpleUploadedFile(name, content, content_type="application/octet-stream")},
    )


@pytest.mark.parametrize(
    "name, content, content_type",
    [
        ("scan.pdf", PDF, "application/pdf"),
        ("links.pdf", build_pdf(links_and_a_start_page), "application/pdf"),
        ("padded.pdf", PDF + b"\r\n \x00\n", "application/pdf"),  # whitespace after %%EOF is fine
        ("photo.PNG", PNG, "image/png"),
        ("receipt.jpeg", JPG, "image/jpeg"),
        ("progressive.jpg", image_bytes("JPEG", (64, 48), progressive=True), "image/jpeg"),
    ],
)
def test_pdf_png_and_jpg_are_attached_with_the_type_read_from_their_content(media, name, content, content_type):
    service_request = ServiceRequestFactory()
    document = supporting_document_add(
        service_request=service_request,
        uploaded_file=upload(name, content, "text/plain"),  # the browser lies
    )
    stored = document.file.read()
    assert document.content_type == content_type and document.name == name and document.size == len(stored)
    if content_type == "application/pdf":
        assert stored == content
    else:  # re-encoded: the same picture in the same format
        with Image.open(io.BytesIO(content)) as uploaded, Image.open(io.BytesIO(stored)) as kept:
            assert (kept.format, kept.size) == (uploaded.format, uploaded.size)
    assert [p.read_bytes() for p in stored_files(media)] == [stored]
    assert "document_upload" in [e.action for e in audit_trail(service_request)]


def test_a_pdf_made_by_our_own_renderer_is_accepted_as_it_is(media):
    rendered = html_to_pdf('<h1>Purchase order</h1><p><a href="https://example.com">example.com</a></p>')
    document = supporting_document_add(
        service_request=ServiceRequestFactory(), uploaded_file=upload("po.pdf", rendered)
    )
    assert document.content_type == "application/pdf" and document.file.read() == rendered


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


# --- what is not a plain document: refused on the office upload page, nothing stored ----------------------------

PLAIN_PDF = "save it as a plain PDF (Print to PDF) and upload it again."
REFUSALS = [
    (
        "invoice.pdf",
        lambda: build_pdf(open_action_javascript),
        f"“invoice.pdf” contains JavaScript, which we don't accept; {PLAIN_PDF}",
    ),
    (
        "names.pdf",
        lambda: build_pdf(names_javascript),
        f"“names.pdf” contains JavaScript, which we don't accept; {PLAIN_PDF}",
    ),
    (
        "deep.pdf",
        lambda: build_pdf(javascript_deep_in_an_object),
        f"“deep.pdf” contains JavaScript, which we don't accept; {PLAIN_PDF}",
    ),
    (
        "packed.pdf",
        lambda: build_pdf(javascript_deep_in_an_object, object_stream_mode=pikepdf.ObjectStreamMode.generate),
        f"“packed.pdf” contains JavaScript, which we don't accept; {PLAIN_PDF}",
    ),
    (
        "orphan.pdf",
        lambda: with_unreferenced_object(PDF, "<< /S /JavaScript /JS (app.alert\\(1\\)) >>"),
        f"“orphan.pdf” contains JavaScript, which we don't accept; {PLAIN_PDF}",
    ),
    (
        "escaped.pdf",  # /J#53 is /JS spelled with a hex escape
        lambda: PDF.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /J#53 (go) >>"),
        f"“escaped.pdf” contains JavaScript, which we don't accept; {PLAIN_PDF}",
    ),
    (
        "launch.pdf",
        lambda: build_pdf(launch_link),
        f"“launch.pdf” contains an action that starts a program, opens another file or sends data, which we don't "
        f"accept; {PLAIN_PDF}",
    ),
    (
        "auto.pdf",
        lambda: build_pdf(page_open_action),
        f"“auto.pdf” contains actions that run by themselves when it is opened or read, which we don't accept; "
        f"{PLAIN_PDF}",
    ),
    (
        "bundle.pdf",
        lambda: build_pdf(embedded_file),
        f"“bundle.pdf” has other files attached inside it, which we don't accept; {PLAIN_PDF}",
    ),
    (
        "clip.pdf",
        lambda: build_pdf(file_attachment_annotation),
        f"“clip.pdf” has other files attached inside it, which we don't accept; {PLAIN_PDF}",
    ),
    ("form.pdf", lambda: build_pdf(acroform), f"“form.pdf” is a fillable form, which we don't accept; {PLAIN_PDF}"),
    (
        "locked.pdf",
        lambda: build_pdf(encryption=pikepdf.Encryption(user="secret", owner="secret")),
        "“locked.pdf” is protected with a password, which we don't accept; save it as a PDF without a password "
        "(Print to PDF) and upload it again.",
    ),
    (
        "broken.pdf",
        lambda: b"%PDF-1.7\nthis is not a PDF body\n%%EOF\n",
        "“broken.pdf” looks like a PDF but cannot be opened: it may be damaged. Save it again as a plain PDF "
        "(Print to PDF) and upload it.",
    ),
    (
        "cut.pdf",
        lambda: PDF[: PDF.rindex(b"%%EOF")],
        "“cut.pdf” is not a complete PDF (its end is missing): it may be damaged. Save it again as a plain PDF "
        "(Print to PDF) and upload it.",
    ),
    (
        "zipped.pdf",
        lambda: PDF + b"PK\x03\x04 a zip archive after the PDF",
        f"“zipped.pdf” has extra data after the end of the PDF, which we don't accept; {PLAIN_PDF}",
    ),
    (
        "page.pdf",  # %PDF- first, a web page right behind it in a comment
        lambda: PDF.replace(b"\n", b"\n%" + HTML + b"\n", 1),
        f"“page.pdf” has web page code (HTML) hidden inside it, which we don't accept; {PLAIN_PDF}",
    ),
    (
        "tail.pdf",
        lambda: PDF + b"<!DOCTYPE html><p>hello</p>",
        f"“tail.pdf” has web page code (HTML) hidden inside it, which we don't accept; {PLAIN_PDF}",
    ),
    (
        "photo.png",
        lambda: PNG + HTML,
        "“photo.png” has web page code (HTML) hidden inside it, which we don't accept; save it again as a plain "
        "PNG image and upload it again.",
    ),
    (
        "note.png",
        lambda: png_with_text("<script>alert(1)</script>"),
        "“note.png” has web page code (HTML) hidden inside it, which we don't accept; save it again as a plain "
        "PNG image and upload it again.",
    ),
    (
        "extra.png",
        lambda: PNG + b"PK\x03\x04 a zip archive after the picture",
        "“extra.png” has extra data after the end of the picture, which we don't accept; save it again as a plain "
        "PNG image and upload it again.",
    ),
    (
        "extra.jpg",
        lambda: JPG + b"PK\x03\x04 a zip archive after the picture",
        "“extra.jpg” has extra data after the end of the picture, which we don't accept; save it again as a plain "
        "JPG image and upload it again.",
    ),
]


@pytest.mark.parametrize("name, build, message", REFUSALS, ids=[name for name, _, _ in REFUSALS])
def test_active_content_polyglots_and_damaged_pdfs_are_refused_on_the_upload_page_and_nothing_is_stored(
    office, service_request, media, name, build, message
):
    response = office_upload(office, service_request, name, build())
    assert response.status_code == 400
    body = response.content.decode()
    assert escape(message) in body
    assert "invalid-feedback" in body  # crispy: the error under the field
    assert not SupportingDocument.objects.exists()
    assert stored_files(media) == []


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    "size, expected",
    [
        ((40, 30), "“plan.png” is too large a picture (40 × 30 pixels); pictures can have at most 1,000 pixels."),
        ((100, 100), "“plan.png” is too large a picture; pictures can have at most 1,000 pixels."),
    ],
    ids=["over-the-limit", "over-twice-the-limit-pillow-refuses-to-open"],
)
def test_a_decompression_bomb_is_refused_with_the_pixel_limit(
    office, service_request, media, monkeypatch, size, expected
):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    response = office_upload(office, service_request, "plan.png", image_bytes("PNG", size))
    assert response.status_code == 400
    assert escape(expected + " Make it smaller and upload it again.") in response.content.decode()
    assert not SupportingDocument.objects.exists() and stored_files(media) == []


# --- pictures are stored re-encoded -----------------------------------------------------------------------------


def test_a_photo_is_stored_re_encoded_upright_and_without_its_exif(office, service_request, media):
    photo = photo_with_exif()
    with Image.open(io.BytesIO(photo)) as uploaded:
        assert uploaded.getexif() and uploaded.info.get("comment")  # what the phone wrote
    response = office_upload(office, service_request, "receipt.jpg", photo)
    assert response.status_code == 302
    document = SupportingDocument.objects.get(request=service_request)
    [stored_path] = stored_files(media)
    stored = stored_path.read_bytes()
    assert stored != photo and document.size == len(stored) and document.content_type == "image/jpeg"
    with Image.open(io.BytesIO(stored)) as kept:
        assert kept.format == "JPEG" and kept.size == (40, 60)  # turned as the orientation said
        assert not kept.getexif() and "exif" not in kept.info and "comment" not in kept.info
        assert kept.getpixel((35, 5))[0] > 200  # the red corner went from top-left to top-right
    assert b"PhoneMaker" not in stored and b"taken at home" not in stored
    download = office.get(reverse("office:request_document_download", args=[document.pk]))
    assert b"".join(download.streaming_content) == stored


def test_a_png_is_stored_without_its_text_and_exif_but_keeps_its_transparency(media):
    original = png_with_text("Scanned by Jane at 12 Main Street")
    document = supporting_document_add(
        service_request=ServiceRequestFactory(), uploaded_file=upload("scan.png", original)
    )
    stored = document.file.read()
    assert b"Main Street" not in stored and b"PhoneMaker" not in stored and document.size == len(stored)
    with Image.open(io.BytesIO(stored)) as kept:
        assert kept.format == "PNG" and kept.mode == "P" and kept.info.get("transparency") == 0
        assert not kept.getexif() and "Comment" not in kept.info
