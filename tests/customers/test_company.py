"""customers.company: the company settings billing admins change (prefixes, the logo checked by its content, the
time zone), one audit row per change, nothing saved on error. The next invoice numbers, set with them on the
office's page, are tested with invoicing.company (tests/invoicing/test_company_numbers.py)."""

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from audit.models import AuditEvent
from customers.company import LOGO_MAX_BYTES, company_settings_update, logo_check, logo_data_uri
from customers.models import Partner
from tests.factories import StaffMembershipFactory, issued_invoice

pytestmark = pytest.mark.django_db

SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'
PLAIN_SVG = f'<svg {SVG_NS} viewBox="0 0 40 40"><rect width="40" height="40" fill="#1f3a5f"/></svg>'


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def fresh(partner) -> Partner:
    return Partner.objects.get(pk=partner.pk)


def png_bytes(size=(24, 12), color=(31, 58, 95)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name: str, content: bytes | str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content)


def refused(partner, user, **values) -> dict:
    with pytest.raises(ValidationError) as exc:
        company_settings_update(partner=partner, user=user, **values)
    return exc.value.message_dict


# --- prefixes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "IN V", "INV_", "-INV", "INV-", "ABCDEFGHIJK", "ÄBC", "INV/2"])
def test_a_prefix_must_be_letters_digits_or_dashes_up_to_ten(partner, staff_user, prefix):
    errors = refused(partner, staff_user, ar_prefix=prefix)
    assert list(errors) == ["ar_prefix"]
    assert fresh(partner).ar_prefix == "INV"


@pytest.mark.parametrize("prefix", ["NW-AR", "INV2", "A", "ABCDEFGHIJ"])
def test_good_prefixes_are_saved_and_number_the_next_invoice(partner, staff_user, customer, prefix):
    company_settings_update(partner=partner, user=staff_user, ar_prefix=prefix)
    assert issued_invoice(customer).number.startswith(f"{prefix}-")


def test_ar_and_ap_prefixes_must_differ(partner, staff_user):
    errors = refused(partner, staff_user, ar_prefix="DOC", ap_prefix="doc")
    assert errors == {"ap_prefix": ["The AP prefix must differ from the AR prefix."]}


# --- the logo ------------------------------------------------------------------------------------------------


def test_a_png_logo_is_stored_re_encoded_under_the_partners_folder(partner, staff_user, media):
    content = png_bytes()
    partner = company_settings_update(partner=partner, user=staff_user, logo=upload("brand.png", content))
    assert partner.logo.name.startswith(f"logos/{partner.pk}/logo-") and partner.logo.name.endswith(".png")
    stored = (media / partner.logo.name).read_bytes()
    assert stored.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(stored)).size == (24, 12)
    assert logo_data_uri(partner).startswith("data:image/png;base64,")


def test_an_svg_logo_is_stored_as_it_is(partner, staff_user, media):
    partner = company_settings_update(partner=partner, user=staff_user, logo=upload("brand.svg", PLAIN_SVG))
    assert partner.logo.name.endswith(".svg")
    assert (media / partner.logo.name).read_text() == PLAIN_SVG


def test_an_inkscape_svg_with_metadata_and_local_references_is_accepted():
    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!-- Created with Inkscape -->\n'
        f'<svg {SVG_NS} xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" inkscape:version="1.3" width="80" height="40">'
        '<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>'
        "<style>.a { fill: url(#g); }</style>"
        '<rect id="r" class="a" width="40" height="40" style="stroke: url(#g)"/><use xlink:href="#r" x="40"/>'
        "</svg>"
    )
    assert logo_check(upload("logo.svg", svg)).extension == ".svg"


HOSTILE_SVGS = {
    "script": f"<svg {SVG_NS}><script>alert(1)</script></svg>",
    "onload": f'<svg {SVG_NS} onload="alert(1)"><rect width="1" height="1"/></svg>',
    "onclick on a child": f'<svg {SVG_NS}><rect width="1" height="1" OnClick="alert(1)"/></svg>',
    "external href": f'<svg {SVG_NS}><image href="https://evil.example/x.png" width="1" height="1"/></svg>',
    "external xlink:href": (
        f'<svg {SVG_NS} xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="http://evil.example/a.svg#x"/></svg>'
    ),
    "javascript link": f'<svg {SVG_NS}><a href="java&#x09;script:alert(1)"><text>hi</text></a></svg>',
    "javascript in an animation": (
        f'<svg {SVG_NS}><a><set attributeName="href" to="javascript:alert(1)"/><text>x</text></a></svg>'
    ),
    "foreignObject": (
        f'<svg {SVG_NS}><foreignObject><body xmlns="http://www.w3.org/1999/xhtml">hi</body></foreignObject></svg>'
    ),
    "xhtml element": f'<svg {SVG_NS}><h:iframe xmlns:h="http://www.w3.org/1999/xhtml" src="x"/></svg>',
    "doctype with entities": (
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        f"<svg {SVG_NS}><text>&b;</text></svg>"
    ),
    "external entity": (
        f'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg {SVG_NS}><text>&x;</text></svg>'
    ),
    "stylesheet instruction": f'<?xml-stylesheet href="https://evil.example/a.css"?><svg {SVG_NS}/>',
    "style import": f'<svg {SVG_NS}><style>@import url("https://evil.example/a.css");</style></svg>',
    "style loading a picture": f'<svg {SVG_NS}><rect style="fill: url(https://evil.example/x)"/></svg>',
    "escaped url in a style": f"<svg {SVG_NS}><style>rect {{ fill: \\75rl(https://evil.example/x) }}</style></svg>",
    "image-set in a style": f'<svg {SVG_NS}><style>rect {{ fill: image-set("x.png" 1x) }}</style></svg>',
    "url in a presentation attribute": f'<svg {SVG_NS}><rect filter="url(https://evil.example/f.svg#f)"/></svg>',
    "xml:base": f'<svg {SVG_NS} xml:base="https://evil.example/"><use href="#x"/></svg>',
    "no svg root": '<html xmlns="http://www.w3.org/1999/xhtml"><body><svg/></body></html>',
    "svg without its namespace": '<svg viewBox="0 0 1 1"><rect width="1" height="1"/></svg>',
}


@pytest.mark.parametrize("svg", HOSTILE_SVGS.values(), ids=HOSTILE_SVGS.keys())
def test_an_svg_that_runs_or_loads_something_is_refused(partner, staff_user, svg, media):
    errors = refused(partner, staff_user, logo=upload("logo.svg", svg), remittance="Pay by check.")
    assert list(errors) == ["logo"]
    assert "logo.svg" in errors["logo"][0]
    partner = fresh(partner)
    assert not partner.logo and partner.remittance == ""
    assert not list(media.rglob("*.svg"))


def test_a_png_named_svg_is_refused(partner, staff_user):
    errors = refused(partner, staff_user, logo=upload("logo.svg", png_bytes()))
    assert errors["logo"] == [
        "“logo.svg” is named as a .svg file but its content is a PNG image. Upload it with its real type (.png)."
    ]


def test_an_svg_named_png_is_refused(partner, staff_user):
    errors = refused(partner, staff_user, logo=upload("logo.png", PLAIN_SVG))
    assert "its content is an SVG image" in errors["logo"][0]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("logo.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 64, "is not a PNG or SVG image"),
        ("logo.gif", b"GIF89a" + b"\0" * 64, "is not a PNG or SVG image"),
        ("logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "cannot be read"),
        ("logo.png", png_bytes() + b"<html><script>alert(1)</script>", "extra data after the end"),
        ("logo.svg", f"<svg {SVG_NS}><rect>", "not a well-formed SVG"),
        ("logo.png", b"", "is empty"),
    ],
    ids=["jpg", "gif", "broken png", "png with a page after it", "broken svg", "empty"],
)
def test_other_files_are_refused_with_the_reason(partner, staff_user, name, content, words):
    errors = refused(partner, staff_user, logo=upload(name, content))
    assert words in errors["logo"][0]


def test_a_logo_over_one_megabyte_is_refused(partner, staff_user):
    big = f"<svg {SVG_NS}><desc>{'x' * LOGO_MAX_BYTES}</desc></svg>"
    errors = refused(partner, staff_user, logo=upload("logo.svg", big))
    assert "a logo can be at most 1 MB (1,048,576 bytes)" in errors["logo"][0]


def test_removing_the_logo_deletes_its_file_after_the_commit(
    partner, staff_user, media, django_capture_on_commit_callbacks
):
    partner = company_settings_update(partner=partner, user=staff_user, logo=upload("logo.svg", PLAIN_SVG))
    path = media / partner.logo.name
    with django_capture_on_commit_callbacks(execute=True):
        partner = company_settings_update(partner=partner, user=staff_user, logo_remove=True)
    assert not fresh(partner).logo
    assert not path.exists()


# --- time zone, e-mail sender, who may -------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "localtime", "", "PST", "../../etc/passwd"])
def test_the_time_zone_must_be_an_iana_name(partner, staff_user, zone):
    errors = refused(partner, staff_user, time_zone=zone)
    assert list(errors) == ["time_zone"]
    assert fresh(partner).time_zone == "UTC"


def test_a_time_zone_is_saved_and_used(partner, staff_user):
    partner = company_settings_update(partner=partner, user=staff_user, time_zone="America/Los_Angeles")
    assert fresh(partner).tzinfo.key == "America/Los_Angeles"


def test_a_new_partner_starts_in_the_projects_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    assert Partner.objects.create(name="Fresh", slug="fresh").time_zone == "Europe/Paris"


def test_the_sender_name_is_one_line(partner, staff_user):
    company_settings_update(partner=partner, user=staff_user, email_sender_name="Billing\r\nBcc: x@evil.example")
    assert fresh(partner).email_sender_name == "Billing Bcc: x@evil.example"


def test_a_bad_address_is_an_error_on_its_field(partner, staff_user):
    assert list(refused(partner, staff_user, email="not-an-address")) == ["email"]


def test_a_billing_clerk_is_refused(partner, clerk_user):
    with pytest.raises(PermissionDenied, match="billing admin"):
        company_settings_update(partner=partner, user=clerk_user, remittance="Pay us.")
    assert fresh(partner).remittance == ""


def test_another_partners_admin_is_refused(partner):
    other_admin = StaffMembershipFactory().user
    with pytest.raises(PermissionDenied):
        company_settings_update(partner=partner, user=other_admin, name="Taken over")


def test_unknown_fields_are_a_programming_error(partner, staff_user):
    with pytest.raises(TypeError):
        company_settings_update(partner=partner, user=staff_user, currency="EUR")


# --- the audit trail -------------------------------------------------------------------------------------------


def test_one_audit_row_lists_what_changed_with_the_account_number_masked(partner, staff_user):
    company_settings_update(
        partner=partner,
        user=staff_user,
        name=partner.name,  # unchanged: not listed
        remittance="Pay by ACH.",
        bank_account_number="000418275563",
        time_zone="America/New_York",
        logo=upload("logo.svg", PLAIN_SVG),
    )
    event = AuditEvent.objects.get(action="company_settings")
    assert (event.partner_id, event.target_id, event.actor_id) == (partner.pk, partner.pk, staff_user.pk)
    assert set(event.data) == {"remittance", "bank_account_number", "time_zone", "logo"}
    assert event.data["bank_account_number"] == ["", "…5563"]
    assert event.data["time_zone"] == ["UTC", "America/New_York"]
    assert "000418275563" not in str(event.data)


def test_saving_without_a_change_writes_no_audit_row(partner, staff_user):
    company_settings_update(partner=partner, user=staff_user, name=partner.name, ar_prefix=partner.ar_prefix)
    assert not AuditEvent.objects.filter(action="company_settings").exists()
