"""Factories that build valid drafts; issued and paid documents are made through the services only."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from customers.models import BillingContact, Customer, CustomerMembership, Partner, Provider, StaffMembership
from expense_codes.models import ExpenseCodeLabel
from invoicing.lifecycle import invoice_issue
from invoicing.manual import LineInput, invoice_create_manual
from invoicing.models import (
    Coupon,
    ExtraOffer,
    Invoice,
    InvoiceProforma,
    Proforma,
    Service,
    ServiceRequest,
    ServiceType,
    Shift,
    Slip,
    Zone,
    ZoneArea,
)
from invoicing.pricing import invoice_totals_refresh, proforma_totals_refresh, slip_price

PASSWORD = "correct-horse-battery-staple"


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n} Billing")
    slug = factory.Sequence(lambda n: f"partner-{n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} LLC")
    email = factory.Sequence(lambda n: f"billing{n}@partner.example")
    # Off in tests: services are dated relative to today, and a public holiday two days ago would price them at a
    # holiday rate the test never set. Tests of public holidays turn it on.
    public_holidays = False


class BillingContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingContact

    customer = factory.SubFactory("tests.factories.CustomerFactory")
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")
    address = factory.Faker("address")
    is_default = False


class CustomerFactory(factory.django.DjangoModelFactory):
    """A customer on net-30 terms with a default billing contact (pass ``default_contact=False`` for none)."""

    class Meta:
        model = Customer
        skip_postgeneration_save = True

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Customer {n} Inc")
    email = factory.Sequence(lambda n: f"ap{n}@customer.example")
    payment_terms = Customer.PaymentTerms.NET
    payment_terms_days = 30

    @factory.post_generation
    def default_contact(obj, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        BillingContactFactory(customer=obj, is_default=True, **kwargs)


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Provider {n}")
    email = factory.Sequence(lambda n: f"provider{n}@provider.example")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(PASSWORD)


class StaffMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = StaffMembership.Role.BILLING_ADMIN


class CustomerMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerMembership

    user = factory.SubFactory(UserFactory)
    customer = factory.SubFactory(CustomerFactory)
    can_manage_expense_codes = False


class ZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Zone

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Zone {n}")
    tax_rate = Decimal("8.250")


class ServiceTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceType

    partner = factory.SubFactory(PartnerFactory)
    code = factory.Sequence(lambda n: f"interpreting-{n}")
    name = factory.Sequence(lambda n: f"Interpreting {n}")


class ZoneAreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoneArea

    zone = factory.SubFactory(ZoneFactory)
    country = "US"


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coupon

    partner = factory.SubFactory(PartnerFactory)
    code = factory.Sequence(lambda n: f"SAVE{n}")
    percent_off = Decimal("10")


class ServiceRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceRequest

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.SelfAttribute("customer.partner")
    title = factory.Sequence(lambda n: f"Request {n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    request = factory.SubFactory(ServiceRequestFactory)
    partner = factory.SelfAttribute("request.partner")
    provider = factory.SubFactory(ProviderFactory, partner=factory.SelfAttribute("..partner"))
    service_type = factory.SubFactory(ServiceTypeFactory, partner=factory.SelfAttribute("..partner"))
    starts_at = factory.LazyFunction(lambda: timezone.now().replace(microsecond=0) - datetime.timedelta(days=2))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + datetime.timedelta(hours=2))
    status = Service.Status.COMPLETED


class ShiftFactory(factory.django.DjangoModelFactory):
    """A reservation shift that started an hour ago and is not finished; put services on it with ``shift=``."""

    class Meta:
        model = Shift

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Shift {n}")
    starts_at = factory.LazyFunction(lambda: timezone.now().replace(microsecond=0) - datetime.timedelta(hours=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + datetime.timedelta(hours=8))


class ExtraOfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExtraOffer

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Transcript {n}")
    bill_rate_units = Decimal("2500")
    pay_rate_units = Decimal("1000")


class ProformaFactory(factory.django.DjangoModelFactory):
    """A confirmed proforma with no slips yet (add them with SlipFactory(proforma=...))."""

    class Meta:
        model = Proforma

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.SelfAttribute("customer.partner")
    provider = factory.SubFactory(ProviderFactory, partner=factory.SelfAttribute("..partner"))
    service = None
    service_date = factory.LazyFunction(timezone.localdate)
    status = Proforma.Status.CONFIRMED


class SlipFactory(factory.django.DjangoModelFactory):
    """A general slip priced by invoicing.pricing.slip_price; its document's totals are refreshed."""

    class Meta:
        model = Slip

    proforma = factory.SubFactory(ProformaFactory)
    invoice = None
    partner = factory.LazyAttribute(lambda o: (o.proforma or o.invoice).partner)
    slip_type = Slip.Type.GENERAL
    description = factory.Sequence(lambda n: f"Line {n}")
    quantity = Decimal("1")
    bill_rate_units = Decimal("10000")
    pay_rate_units = Decimal("6000")
    tax_rate = Decimal("0")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        slip = slip_price(model_class(*args, **kwargs))
        slip.save()
        if slip.proforma_id:
            proforma_totals_refresh(slip.proforma)
        if slip.invoice_id:
            invoice_totals_refresh(slip.invoice)
        return slip


class ExpenseCodeLabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExpenseCodeLabel

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"Purchase order {n}")


class InvoiceFactory(factory.django.DjangoModelFactory):
    """An empty AR draft; ``kind="ap"`` with a provider for an AP draft. Add lines with SlipFactory or links."""

    class Meta:
        model = Invoice

    partner = factory.LazyAttribute(lambda o: (o.customer or o.provider).partner)
    kind = factory.LazyAttribute(lambda o: Invoice.Kind.AR if o.customer else Invoice.Kind.AP)
    status = Invoice.Status.DRAFT
    customer = None
    provider = None
    currency = factory.SelfAttribute("partner.currency")


def lines_for(amounts, *, tax_rate=Decimal(0)) -> list[LineInput]:
    """One line per amount (minor units), quantity one."""
    return [
        LineInput(description=f"Line {i}", quantity=Decimal(1), unit_price_units=Decimal(amount), tax_rate=tax_rate)
        for i, amount in enumerate(amounts, start=1)
    ]


def draft_invoice(customer, amounts=(10000,), *, user=None, **kwargs) -> Invoice:
    """A manual AR draft through invoicing.manual.invoice_create_manual."""
    return invoice_create_manual(
        partner=customer.partner, customer=customer, lines=lines_for(amounts), user=user, **kwargs
    )


def issued_invoice(customer, amounts=(10000,), *, user=None, issue_date=None, deliver=True, **kwargs) -> Invoice:
    """A manual AR invoice, drafted then issued through invoicing.lifecycle.invoice_issue (``deliver=False``:
    without delivery work in the outbox)."""
    draft = draft_invoice(customer, amounts, user=user, **kwargs)
    return invoice_issue(invoice=draft, user=user, issue_date=issue_date, deliver=deliver)


def draft_with_proformas(*, proformas, customer=None, provider=None) -> Invoice:
    """A draft AR (customer) or AP (provider) invoice carrying proformas, its totals refreshed."""
    invoice = InvoiceFactory(customer=customer, provider=provider)
    kind = invoice.kind
    InvoiceProforma.objects.bulk_create(
        [
            InvoiceProforma(invoice=invoice, proforma=pf, kind=kind, position=i)
            for i, pf in enumerate(proformas, start=1)
        ]
    )
    return invoice_totals_refresh(invoice)


def proforma_with_slips(*, customer, amounts=(10000,), provider=None, **kwargs) -> Proforma:
    proforma = ProformaFactory(
        customer=customer, provider=provider or ProviderFactory(partner=customer.partner), **kwargs
    )
    for amount in amounts:
        SlipFactory(proforma=proforma, bill_rate_units=Decimal(amount), pay_rate_units=Decimal(amount * 6 // 10))
    proforma.refresh_from_db()
    return proforma
