"""Stored files in Django admin are downloaded through the app (octoo_billing.admin_files), from the storage, by
whichever node answers: never a link to MEDIA_URL, which nothing serves."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.urls import reverse

from invoicing.models import SupportingDocument
from tests.factories import ServiceRequestFactory, UserFactory, issued_invoice

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 stored invoice\n%%EOF\n"


@pytest.fixture
def invoice_with_pdf(customer):
    invoice = issued_invoice(customer, [12000], deliver=False)
    invoice.pdf.save("INV-TEST.pdf", ContentFile(PDF))
    return invoice


def _download_url(obj):
    return reverse("admin_stored_file", args=[obj._meta.app_label, obj._meta.model_name, obj.pk])


def test_the_invoice_admin_links_its_pdf_through_the_app_and_the_link_streams_the_stored_file(
    admin_client, invoice_with_pdf
):
    page = admin_client.get(reverse("admin:invoicing_invoice_change", args=[invoice_with_pdf.pk]))
    html = page.content.decode()
    assert _download_url(invoice_with_pdf) in html
    assert "/media/" not in html
    response = admin_client.get(_download_url(invoice_with_pdf))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert "attachment" in response["Content-Disposition"]


def test_a_supporting_document_is_linked_the_same_way(admin_client, customer):
    request = ServiceRequestFactory(customer=customer, partner=customer.partner)
    document = SupportingDocument(request=request, name="referral.pdf", content_type="application/pdf", size=len(PDF))
    document.file.save("referral.pdf", ContentFile(PDF), save=False)
    document.save()
    page = admin_client.get(reverse("admin:invoicing_supportingdocument_change", args=[document.pk]))
    assert _download_url(document) in page.content.decode()
    assert b"".join(admin_client.get(_download_url(document)).streaming_content) == PDF


def test_staff_without_the_view_permission_are_refused_and_others_sent_to_sign_in(client, invoice_with_pdf):
    url = _download_url(invoice_with_pdf)
    response = client.get(url)
    assert response.status_code == 302 and "login" in response["Location"]
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_invoice", content_type__app_label="invoicing"))
    assert client.get(url).status_code == 200


def test_only_the_listed_file_fields_are_served_and_a_missing_file_is_a_404(admin_client, customer):
    invoice = issued_invoice(customer, [5000], deliver=False)
    assert admin_client.get(_download_url(invoice)).status_code == 404  # no PDF stored yet
    assert admin_client.get(reverse("admin_stored_file", args=["auth", "user", 1])).status_code == 404
