"""Stored files go through Django's storage API only (octoo_billing.storage): with the default storage swapped for
Django's InMemoryStorage, which has no path on disk, every flow that stores or serves a file still works (invoice
and credit-note PDFs, the stamped copy, supporting documents, import uploads, billing-run ZIPs, the company logo
drawn in a PDF) and nothing is written under MEDIA_ROOT. Nothing is served at MEDIA_URL. MEDIA_STORAGE=s3 builds
django-storages' S3 backend from the environment, and the same flows work on it (moto's S3, no network)."""

import io
import zipfile
from urllib.parse import parse_qs, urlsplit

import boto3
import environ
import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from moto import mock_aws
from PIL import Image
from pypdf import PdfReader
from storages.backends.s3 import S3Storage

from customers.company import company_settings_update, logo_data_uri
from invoicing.credits import credit_note_issue
from invoicing.models import BillingRun, CreditNote, Invoice, Service, SupportingDocument
from invoicing.outbox_work import outbox_run
from invoicing.payments import payment_record
from invoicing.pdf import credit_notes, documents, engine
from octoo_billing.storage import LOCAL_BACKEND, S3_BACKEND, media_storage_config
from tests import factories
from tests.factories import CustomerMembershipFactory, ServiceRequestFactory, issued_invoice
from tests.support.pdf_text import pdf_text, text_pdf_bytes

pytestmark = pytest.mark.django_db

INVOICE_PDF = text_pdf_bytes("Invoice as issued")
CREDIT_NOTE_PDF = text_pdf_bytes("Credit note as issued")
IN_MEMORY = {"BACKEND": "django.core.files.storage.InMemoryStorage"}


def png_bytes(size=(60, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (31, 95, 139)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def in_memory(settings, tmp_path):
    """The default storage in memory; MEDIA_ROOT points at a folder that must never be created."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES, "default": IN_MEMORY}
    assert isinstance(storages["default"], InMemoryStorage)
    yield
    assert not (tmp_path / "media").exists(), "a stored file was written to disk"


@pytest.fixture
def fake_render(monkeypatch):
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: INVOICE_PDF)
    monkeypatch.setattr(credit_notes, "html_to_pdf", lambda html_text, **kwargs: CREDIT_NOTE_PDF)


@pytest.fixture
def office(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def portal(customer):
    client = Client()
    client.force_login(CustomerMembershipFactory(customer=customer).user)
    return client


def url(name, *args):
    return reverse(name, args=args)


def streamed(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_default_storage_is_the_file_system_unless_the_environment_says_otherwise(monkeypatch):
    monkeypatch.delenv("MEDIA_STORAGE", raising=False)
    assert media_storage_config(environ.Env()) == {"BACKEND": LOCAL_BACKEND}


# --- invoice and credit-note PDFs --------------------------------------------------------------------------


def test_an_issued_invoices_pdf_is_stored_then_downloaded_from_the_office_and_the_portal(
    fake_render, office, portal, customer
):
    invoice = issued_invoice(customer, [5000])
    outbox_run()  # the worker: render and store the PDF, e-mail it
    invoice.refresh_from_db()
    assert invoice.pdf and default_storage.exists(invoice.pdf.name)
    with default_storage.open(invoice.pdf.name, "rb") as handle:
        assert handle.read() == INVOICE_PDF
    assert [a[1] for m in mail.outbox for a in m.attachments if a[0] == f"{invoice.number}.pdf"] in ([], [INVOICE_PDF])

    for client in (office, portal):
        name = "office:invoice_pdf" if client is office else "portal:invoice_pdf"
        response = client.get(url(name, invoice.pk))
        assert response.status_code == 200 and streamed(response) == INVOICE_PDF
        assert response["Cache-Control"] == "private, no-store"


def test_a_paid_invoice_is_stamped_over_the_stored_original(fake_render, office, portal, customer):
    invoice = issued_invoice(customer, [5000], deliver=False)
    payment_record(invoice=invoice, amount_units=5000, method="check", reference="1042")
    for client, name in ((office, "office:invoice_pdf"), (portal, "portal:invoice_pdf")):
        assert pdf_text(streamed(client.get(url(name, invoice.pk)))).startswith("Invoice as issued PAID")
    original = office.get(url("office:invoice_pdf", invoice.pk), {"original": "1"})
    assert streamed(original) == INVOICE_PDF
    assert default_storage.exists(Invoice.objects.get(pk=invoice.pk).pdf.name)


def test_a_credit_notes_pdf_is_stored_and_downloaded(fake_render, office, portal, customer, staff_user):
    invoice = issued_invoice(customer, [5000], deliver=False)
    note = credit_note_issue(invoice=invoice, amount_units=1000, reason="Late start", user=staff_user)
    outbox_run()
    assert default_storage.exists(CreditNote.objects.get(pk=note.pk).pdf.name)
    for client, name in ((office, "office:credit_note_pdf"), (portal, "portal:credit_note_pdf")):
        response = client.get(url(name, note.pk))
        assert response.status_code == 200 and streamed(response) == CREDIT_NOTE_PDF


def test_a_billing_runs_zip_is_stored_and_downloaded(fake_render, office, customer):
    invoice = issued_invoice(customer, [5000], deliver=False)
    data = {"action": "zip", "scope": "selected", "filter": "", "ids": [str(invoice.pk)]}
    office.post(url("office:ar_invoice_bulk"), data)
    run = BillingRun.objects.get()
    assert default_storage.exists(run.result_file.name)
    response = office.get(url("office:run_download", run.pk))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(streamed(response)))
    assert archive.read(f"{invoice.number}.pdf") == INVOICE_PDF


# --- supporting documents, import uploads, the logo ---------------------------------------------------------


def test_a_supporting_document_is_uploaded_then_downloaded_by_staff_and_the_customer(office, portal, customer):
    service_request = ServiceRequestFactory(customer=customer, partner=customer.partner)
    content = png_bytes()
    response = office.post(
        url("office:request_document_upload", service_request.pk),
        {"file": SimpleUploadedFile("authorization.png", content, content_type="image/png")},
    )
    assert response.status_code == 302
    document = SupportingDocument.objects.get(request=service_request)
    assert default_storage.exists(document.file.name)

    download = office.get(url("office:request_document_download", document.pk))
    stored = streamed(download)
    assert download.status_code == 200 and stored.startswith(b"\x89PNG")
    mine = portal.get(url("portal:request_document", service_request.pk, document.pk))
    assert mine.status_code == 200 and streamed(mine) == stored


def test_an_import_upload_is_kept_in_the_storage_until_imported(client, clerk_user, partner):
    factories.ServiceTypeFactory(partner=partner, code="medical", name="Medical interpreting")
    factories.CustomerFactory(partner=partner, name="Harborview Medical Center")
    client.force_login(clerk_user)
    header = "external_ref,customer,provider,service_type,starts_at,ends_at,zone,title,request_ref"
    row = "A-1,Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 11:00,,,"
    upload = SimpleUploadedFile("export.csv", f"{header}\n{row}\n".encode(), content_type="text/csv")
    response = client.post(url("office:services_import"), {"file": upload})
    assert response.status_code == 302
    folder = f"imports/{partner.pk}"
    assert len(default_storage.listdir(folder)[1]) == 1
    assert client.get(response["Location"]).status_code == 200  # the preview reads it back from the storage

    token = parse_qs(urlsplit(response["Location"]).query)["upload"][0]
    client.post(url("office:services_import_commit"), {"upload": token})
    assert Service.objects.filter(external_ref="A-1").exists()
    assert default_storage.listdir(folder)[1] == []  # removed once imported


def test_the_company_logo_is_stored_and_drawn_in_the_pdf_from_the_storage(staff_user, partner, caplog):
    partner = company_settings_update(
        partner=partner, user=staff_user, logo=SimpleUploadedFile("logo.png", png_bytes())
    )
    assert partner.logo and default_storage.exists(partner.logo.name)
    assert logo_data_uri(partner).startswith("data:image/png;base64,")  # the office page shows it from the storage

    invoice = issued_invoice(factories.CustomerFactory(partner=partner), [12000], deliver=False)
    fetcher = engine.url_fetcher()
    assert fetcher.fetch(engine.media_url(partner.logo.name)).read().startswith(b"\x89PNG")
    with caplog.at_level("WARNING", logger="invoicing.pdf.engine"):
        data = documents.invoice_pdf_bytes(invoice=invoice)  # WeasyPrint, for real
    assert "refused" not in caplog.text and "could not load" not in caplog.text
    assert PdfReader(io.BytesIO(data)).pages[0].images, "the logo is drawn on the first page"


def test_the_pdf_fetcher_refuses_media_names_that_leave_the_storage():
    default_storage.save("logos/1/logo.png", ContentFile(png_bytes()))
    fetcher = engine.url_fetcher()
    assert fetcher.fetch(f"{engine.APP_ORIGIN}/media/logos/1/logo.png").read().startswith(b"\x89PNG")
    for name in ("logos/1/../1/logo.png", "/etc/passwd", "logos//1/logo.png", "logos/1/missing.png", ""):
        with pytest.raises(Exception):  # noqa: B017 - WeasyPrint treats any exception as "not loaded"
            fetcher.fetch(f"{engine.APP_ORIGIN}/media/{name}")
    assert len(fetcher.refused) == 5


# --- nothing served at MEDIA_URL -----------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_stored_files_are_not_reachable_at_media_url(settings, client, tmp_path, debug):
    settings.DEBUG = debug
    for storage in (IN_MEMORY, {"BACKEND": LOCAL_BACKEND}):
        settings.STORAGES = {**settings.STORAGES, "default": storage}
        settings.MEDIA_ROOT = tmp_path / "local-media"
        name = default_storage.save("supporting/1/1/secret.pdf", ContentFile(b"%PDF-1.4 secret"))
        assert client.get(f"/media/{name}").status_code == 404
        default_storage.delete(name)


# --- MEDIA_STORAGE=s3 ------------------------------------------------------------------------------------------


S3_ENV = {
    "MEDIA_STORAGE": "s3",
    "MEDIA_S3_BUCKET": "octoo-media",
    "MEDIA_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    "MEDIA_S3_REGION": "us-east-1",
    "MEDIA_S3_ACCESS_KEY": "minio-user",
    "MEDIA_S3_SECRET_KEY": "minio-secret",
    "MEDIA_S3_PREFIX": "billing",
    "MEDIA_S3_ADDRESSING_STYLE": "path",
}


def s3_env(monkeypatch, **values):
    for name in S3_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return environ.Env()


def test_media_storage_s3_builds_a_private_signed_no_overwrite_s3_storage(monkeypatch):
    config = media_storage_config(s3_env(monkeypatch, **S3_ENV))
    assert config == {
        "BACKEND": S3_BACKEND,
        "OPTIONS": {
            "bucket_name": "octoo-media",
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "endpoint_url": "http://127.0.0.1:9000",
            "region_name": "us-east-1",
            "access_key": "minio-user",
            "secret_key": "minio-secret",
            "location": "billing",
            "addressing_style": "path",
        },
    }
    storage = S3Storage(**config["OPTIONS"])  # no request is made until a file is read or written
    assert (storage.bucket_name, storage.default_acl, storage.file_overwrite) == ("octoo-media", "private", False)
    signed = storage.url("invoices/2026/12/INV-2026-00001.pdf")  # signed locally, no network
    assert signed.startswith("http://127.0.0.1:9000/octoo-media/billing/invoices/2026/12/INV-2026-00001.pdf?")
    assert "X-Amz-Signature=" in signed or "Signature=" in signed


def test_media_storage_s3_needs_only_a_bucket_and_lets_boto3_find_credentials(monkeypatch):
    config = media_storage_config(s3_env(monkeypatch, MEDIA_STORAGE="S3", MEDIA_S3_BUCKET="octoo-media"))
    assert config["OPTIONS"] == {
        "bucket_name": "octoo-media",
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,
    }


@pytest.mark.parametrize(
    "values, message",
    [
        ({"MEDIA_STORAGE": "s3"}, "needs MEDIA_S3_BUCKET"),
        ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE must be one of local, s3"),
    ],
)
def test_a_wrong_media_storage_setting_is_refused_at_startup(monkeypatch, values, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        media_storage_config(s3_env(monkeypatch, **values))


@pytest.fixture
def s3(settings, monkeypatch):
    """MEDIA_STORAGE=s3 on moto's in-process S3: objects land in the bucket, nowhere on disk."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    env = s3_env(monkeypatch, MEDIA_STORAGE="s3", MEDIA_S3_BUCKET="octoo-media", MEDIA_S3_REGION="us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="octoo-media")
        settings.STORAGES = {**settings.STORAGES, "default": media_storage_config(env)}
        assert isinstance(storages["default"], S3Storage)
        yield client


def test_on_s3_pdfs_documents_and_uploads_are_stored_private_and_served_by_the_app(
    s3, fake_render, office, portal, customer, clerk_user, partner
):
    invoice = issued_invoice(customer, [5000])
    outbox_run()
    invoice.refresh_from_db()
    stored = s3.get_object(Bucket="octoo-media", Key=invoice.pdf.name)
    assert stored["Body"].read() == INVOICE_PDF
    grants = s3.get_object_acl(Bucket="octoo-media", Key=invoice.pdf.name)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]  # the owner only: private
    for client, name in ((office, "office:invoice_pdf"), (portal, "portal:invoice_pdf")):
        assert streamed(client.get(url(name, invoice.pk))) == INVOICE_PDF

    service_request = ServiceRequestFactory(customer=customer, partner=customer.partner)
    office.post(
        url("office:request_document_upload", service_request.pk),
        {"file": SimpleUploadedFile("order.pdf", INVOICE_PDF, content_type="application/pdf")},
    )
    document = SupportingDocument.objects.get(request=service_request)
    download = portal.get(url("portal:request_document", service_request.pk, document.pk))
    assert download.status_code == 200 and streamed(download) == INVOICE_PDF

    again = default_storage.save(document.file.name, ContentFile(b"%PDF-1.4 other"))
    assert again != document.file.name  # a taken name is never overwritten

    factories.ServiceTypeFactory(partner=partner, code="medical", name="Medical interpreting")
    header = "external_ref,customer,provider,service_type,starts_at,ends_at,zone,title,request_ref"
    factories.CustomerFactory(partner=partner, name="Harborview Medical Center")
    row = "S3-1,Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 11:00,,,"
    clerk = Client()
    clerk.force_login(clerk_user)
    upload = SimpleUploadedFile("export.csv", f"{header}\n{row}\n".encode(), content_type="text/csv")
    response = clerk.post(url("office:services_import"), {"file": upload})
    token = parse_qs(urlsplit(response["Location"]).query)["upload"][0]
    assert clerk.get(response["Location"]).status_code == 200
    clerk.post(url("office:services_import_commit"), {"upload": token})
    assert Service.objects.filter(external_ref="S3-1").exists()
    assert default_storage.listdir(f"imports/{partner.pk}")[1] == []
