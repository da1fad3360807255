"""octoo_billing.bulk.rows_insert: COPY on PostgreSQL writes the rows bulk_create would write and sets their
primary keys; elsewhere it is bulk_create."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from invoicing.models import Service, ServiceRequest
from octoo_billing import bulk
from octoo_billing.bulk import rows_insert
from tests import factories

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@pytest.fixture
def request_(customer):
    return factories.ServiceRequestFactory(customer=customer)


@pytest.fixture
def services(customer):
    """A maker of new services using most kinds of field: FKs set and null, Decimal, datetimes in another zone,
    defaults; the same provider, service type and zone every time."""
    partner = customer.partner
    provider = factories.ProviderFactory(partner=partner)
    stype = factories.ServiceTypeFactory(partner=partner)
    zone = factories.ZoneFactory(partner=partner)

    def make(service_request, *, count=3, ref=""):
        start = datetime.datetime(2026, 3, 29, 1, 30, tzinfo=PARIS)  # the night the clocks go forward
        return [
            Service(
                partner=partner,
                request=service_request,
                service_type=stype,
                provider=provider if i % 2 else None,
                zone_id=zone.pk if i % 2 == 0 else None,
                starts_at=start + datetime.timedelta(hours=i),
                ends_at=start + datetime.timedelta(hours=i, minutes=90, microseconds=123),
                checked_out_at=start + datetime.timedelta(days=1) if i == 1 else None,
                mileage=Decimal("12.35") * i,
                tolls_units=1050 * i,
                address=f"{i} Rue de la Paix\nParis" if i else "",
                notes="a tab\there, a backslash \\ and “quotes”" if i == 2 else "",
                external_ref=f"{ref}{i}" if ref else "",
            )
            for i in range(count)
        ]

    return make


def stored(queryset):
    return [
        {k: v for k, v in row.items() if k not in {"id", "request_id", "external_ref"}}
        for row in queryset.order_by("starts_at").values()
    ]


def test_it_writes_the_rows_bulk_create_writes_and_sets_their_keys(customer, services):
    by_bulk_create = factories.ServiceRequestFactory(customer=customer)
    by_rows_insert = factories.ServiceRequestFactory(customer=customer)
    Service.objects.bulk_create(services(by_bulk_create, count=4))

    inserted = rows_insert(Service, services(by_rows_insert, count=4))

    assert all(s.pk is not None and not s._state.adding for s in inserted)
    assert len({s.pk for s in inserted}) == 4
    assert sorted(Service.objects.filter(request=by_rows_insert).values_list("pk", flat=True)) == sorted(
        s.pk for s in inserted
    )
    assert stored(Service.objects.filter(request=by_rows_insert)) == stored(
        Service.objects.filter(request=by_bulk_create)
    )
    again = Service.objects.get(pk=inserted[1].pk)
    assert again.mileage == Decimal("12.35") and again.provider_id is not None and again.zone_id is None
    assert again.starts_at == datetime.datetime(2026, 3, 29, 3, 30, tzinfo=PARIS)  # 02:30 does not exist there
    assert again.status == Service.Status.SCHEDULED and again.prep_minutes == 0  # the model's defaults


def test_defaults_and_auto_now_add_are_filled(customer):
    before = timezone.now()
    made = rows_insert(
        ServiceRequest, [ServiceRequest(partner=customer.partner, customer=customer, title=f"R{i}") for i in range(3)]
    )

    for request in ServiceRequest.objects.filter(pk__in=[r.pk for r in made]):
        assert request.status == ServiceRequest.Status.SUBMITTED
        assert request.source == ServiceRequest.Source.OFFICE
        assert request.is_recurring is False and request.description == "" and request.created_by_id is None
        assert before <= request.created_at <= timezone.now()
    assert [r.created_at for r in made] == [ServiceRequest.objects.get(pk=r.pk).created_at for r in made]


def test_json_and_nullable_foreign_keys_round_trip(partner):
    data = {"file": "s.csv", "rows": [1, 2.5, None, "ü\\n\t"], "nested": {"ok": True}, "empty": {}}
    target_type = ContentType.objects.get_for_model(partner)
    made = rows_insert(
        AuditEvent,
        [
            AuditEvent(partner=partner, target_type=target_type, target_id=partner.pk, action="test", data=data),
            AuditEvent(partner=partner, target_type=target_type, target_id=partner.pk, action="test"),
        ],
    )

    first, second = (AuditEvent.objects.get(pk=event.pk) for event in made)
    assert first.data == data and second.data == {}
    assert first.actor_id is None and first.at is not None


def test_keys_follow_the_objects_order(customer):
    made = rows_insert(
        ServiceRequest, [ServiceRequest(partner=customer.partner, customer=customer, title=f"R{i}") for i in range(5)]
    )

    assert [r.pk for r in made] == sorted(r.pk for r in made)
    assert dict(ServiceRequest.objects.filter(pk__in=[r.pk for r in made]).values_list("pk", "title")) == {
        r.pk: r.title for r in made
    }


def test_nothing_to_insert_costs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rows_insert(Service, []) == []


def test_a_duplicate_raises_integrity_error_and_rolls_back_the_callers_transaction(request_, services):
    factories.ServiceFactory(request=request_, external_ref="X1")
    new = services(request_, count=3, ref="X")  # X0, X1 (taken), X2

    with pytest.raises(IntegrityError), transaction.atomic():
        factories.ServiceRequestFactory(customer=request_.customer, title="written before, in the same transaction")
        rows_insert(Service, new)

    assert not ServiceRequest.objects.filter(title="written before, in the same transaction").exists()
    assert list(Service.objects.values_list("external_ref", flat=True)) == ["X1"]
    assert rows_insert(Service, services(request_, count=1, ref="Y"))[0].pk  # the connection is usable again


def test_objects_already_saved_are_refused(request_):
    service = factories.ServiceFactory(request=request_)

    with pytest.raises(ValueError, match="new rows only"):
        rows_insert(Service, [service])


def test_an_unsaved_related_object_is_refused(customer, services):
    unsaved = ServiceRequest(partner=customer.partner, customer=customer, title="never saved")
    (service,) = services(factories.ServiceRequestFactory(customer=customer), count=1)
    service.request = unsaved

    with pytest.raises(ValueError, match="unsaved related object"):
        rows_insert(Service, [service])


@pytest.mark.postgres
def test_on_postgresql_the_keys_come_from_the_sequence_and_the_rows_from_one_copy(customer):
    objects = [ServiceRequest(partner=customer.partner, customer=customer, title=f"R{i}") for i in range(50)]

    with CaptureQueriesContext(connection) as queries:
        rows_insert(ServiceRequest, objects)

    keys, copy = (query["sql"] for query in queries.captured_queries)
    assert "nextval" in keys and copy.startswith('COPY "invoicing_servicerequest" ("id", ')
    assert ServiceRequest.objects.filter(pk__in=[r.pk for r in objects]).count() == 50
    later = ServiceRequest.objects.create(partner=customer.partner, customer=customer, title="later")
    assert later.pk > max(r.pk for r in objects)  # the sequence moved past the keys handed out


@pytest.mark.postgres
@pytest.mark.parametrize(
    "model, name, value",
    [
        (Service, "external_ref", "S-1"),
        (Service, "external_ref", 12),  # not a str: through the field, which makes it "12"
        (Service, "status", Service.Status.COMPLETED),
        (Service, "tolls_units", 2**40),
        (Service, "tolls_units", True),
        (Service, "tolls_units", "7"),
        (Service, "provider", 3),
        (Service, "provider", "3"),
        (Service, "provider", None),
        (Service, "starts_at", datetime.datetime(2026, 3, 29, 3, 30, tzinfo=PARIS)),
        (Service, "starts_at", datetime.datetime(2026, 3, 29, 1, 30, tzinfo=datetime.UTC)),
        (Service, "checked_out_at", None),
        (Service, "mileage", Decimal("1.5")),
        (Service, "mileage", 0),
        (ServiceRequest, "is_recurring", True),
        (ServiceRequest, "created_by", 5),
    ],
)
def test_on_postgresql_each_value_is_written_as_bulk_create_prepares_it(model, name, value):
    """The values Django's own fields would leave as they are skip get_db_prep_save(); the rest go through it."""
    field = model._meta.get_field(name)
    obj = model()
    setattr(obj, field.attname, value)

    written = bulk._db_value(bulk._column(field), obj, connection)

    expected = field.get_db_prep_save(field.pre_save(obj, add=True), connection)
    assert written == expected
    assert isinstance(expected, type(written))  # the same type, or psycopg's sized int for an int: the same digits


@pytest.mark.postgres
def test_on_postgresql_a_failed_copy_leaves_the_objects_without_keys(request_, services):
    factories.ServiceFactory(request=request_, external_ref="X0")
    new = services(request_, count=2, ref="X")

    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(Service, new)

    assert [s.pk for s in new] == [None, None] and all(s._state.adding for s in new)


@pytest.mark.postgres
def test_on_postgresql_an_expression_is_refused(request_, services):
    (service,) = services(request_, count=1)
    service.tolls_units = F("prep_minutes") + 1

    with pytest.raises(ValueError, match="cannot write the expression"), transaction.atomic():
        rows_insert(Service, [service])

    assert not Service.objects.exists()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL copies; this is the fallback")
def test_elsewhere_it_is_bulk_create_in_batches(customer):
    objects = [ServiceRequest(partner=customer.partner, customer=customer, title=f"R{i}") for i in range(5)]

    with CaptureQueriesContext(connection) as queries:
        rows_insert(ServiceRequest, objects, batch_size=2)

    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 3  # 2 + 2 + 1 rows
    assert ServiceRequest.objects.filter(pk__in=[r.pk for r in objects]).count() == 5
    assert all(r.pk is not None and not r._state.adding for r in objects)
