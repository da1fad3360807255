"""A demo partner's parties: the providers who do the work, and the customers it bills, with their billing
contacts, expense-code labels, auto-applied codes and (for those who pay by card) the test card on file."""

from __future__ import annotations

from decimal import Decimal

from customers.models import BillingContact, Customer, Provider
from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
from invoicing.charging import customer_card_save
from invoicing.gateways import payment_gateway

from .context import DemoSeed, PartnerData
from .specs import CustomerSpec

DEMO_CARD_NUMBER = "4242424242424242"  # the simulated gateway's test card that is always charged


def providers_create(seed: DemoSeed, data: PartnerData) -> None:
    data.providers = {
        name: Provider.objects.create(
            partner=data.partner,
            name=name,
            email=f"{name.lower().replace(' ', '.').replace('.llc', '')}@providers.example",
            phone=seed.phone(data.spec.area),
            address=address,
            payment_terms_days=terms,
        )
        for name, terms, address in data.spec.providers
    }


def customers_create(seed: DemoSeed, data: PartnerData) -> None:
    """The customers, each with its contacts, expense-code labels and auto-applied codes."""
    contacts, codes = [], []
    for c in data.spec.customers:
        customer = _customer_create(seed, data, c)
        data.customers[c.name] = customer
        contacts += _contacts(seed, data, c, customer)
        data.labels[customer.pk] = _labels_create(c, customer)
        codes += [
            AppliedExpenseCode(
                label=data.labels[customer.pk][label_name], label_name=label_name, value=value, default_for=customer
            )
            for label_name, value in c.defaults
        ]
    BillingContact.objects.bulk_create(contacts)
    AppliedExpenseCode.objects.bulk_create(codes)
    cards_on_file(seed, data.customers.values())


def _customer_create(seed: DemoSeed, data: PartnerData, c: CustomerSpec) -> Customer:
    return Customer.objects.create(
        partner=data.partner,
        name=c.name,
        email=f"ap@{c.domain}",
        phone=seed.phone(data.spec.area),
        address=c.address,
        zone=data.zones[c.zone],
        payment_method=c.method,
        payment_terms="no_payment" if c.terms is None else "net",
        payment_terms_days=0 if c.terms is None else c.terms,
        invoicing_schedule=c.schedule,
        expense_code_mode=c.mode,
        require_expense_code=c.require,
        allow_recurring_bookings=c.recurring,
        auto_invoice_on_booking=c.auto_invoice,
        auto_charge=c.method == "card" and c.schedule == "after_service",
        discount_percent=Decimal(c.discount),
    )


def _contacts(seed: DemoSeed, data: PartnerData, c: CustomerSpec, customer: Customer) -> list[BillingContact]:
    """The first contact is the default (with the customer's address); the first two receive invoices."""
    contacts = []
    for i in range(c.contacts):
        first, last = seed.person()
        contacts.append(
            BillingContact(
                customer=customer,
                name=f"{first} {last}",
                email=f"{first}.{last}@{c.domain}".lower().replace("'", ""),
                phone=seed.phone(data.spec.area),
                address=c.address if i == 0 else "",
                is_default=i == 0,
                receives_invoices=i < 2,
            )
        )
    return contacts


def _labels_create(c: CustomerSpec, customer: Customer) -> dict[str, ExpenseCodeLabel]:
    """A customer that requires codes requires its first label (seed 000)."""
    return {
        name: ExpenseCodeLabel.objects.create(customer=customer, name=name, is_required=c.require and i == 0)
        for i, name in enumerate(c.labels)
    }


def cards_on_file(seed: DemoSeed, customers) -> None:
    """Customers who pay by card get the gateway's test card that succeeds, so issuing one of their invoices
    in the demo charges it (nothing to keep on file with the manual gateway)."""
    if not payment_gateway().charges_cards:
        return
    for customer in customers:
        if customer.payment_method == customer.PaymentMethod.CARD:
            customer_card_save(customer=customer, number=DEMO_CARD_NUMBER, exp_month=12, exp_year=seed.today.year + 3)
