"""Importing services in a real browser: upload, preview with an error row, then a good file imported, with no
Content-Security-Policy violation on the way (Debian's Chromium through Playwright)."""

import os

import pytest

from invoicing.models import Service
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "external_ref,customer,provider,service_type,starts_at,ends_at,title,request_ref,code:Purchase order"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def world(db):
    partner = factories.PartnerFactory(name="Northwind Interpreting")
    factories.ServiceTypeFactory(partner=partner, code="medical", name="Medical interpreting")
    factories.CustomerFactory(partner=partner, name="Harborview Medical Center")
    factories.ProviderFactory(partner=partner, name="Maria Delgado")
    factories.StaffMembershipFactory(partner=partner, role="billing_clerk", user__username="clerk")
    return partner


@pytest.fixture
def errors(page):
    found = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    return found


def write(tmp_path, name, *rows):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_a_clerk_previews_a_file_then_imports_a_good_one(page, errors, world, tmp_path):
    sign_in(page, "clerk", factories.PASSWORD)
    page.goto("/office/services/")
    page.click("text=Import services >> nth=-1")
    page.wait_for_load_state()
    assert page.url.endswith("/office/services/import/")

    bad = write(
        tmp_path,
        "bad.csv",
        "A-1,Harborview Medical Center,Maria Delgado,medical,2026-03-02 09:00,2026-03-02 11:00,Visit,r1,PO-1",
        "A-2,Nobody Inc,,medical,2026-03-03 09:00,2026-03-03 10:00,,,",
    )
    page.set_input_files("input[type=file]", str(bad))
    page.click("text=Upload and preview")
    page.wait_for_load_state()
    assert page.locator("text=Unknown customer “Nobody Inc”").count() == 1
    assert page.locator("button:has-text('Import')").count() == 0
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOTS"], "import-preview-errors.png"), full_page=True)

    good = write(
        tmp_path,
        "good.csv",
        "A-1,Harborview Medical Center,Maria Delgado,medical,2026-03-02 09:00,2026-03-02 11:00,Visit,r1,PO-1",
        "A-2,Harborview Medical Center,,medical,2026-03-03 09:00,2026-03-03 10:00,,r1,",
    )
    page.goto("/office/services/import/")
    page.set_input_files("input[type=file]", str(good))
    page.click("text=Upload and preview")
    page.wait_for_load_state()
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOTS"], "import-preview.png"), full_page=True)
    page.click("button:has-text('Import 2 services')")
    page.wait_for_load_state()

    assert page.locator("text=Imported 2 services in 1 request").count() == 1
    assert Service.objects.count() == 2
    assert errors == []
