"""Importing services from a scheduling system's CSV or XLSX export (invoicing.imports): the preview's checks,
row by row in plain words; all or nothing; a file imported twice creates nothing twice; required and auto-applied
expense codes as request_submit applies them."""

import datetime
import io
from unittest import mock

import openpyxl
import pytest
from django.utils import timezone

from audit.models import AuditEvent
from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
from invoicing.imports import commit as import_commit
from invoicing.imports.checking import RowStatus, services_import_check
from invoicing.imports.commit import services_import_commit
from invoicing.imports.files import IMPORT_MAX_ROWS, ImportRefused, import_upload_load, import_upload_store
from invoicing.models import Service, ServiceRequest
from tests import factories

pytestmark = pytest.mark.django_db

HEADER = "external_ref,customer,provider,service_type,starts_at,ends_at,address,zone,title,request_ref,notes"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def world(db):
    partner = factories.PartnerFactory()
    zone = factories.ZoneFactory(partner=partner, name="Bay Area")
    other_zone = factories.ZoneFactory(partner=partner, name="Central Valley")
    medical = factories.ServiceTypeFactory(partner=partner, code="medical", name="Medical interpreting")
    legal = factories.ServiceTypeFactory(partner=partner, code="legal", name="Legal interpreting")
    harbor = factories.CustomerFactory(partner=partner, name="Harborview Medical Center", zone=zone)
    court = factories.CustomerFactory(partner=partner, name="Alameda County Court", zone=other_zone)
    maria = factories.ProviderFactory(partner=partner, name="Maria Delgado")
    user = factories.StaffMembershipFactory(partner=partner, role="billing_clerk").user
    return {
        "partner": partner,
        "zone": zone,
        "other_zone": other_zone,
        "medical": medical,
        "legal": legal,
        "harbor": harbor,
        "court": court,
        "maria": maria,
        "user": user,
    }


def csv_bytes(*rows, header=HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


GOOD = csv_bytes(
    "S-1,Harborview Medical Center,Maria Delgado,medical,2026-03-02 09:00,2026-03-02 11:00,1 Main St,,,,",
    "S-2,harborview medical center,,Medical interpreting,2026-03-03T13:30,2026-03-03T15:00,,Central Valley,Clinic,,",
    "S-3,Alameda County Court,Maria Delgado,legal,2026-03-04 08:00,2026-03-04 12:00,,,Hearing,case-9,",
    "S-4,Alameda County Court,,legal,2026-03-05 08:00,2026-03-05 10:30,,,Hearing,case-9,second day",
)


def check(world, data, name="services.csv"):
    return services_import_check(partner=world["partner"], name=name, data=data)


def commit(world, data, name="services.csv"):
    return services_import_commit(partner=world["partner"], name=name, data=data, user=world["user"])


def problems(row) -> list[str]:
    return [p.message for p in row.problems]


def test_a_good_file_is_previewed_then_imported_into_requests_and_services(world):
    preview = check(world, GOOD)
    assert [row.status for row in preview.rows] == [RowStatus.OK] * 4
    assert (preview.ok_count, preview.error_count, preview.duplicate_count, preview.can_import) == (4, 0, 0, True)
    assert [row.number for row in preview.rows] == [2, 3, 4, 5]
    assert Service.objects.count() == 0  # the preview saves nothing

    result = commit(world, GOOD)

    assert (result.requests, result.services, result.skipped) == (3, 4, 0)
    services = {s.external_ref: s for s in Service.objects.select_related("request", "zone")}
    assert set(services) == {"S-1", "S-2", "S-3", "S-4"}
    s1, s2, s3, s4 = (services[f"S-{i}"] for i in range(1, 5))
    tz = timezone.get_current_timezone()
    assert s1.starts_at == datetime.datetime(2026, 3, 2, 9, 0, tzinfo=tz)
    assert s2.ends_at == datetime.datetime(2026, 3, 3, 15, 0, tzinfo=tz)
    assert s1.provider == world["maria"] and s2.provider is None
    assert s1.zone == world["zone"]  # the customer's zone by default
    assert s2.zone == world["other_zone"]
    assert s1.address == "1 Main St" and s4.notes == "second day"
    assert s1.request.title == "Medical interpreting"  # the service type's name by default
    assert s2.request.title == "Clinic"
    assert s3.request_id == s4.request_id and s3.request.title == "Hearing"  # request_ref: one request
    assert s1.request_id != s2.request_id
    assert {r.source for r in ServiceRequest.objects.all()} == {ServiceRequest.Source.IMPORT}
    assert {r.created_by for r in ServiceRequest.objects.all()} == {world["user"]}
    event = AuditEvent.objects.get(action="services_import")
    assert event.partner == world["partner"] and event.actor == world["user"]
    assert event.data["services"] == 4 and event.data["requests"] == 3


def test_importing_the_same_file_again_creates_nothing(world):
    commit(world, GOOD)

    preview = check(world, GOOD)
    assert [row.status for row in preview.rows] == [RowStatus.DUPLICATE] * 4
    assert (preview.ok_count, preview.duplicate_count, preview.can_import) == (0, 4, False)
    result = commit(world, GOOD)
    assert (result.requests, result.services, result.skipped) == (0, 0, 4)
    assert Service.objects.count() == 4 and ServiceRequest.objects.count() == 3


def test_a_file_with_new_rows_imports_only_those(world):
    commit(world, GOOD)
    more = GOOD + b"S-5,Harborview Medical Center,,medical,2026-03-09 09:00,2026-03-09 10:00,,,,,\n"

    preview = check(world, more)
    assert (preview.ok_count, preview.duplicate_count) == (1, 4)
    result = commit(world, more)
    assert (result.services, result.skipped) == (1, 4)
    assert Service.objects.count() == 5


@pytest.mark.parametrize(
    "row, column, message",
    [
        (
            ",Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00",
            "external_ref",
            "external_ref is empty",
        ),
        ("X,Nobody Inc,,medical,2026-03-02 09:00,2026-03-02 10:00", "customer", "Unknown customer “Nobody Inc”"),
        (
            "X,Harborview Medical Center,Zed,medical,2026-03-02 09:00,2026-03-02 10:00",
            "provider",
            "Unknown provider “Zed”",
        ),
        (
            "X,Harborview Medical Center,,plumbing,2026-03-02 09:00,2026-03-02 10:00",
            "service_type",
            "Unknown service type",
        ),
        (
            "X,Harborview Medical Center,,medical,03/02/2026 9:00,2026-03-02 10:00",
            "starts_at",
            "is not a date and time",
        ),
        (
            "X,Harborview Medical Center,,medical,2026-02-30 09:00,2026-03-02 10:00",
            "starts_at",
            "is not a date and time",
        ),
        ("X,Harborview Medical Center,,medical,2026-03-02 09:00,", "ends_at", "ends_at is empty"),
        (
            "X,Harborview Medical Center,,medical,2026-03-02 11:00,2026-03-02 10:00",
            "ends_at",
            "must end after it starts",
        ),
        ("X,Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00,,Mars", "zone", "Unknown zone “Mars”"),
    ],
    ids=["no-ref", "customer", "provider", "type", "date-format", "no-such-day", "no-end", "reversed", "zone"],
)
def test_each_bad_row_says_what_is_wrong_and_nothing_is_imported(world, row, column, message):
    data = csv_bytes("OK-1,Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00", row)

    preview = check(world, data)

    good, bad = preview.rows
    assert good.status == RowStatus.OK
    assert bad.status == RowStatus.ERROR
    assert bad.problem_fields == {column}
    assert any(message in text for text in problems(bad)), problems(bad)
    assert (preview.ok_count, preview.error_count, preview.can_import) == (1, 1, False)
    with pytest.raises(ImportRefused, match="1 row has errors: nothing was imported"):
        commit(world, data)
    assert Service.objects.count() == 0 and ServiceRequest.objects.count() == 0


def test_another_partners_customers_types_and_zones_do_not_resolve(world):
    other = factories.PartnerFactory()
    factories.CustomerFactory(partner=other, name="Elsewhere Clinic")
    factories.ServiceTypeFactory(partner=other, code="plumbing")
    other_customer = factories.CustomerFactory(partner=other)
    data = csv_bytes(
        "A,Elsewhere Clinic,,medical,2026-03-02 09:00,2026-03-02 10:00",
        f"B,{other_customer.pk},,medical,2026-03-02 09:00,2026-03-02 10:00",
        "C,Harborview Medical Center,,plumbing,2026-03-02 09:00,2026-03-02 10:00",
    )

    rows = check(world, data).rows

    assert [row.problem_fields for row in rows] == [{"customer"}, {"customer"}, {"service_type"}]


def test_customers_and_providers_are_found_by_id_too(world):
    data = csv_bytes(f"A,{world['court'].pk},{world['maria'].pk},legal,2026-03-02 09:00,2026-03-02 10:00")

    commit(world, data)

    service = Service.objects.get()
    assert service.request.customer == world["court"] and service.provider == world["maria"]


def test_a_reference_twice_in_the_file_is_refused_on_its_second_row(world):
    data = csv_bytes(
        "A,Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00",
        "A,Harborview Medical Center,,medical,2026-03-03 09:00,2026-03-03 10:00",
    )

    first, second = check(world, data).rows

    assert first.status == RowStatus.OK
    assert problems(second) == ["The external_ref “A” is also on row 2: each service can be in the file once."]


def test_rows_of_one_request_must_agree_on_its_customer_title_and_codes(world):
    ExpenseCodeLabel.objects.create(customer=world["harbor"], name="Purchase order")
    data = csv_bytes(
        "A,Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00,,,Visit,R1,,PO-1",
        "B,Harborview Medical Center,,medical,2026-03-03 09:00,2026-03-03 10:00,,,Other,R1,,PO-1",
        "C,Alameda County Court,,legal,2026-03-04 09:00,2026-03-04 10:00,,,,R1,,",
        "D,Harborview Medical Center,,medical,2026-03-05 09:00,2026-03-05 10:00,,,,R1,,PO-2",
        header=HEADER + ",code:Purchase order",
    )

    rows = check(world, data).rows

    assert rows[0].status == RowStatus.OK
    assert rows[1].problem_fields == {"title"}
    assert rows[2].problem_fields == {"customer"} and "different customers" in problems(rows[2])[0]
    assert (
        rows[3].problem_fields == {"code:Purchase order"} and "different Purchase order codes" in problems(rows[3])[0]
    )


def test_a_required_code_must_be_in_the_file_unless_auto_applied(world):
    harbor = world["harbor"]
    label = ExpenseCodeLabel.objects.create(customer=harbor, name="Authorization code", is_required=True)
    cost = ExpenseCodeLabel.objects.create(customer=harbor, name="Cost center", is_required=True)
    AppliedExpenseCode.objects.create(default_for=harbor, label=cost, label_name=cost.name, value="CC-1")
    header = HEADER + ",code:authorization code"
    missing = csv_bytes("A,Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00,,,,,,", header=header)

    (row,) = check(world, missing).rows

    assert row.status == RowStatus.ERROR
    assert row.problem_fields == {"code:Authorization code"}
    assert problems(row) == [f"Enter the Authorization code: {harbor} requires one on every request."]

    no_column = csv_bytes("A,Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00")
    (row,) = check(world, no_column).rows
    assert "Add a column “code:Authorization code”." in problems(row)[0]

    given = csv_bytes(
        "A,Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00,,,,,,ABC123", header=header
    )
    commit(world, given)
    request = ServiceRequest.objects.get()
    codes = {(c.label_id, c.label_name, c.value) for c in request.expense_codes.all()}
    assert codes == {(label.pk, "Authorization code", "ABC123"), (cost.pk, "Cost center", "CC-1")}  # auto-applied too


def test_the_customers_require_a_code_policy_holds(world):
    harbor = world["harbor"]
    harbor.require_expense_code = True
    harbor.save()
    data = csv_bytes("A,Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00")

    (row,) = check(world, data).rows

    assert row.problem_fields == {"codes"}
    assert "An expense code is required" in problems(row)[0]


def test_codes_go_on_the_request_once_for_all_its_rows(world):
    ExpenseCodeLabel.objects.create(customer=world["court"], name="Request #")
    data = csv_bytes(
        "A,Alameda County Court,,legal,2026-03-02 09:00,2026-03-02 10:00,,,,R1,,REQ-1",
        "B,Alameda County Court,,legal,2026-03-03 09:00,2026-03-03 10:00,,,,R1,,",
        header=HEADER + ",Code:Request #",
    )

    commit(world, data)

    request = ServiceRequest.objects.get()
    assert list(request.expense_codes.values_list("label_name", "value")) == [("Request #", "REQ-1")]
    assert request.services.count() == 2


def xlsx_bytes(rows) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_an_xlsx_file_imports_with_real_date_cells_and_numbers(world):
    data = xlsx_bytes(
        [
            ["External_Ref", "Customer", "Service_Type", "Starts_At", "Ends_At", "code:PO"],
            [1001, "Harborview Medical Center", "medical", datetime.datetime(2026, 3, 2, 9), "2026-03-02 10:30", 4711],
            [None, None, None, None, None, None],
            [
                1002.0,
                world["court"].pk,
                "legal",
                datetime.datetime(2026, 3, 3, 9),
                datetime.datetime(2026, 3, 3, 11),
                "",
            ],
        ]
    )

    preview = check(world, data, name="export.XLSX")
    assert [row.number for row in preview.rows] == [2, 4]
    assert preview.can_import, [problems(r) for r in preview.rows]
    commit(world, data, name="export.XLSX")

    services = {s.external_ref: s for s in Service.objects.all()}
    assert set(services) == {"1001", "1002"}
    tz = timezone.get_current_timezone()
    assert services["1001"].starts_at == datetime.datetime(2026, 3, 2, 9, tzinfo=tz)
    assert services["1001"].ends_at == datetime.datetime(2026, 3, 2, 10, 30, tzinfo=tz)
    assert list(services["1001"].request.expense_codes.values_list("label_name", "value")) == [("PO", "4711")]


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("services.xls", b"\xd0\xcf\x11\xe0", "not a CSV or XLSX file: save it as .xlsx"),
        ("services.pdf", b"%PDF-1.4", "not a CSV or XLSX file"),
        ("services.xlsx", b"external_ref,customer\n", "not an XLSX workbook"),
        ("services.xlsx", b"PK\x03\x04broken", "could not be read"),
        ("services.csv", b"", "empty"),
        ("services.csv", "external_ref;customer\n".encode("utf-16"), "not in UTF-8"),
        ("services.csv", b"external_ref,customer,service_type,starts_at\n", "no ends_at column"),
        ("services.csv", csv_bytes("", header=HEADER + ",colour"), "Unknown column “colour”"),
        ("services.csv", csv_bytes("", header=HEADER + ",Customer"), "appears twice"),
        ("services.csv", csv_bytes("", header=HEADER), "no rows under its header"),
    ],
    ids=["xls", "pdf", "fake-xlsx", "broken-xlsx", "empty", "utf16", "missing-column", "unknown", "twice", "no-rows"],
)
def test_files_of_another_type_or_shape_are_refused_with_a_message(world, name, data, message):
    with pytest.raises(ImportRefused, match=message) as refused:
        check(world, data, name=name)
    assert refused.value.field == "file"


def test_too_large_or_too_long_files_are_refused(world):
    with mock.patch("invoicing.imports.files.IMPORT_MAX_BYTES", 100):
        with pytest.raises(ImportRefused, match="larger than"):
            check(world, GOOD)
    rows = [f"R{i},Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00" for i in range(11)]
    with mock.patch("invoicing.imports.files.IMPORT_MAX_ROWS", 10):
        with pytest.raises(ImportRefused, match="more than 10 rows"):
            check(world, csv_bytes(*rows))
    assert IMPORT_MAX_ROWS >= 10_000


def test_a_semicolon_separated_csv_with_a_bom_is_read(world):
    data = (
        "\ufeff"
        + HEADER.replace(",", ";")
        + "\nA;Harborview Medical Center;;medical;2026-03-02 09:00;2026-03-02 10:00\n"
    )

    preview = check(world, data.encode())

    assert preview.ok_count == 1


def test_all_or_nothing_when_the_database_refuses_a_row_at_commit(world):
    """A row that passes the check but fails in the database (here: forced) rolls back every other row."""
    original = import_commit.rows_insert

    def failing(model, objects, **kwargs):
        if model is Service:
            objects[-1].ends_at = objects[-1].starts_at  # violates service_ends_after_start
        return original(model, objects, **kwargs)

    with mock.patch.object(import_commit, "rows_insert", side_effect=failing):
        with pytest.raises(Exception):  # noqa: B017 - the database's IntegrityError
            commit(world, GOOD)

    assert Service.objects.count() == 0
    assert ServiceRequest.objects.count() == 0
    assert AppliedExpenseCode.objects.count() == 0
    assert not AuditEvent.objects.filter(action="services_import").exists()


def test_a_concurrent_import_of_the_same_rows_is_reported_not_ignored(world):
    """The unique constraint is the last guard: rows imported between the check and the insert make the whole
    import fail with a message (here the other import is simulated by inserting one row after the check)."""
    original = import_commit.services_import_check

    def check_then_race(**kwargs):
        result = original(**kwargs)
        factories.ServiceFactory(request=factories.ServiceRequestFactory(customer=world["harbor"]), external_ref="S-3")
        return result

    with mock.patch.object(import_commit, "services_import_check", side_effect=check_then_race):
        with pytest.raises(ImportRefused, match="imported meanwhile"):
            commit(world, GOOD)

    assert Service.objects.count() == 1  # only the other import's row


def test_the_stored_upload_is_found_again_only_with_its_token_and_for_its_partner(world):
    upload = import_upload_store(partner=world["partner"], name="services.csv", data=GOOD)

    again = import_upload_load(partner=world["partner"], token=upload.token)
    assert (again.name, again.data) == ("services.csv", GOOD)

    with pytest.raises(ImportRefused, match="not one of yours"):
        import_upload_load(partner=factories.PartnerFactory(), token=upload.token)
    with pytest.raises(ImportRefused, match="not one of yours"):
        import_upload_load(partner=world["partner"], token=upload.token[:-2] + "xx")
    # The stored file cannot change under the token.
    from django.core.files.storage import default_storage

    with default_storage.open(upload.path, "wb") as handle:
        handle.write(b"external_ref\n")
    with pytest.raises(ImportRefused, match="changed"):
        import_upload_load(partner=world["partner"], token=upload.token)


def test_times_are_read_in_the_current_time_zone(world, settings):
    settings.TIME_ZONE = "America/Los_Angeles"
    data = csv_bytes("A,Harborview Medical Center,,medical,2026-07-01 09:00,2026-07-01 10:00")

    commit(world, data)

    service = Service.objects.get()
    assert service.starts_at == datetime.datetime(2026, 7, 1, 16, 0, tzinfo=datetime.UTC)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_file_at_once_import_it_once(world):
    from tests.invoicing.test_concurrency import run_at_once

    rows = [
        f"T-{i},Harborview Medical Center,,medical,2026-03-02 09:00,2026-03-02 10:00,,,,{'R' + str(i // 3)},"
        for i in range(300)
    ]
    data = csv_bytes(*rows)

    def job():
        return services_import_commit(partner=world["partner"], name="services.csv", data=data)

    results, errors = run_at_once([job, job])

    assert Service.objects.filter(partner=world["partner"]).count() == 300
    assert ServiceRequest.objects.filter(partner=world["partner"]).count() == 100
    imported = [r for r in results if r is not None and r.services]
    assert len(imported) == 1 and imported[0].services == 300
    for result, error in zip(results, errors, strict=True):
        if result is imported[0]:
            continue
        # The other one either found every row already imported, or was refused by the unique constraint.
        assert (error is None and result.services == 0 and result.skipped == 300) or (
            isinstance(error, ImportRefused) and "imported meanwhile" in error.message
        ), (result, error)
    assert AuditEvent.objects.filter(action="services_import").count() == 1
