"""Importing services in the office: upload → preview (every row, nothing saved) → import (all or nothing), for
any staff member; another partner's names never resolve and a stored upload can't be reached with a forged or
another partner's token."""

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from invoicing.models import Service, ServiceRequest
from tests import factories

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "services-import.csv"
HEADER = "external_ref,customer,provider,service_type,starts_at,ends_at,zone,title,request_ref"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def world(partner):
    factories.ZoneFactory(partner=partner, name="Bay Area")
    factories.ServiceTypeFactory(partner=partner, code="medical", name="Medical interpreting")
    factories.CustomerFactory(partner=partner, name="Harborview Medical Center")
    factories.ProviderFactory(partner=partner, name="Maria Delgado")
    return partner


def csv_file(*rows, name="export.csv", header=HEADER):
    return SimpleUploadedFile(name, ("\n".join([header, *rows]) + "\n").encode(), content_type="text/csv")


GOOD_ROWS = (
    "A-1,Harborview Medical Center,Maria Delgado,medical,2026-03-02 09:00,2026-03-02 11:00,,,",
    "A-2,Harborview Medical Center,,medical,2026-03-03 09:00,2026-03-03 10:00,Bay Area,Visit,r1",
    "A-3,Harborview Medical Center,,medical,2026-03-04 09:00,2026-03-04 10:00,,,r1",
)


def upload(client, file):
    return client.post(reverse("office:services_import"), {"file": file})


def token_of(response) -> str:
    return parse_qs(urlsplit(response["Location"]).query)["upload"][0]


def messages_of(response):
    return " ".join(str(m) for m in response.context["messages"])


def test_the_service_list_links_to_the_import_page(client, clerk_user):
    client.force_login(clerk_user)
    body = client.get(reverse("office:service_list")).content.decode()
    assert reverse("office:services_import") in body
    page = client.get(reverse("office:services_import"))
    assert page.status_code == 200
    assert "external_ref" in page.content.decode() and "code:&lt;label&gt;" in page.content.decode()


def test_a_clerk_uploads_previews_and_imports(client, clerk_user, world):
    client.force_login(clerk_user)

    response = upload(client, csv_file(*GOOD_ROWS))
    assert response.status_code == 302
    preview = client.get(response["Location"])

    assert preview.status_code == 200
    body = preview.content.decode()
    assert "Import 3 services" in body
    assert body.count('badge text-bg-success">OK<') == 3
    assert Service.objects.count() == 0  # the preview saves nothing
    check = preview.context["check"]
    assert (len(check.rows), check.ok_count, check.error_count, check.duplicate_count) == (3, 3, 0, 0)

    done = client.post(reverse("office:services_import_commit"), {"upload": token_of(response)}, follow=True)

    assert "Imported 3 services in 2 requests from “export.csv”." in messages_of(done)
    assert set(Service.objects.values_list("external_ref", flat=True)) == {"A-1", "A-2", "A-3"}
    assert set(ServiceRequest.objects.values_list("source", flat=True)) == {"import"}
    # The stored file is gone once imported: the same token imports nothing again.
    again = client.post(reverse("office:services_import_commit"), {"upload": token_of(response)}, follow=True)
    assert "no longer available" in messages_of(again)
    assert Service.objects.count() == 3


def test_uploading_the_same_file_again_shows_every_row_skipped_and_no_button(client, clerk_user, world):
    client.force_login(clerk_user)
    first = upload(client, csv_file(*GOOD_ROWS))
    client.post(reverse("office:services_import_commit"), {"upload": token_of(first)})

    second = client.get(upload(client, csv_file(*GOOD_ROWS))["Location"])

    body = second.content.decode()
    assert body.count("Skipped: already imported</span>") == 3
    assert "Import 0" not in body and reverse("office:services_import_commit") not in body
    assert "already imported" in body
    assert Service.objects.count() == 3


def test_bad_rows_are_shown_with_their_message_and_there_is_no_import_button(client, clerk_user, world):
    client.force_login(clerk_user)
    response = upload(
        client,
        csv_file(
            GOOD_ROWS[0],
            "B-1,Nobody Inc,,medical,2026-03-02 09:00,2026-03-02 10:00,,,",
            "B-2,Harborview Medical Center,,medical,2026-03-02 12:00,2026-03-02 10:00,,,",
        ),
    )
    preview = client.get(response["Location"])

    body = preview.content.decode()
    assert "Unknown customer “Nobody Inc”" in body
    assert "The service must end after it starts." in body
    assert "2 rows have errors" in body
    assert reverse("office:services_import_commit") not in body
    only = client.get(response["Location"] + "&show=problems")
    assert [row.number for row in only.context["rows"]] == [3, 4]

    # Posting the import anyway (the preview is never trusted) saves nothing and says why.
    refused = client.post(reverse("office:services_import_commit"), {"upload": token_of(response)}, follow=True)
    assert "2 rows have errors: nothing was imported" in messages_of(refused)
    assert Service.objects.count() == 0


def test_another_partners_customer_names_do_not_resolve(client, clerk_user, world):
    other = factories.PartnerFactory()
    factories.CustomerFactory(partner=other, name="Elsewhere Clinic")
    client.force_login(clerk_user)

    response = upload(client, csv_file("C-1,Elsewhere Clinic,,medical,2026-03-02 09:00,2026-03-02 10:00,,,"))
    body = client.get(response["Location"]).content.decode()

    assert "Unknown customer “Elsewhere Clinic”" in body


def test_a_file_of_another_type_or_with_wrong_columns_is_refused_on_the_form(client, clerk_user, world):
    client.force_login(clerk_user)

    pdf = upload(client, SimpleUploadedFile("export.pdf", b"%PDF-1.4\n", content_type="application/pdf"))
    assert pdf.status_code == 400
    assert "not a CSV or XLSX file" in pdf.content.decode()

    columns = upload(client, csv_file("x,y", header="external_ref,customer"))
    assert columns.status_code == 400
    assert "no service_type, starts_at, ends_at columns" in columns.content.decode()


def test_a_forged_or_another_partners_token_reaches_no_file(client, clerk_user, world):
    client.force_login(clerk_user)
    token = token_of(upload(client, csv_file(*GOOD_ROWS)))
    other_partner = factories.PartnerFactory()
    other_user = factories.StaffMembershipFactory(partner=other_partner).user

    forged = client.get(reverse("office:services_import_preview"), {"upload": token[:-3] + "abc"})
    assert forged.status_code == 400
    assert "not one of yours" in forged.content.decode()

    client.force_login(other_user)
    stolen = client.get(reverse("office:services_import_preview"), {"upload": token})
    assert stolen.status_code == 400
    posted = client.post(reverse("office:services_import_commit"), {"upload": token}, follow=True)
    assert "not one of yours" in messages_of(posted)
    assert Service.objects.count() == 0


def test_a_token_naming_another_stored_file_is_refused(client, clerk_user, world, settings):
    """Even a token signed with the site's key (here: made with it, as an attacker can't) for another partner's
    folder is refused: the token names its partner, and the path must be in that partner's folder."""
    from django.core import signing

    from invoicing.imports.files import TOKEN_SALT, import_upload_store

    other_partner = factories.PartnerFactory()
    theirs = import_upload_store(partner=other_partner, name="theirs.csv", data=b"external_ref\nX\n")
    forged = signing.dumps(
        {"partner": world.pk, "path": theirs.path, "name": "theirs.csv", "sha256": "0" * 64}, salt=TOKEN_SALT
    )
    client.force_login(clerk_user)

    response = client.get(reverse("office:services_import_preview"), {"upload": forged})

    assert response.status_code == 400
    assert "not one of yours" in response.content.decode()


def test_only_staff_may_import(client, customer_user):
    client.force_login(customer_user)
    assert client.get(reverse("office:services_import")).status_code == 403
    client.logout()
    assert client.get(reverse("office:services_import")).status_code == 302


def test_the_documented_sample_file_imports_into_the_demo_data(client, db):
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)
    from customers.models import StaffMembership

    clerk = StaffMembership.objects.filter(partner__slug="northwind", role="billing_clerk").first().user
    client.force_login(clerk)
    response = upload(client, SimpleUploadedFile("services-import.csv", SAMPLE.read_bytes(), content_type="text/csv"))
    preview = client.get(response["Location"])
    check = preview.context["check"]

    assert check.error_count == 0, [(r.number, [p.message for p in r.problems]) for r in check.rows]
    assert check.can_import
