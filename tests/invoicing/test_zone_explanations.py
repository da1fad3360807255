"""The zone of each service in words for a list of services (zones.services_zone_explain): the same as
zones.service_zone_explain says for each, in one query however many services there are."""

from decimal import Decimal

import pytest

from invoicing.models import Service
from invoicing.zones import service_zone_explain, services_zone_explain
from tests.factories import CustomerFactory, ServiceFactory, ServiceRequestFactory, ZoneAreaFactory, ZoneFactory

pytestmark = pytest.mark.django_db


def test_the_list_says_what_each_service_page_says(partner, django_assert_num_queries):
    manhattan = ZoneFactory(partner=partner, name="Manhattan", tax_rate=Decimal("8.875"))
    ZoneAreaFactory(zone=manhattan, country="US", region="NY", postal_pattern="100*")
    ZoneAreaFactory(zone=manhattan, country="US", region="NY", postal_pattern="10001")
    ontario = ZoneFactory(partner=partner, name="Ontario")
    gone = ZoneAreaFactory(zone=ontario, country="CA", region="ON")
    usual = ZoneFactory(partner=partner, name="Usual")
    request = ServiceRequestFactory(customer=CustomerFactory(partner=partner, zone=usual))
    source = Service.ZoneSource
    services = [
        ServiceFactory(
            request=request, country="", region="NY", postal_code="10001", zone=manhattan, zone_source=source.ADDRESS
        ),
        ServiceFactory(
            request=request, country="US", region="NY", postal_code="10025", zone=manhattan, zone_source=source.ADDRESS
        ),
        ServiceFactory(request=request, country="CA", region="ON", zone=ontario, zone_source=source.ADDRESS),
        ServiceFactory(request=request, zone=usual, zone_source=source.CUSTOMER),
        ServiceFactory(request=request, zone=ontario, zone_source=source.CHOSEN),
        ServiceFactory(request=request, zone=usual, zone_source=""),  # stored before zones came from addresses
        ServiceFactory(request=request, zone=None, zone_source=""),
    ]
    gone.delete()  # its area removed since: no longer explained by the address
    services = list(Service.objects.filter(pk__in=[s.pk for s in services]).select_related("zone").order_by("pk"))
    with django_assert_num_queries(1):
        explained = services_zone_explain(services, partner=partner)
    expected = [service_zone_explain(service).explanation for service in services]
    assert [explained[service.pk].explanation for service in services] == expected
    assert expected[1] == "Manhattan: the address matches its area US NY 100*."
    assert expected[4] == "Ontario: chosen for this service (not found from the address)."
