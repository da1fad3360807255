"""Office customer pages: detail, create/edit, billing settings, contacts, expense codes and "run AR now"."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import BillingContact, Customer
from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
from invoicing.models import Invoice, InvoiceProforma
from invoicing.schedules import closed_period
from tests.factories import (
    BillingContactFactory,
    CustomerFactory,
    ExpenseCodeLabelFactory,
    StaffMembershipFactory,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"office:{name}", args=args)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def settings_data(customer, **overrides):
    """The billing settings form as the page posts it, from the customer's current values."""
    data = {
        "invoicing_schedule": customer.invoicing_schedule,
        "payment_method": customer.payment_method,
        "payment_terms": customer.payment_terms,
        "payment_terms_days": customer.payment_terms_days,
        "zone": customer.zone_id or "",
        "discount_percent": str(customer.discount_percent),
        "expense_code_mode": customer.expense_code_mode,
    }
    for flag in (
        "require_expense_code",
        "allow_recurring_bookings",
        "auto_invoice_on_booking",
        "auto_send",
        "sends_reminders",
        "auto_charge",
        "is_active",
    ):
        if getattr(customer, flag):
            data[flag] = "on"
    for key, value in overrides.items():
        if value is False:
            data.pop(key, None)
        elif value is True:
            data[key] = "on"
        else:
            data[key] = value
    return data


def last_month_day():
    start, _ = closed_period("monthly", timezone.localdate())
    return start + datetime.timedelta(days=3)


# --- access and scoping -----------------------------------------------------------------------------------


@pytest.fixture
def foreign():
    """Another partner's customer, contact, label and default code."""
    customer = CustomerFactory()
    label = ExpenseCodeLabelFactory(customer=customer)
    code = AppliedExpenseCode.objects.create(default_for=customer, label=label, label_name=label.name, value="X")
    return {"customer": customer, "contact": customer.contacts.get(), "label": label, "code": code}


def customer_urls(customer, contact):
    return [
        ("get", url("customer_detail", customer.pk)),
        ("get", url("customer_edit", customer.pk)),
        ("post", url("customer_edit", customer.pk)),
        ("get", url("customer_billing_settings", customer.pk)),
        ("post", url("customer_billing_settings", customer.pk)),
        ("get", url("customer_contact_create", customer.pk)),
        ("post", url("customer_contact_create", customer.pk)),
        ("get", url("customer_contact_edit", customer.pk, contact.pk)),
        ("post", url("customer_contact_edit", customer.pk, contact.pk)),
        ("post", url("customer_contact_set_default", customer.pk, contact.pk)),
        ("post", url("customer_contact_delete", customer.pk, contact.pk)),
        ("get", url("customer_expense_codes", customer.pk)),
        ("post", url("customer_expense_codes", customer.pk)),
        ("post", url("customer_run_ar", customer.pk)),
    ]


def test_another_partners_customer_is_a_404_on_every_url(client, staff_user, foreign):
    client.force_login(staff_user)
    for method, address in customer_urls(foreign["customer"], foreign["contact"]):
        response = getattr(client, method)(address, {"action": "label_create", "new-name": "X", "period": "latest"})
        assert response.status_code == 404, (method, address, response.status_code)
    assert BillingContact.objects.filter(pk=foreign["contact"].pk).exists()
    assert not Invoice.objects.exists()


def test_a_contact_of_another_customer_is_a_404_under_this_customer(client, staff_user, customer, foreign):
    client.force_login(staff_user)
    other_same_partner = CustomerFactory(partner=customer.partner).contacts.get()
    for contact in (foreign["contact"], other_same_partner):
        for name in ("customer_contact_set_default", "customer_contact_delete"):
            assert client.post(url(name, customer.pk, contact.pk)).status_code == 404
        assert client.get(url("customer_contact_edit", customer.pk, contact.pk)).status_code == 404
    assert BillingContact.objects.filter(pk=other_same_partner.pk, is_default=True).exists()


def test_another_partners_label_and_code_are_404s(client, staff_user, customer, foreign):
    client.force_login(staff_user)
    address = url("customer_expense_codes", customer.pk)
    for data in (
        {"action": "label_deactivate", "label_id": foreign["label"].pk},
        {"action": "label_rename", "label_id": foreign["label"].pk, f"l{foreign['label'].pk}-name": "Y"},
        {"action": "code_remove", "code_id": foreign["code"].pk},
    ):
        assert client.post(address, data).status_code == 404
    assert fresh(foreign["label"]).is_active and fresh(foreign["label"]).name != "Y"
    assert AppliedExpenseCode.objects.filter(pk=foreign["code"].pk).exists()


def test_signed_out_users_are_sent_to_sign_in(client, customer):
    response = client.get(url("customer_detail", customer.pk))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_customer_users_get_403(client, customer, customer_user):
    client.force_login(customer_user)
    assert client.get(url("customer_detail", customer.pk)).status_code == 403


def test_state_changes_refuse_get(client, staff_user, customer):
    client.force_login(staff_user)
    contact = customer.contacts.get()
    assert client.get(url("customer_contact_set_default", customer.pk, contact.pk)).status_code == 405
    assert client.get(url("customer_contact_delete", customer.pk, contact.pk)).status_code == 405
    assert client.get(url("customer_run_ar", customer.pk)).status_code == 405


# --- detail -----------------------------------------------------------------------------------------------


def test_detail_shows_contacts_settings_codes_and_balance(client, clerk_user, customer):
    label = ExpenseCodeLabelFactory(customer=customer, name="Cost center")
    AppliedExpenseCode.objects.create(default_for=customer, label=label, label_name=label.name, value="CC-7")
    invoice = issued_invoice(customer, [12345])
    client.force_login(clerk_user)
    response = client.get(url("customer_detail", customer.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert customer.contacts.get().email in page
    assert "Cost center" in page and "CC-7" in page
    assert invoice.number in page
    assert "$123.45" in page
    assert response.context["aging"].total == 12345
    # a clerk sees the settings read-only, with no way to the admin-only form
    assert url("customer_billing_settings", customer.pk) not in page
    assert "Billing admins change these" in page


def test_detail_shows_the_billing_settings_link_to_admins(client, staff_user, customer):
    client.force_login(staff_user)
    page = client.get(url("customer_detail", customer.pk)).content.decode()
    assert url("customer_billing_settings", customer.pk) in page


def test_detail_costs_a_fixed_number_of_queries(client, staff_user, customer):
    client.force_login(staff_user)
    proforma_with_slips(customer=customer, service_date=last_month_day())
    issued_invoice(customer)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("customer_detail", customer.pk)).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for _ in range(4):
        issued_invoice(customer, [1000, 2000])
        proforma_with_slips(customer=customer, service_date=last_month_day())
        BillingContactFactory(customer=customer)
        ExpenseCodeLabelFactory(customer=customer)
    assert count() == few
    assert few <= 15


def test_uninvoiced_proformas_are_listed_with_invoice_now(client, staff_user, customer):
    proforma = proforma_with_slips(customer=customer, amounts=[5000], service_date=last_month_day())
    client.force_login(staff_user)
    response = client.get(url("customer_detail", customer.pk))
    assert [p.pk for p in response.context["uninvoiced"]] == [proforma.pk]
    assert "Invoice now" in response.content.decode()


def test_invoice_now_is_not_offered_for_work_of_a_period_still_open(client, staff_user, customer):
    proforma_with_slips(customer=customer, service_date=timezone.localdate().replace(day=1))
    client.force_login(staff_user)
    response = client.get(url("customer_detail", customer.pk))
    assert response.context["uninvoiced_sums"]["in_next_run"] == 0
    assert "Invoice now</button>" not in response.content.decode()


# --- create and edit --------------------------------------------------------------------------------------


def test_create_makes_the_customer_with_its_default_contact(client, clerk_user, partner):
    client.force_login(clerk_user)
    response = client.post(
        url("customer_create"),
        {"name": "Acme Health", "email": "ap@acme.example", "contact_name": "Ann", "contact_email": "ann@acme.example"},
    )
    customer = Customer.objects.get(partner=partner, name="Acme Health")
    assert response.status_code == 302 and response["Location"] == url("customer_detail", customer.pk)
    assert list(customer.contacts.values_list("email", "is_default")) == [("ann@acme.example", True)]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "Acme", "contact_name": "Ann", "contact_email": ""}, "contact_email"),
        ({"name": "Acme", "contact_name": "Ann", "contact_email": "not-an-email"}, "contact_email"),
        ({"name": "Acme", "contact_name": "", "contact_email": "ann@x.example"}, "contact_name"),
        ({"name": "", "contact_name": "Ann", "contact_email": "ann@x.example"}, "name"),
        ({"name": "Acme", "email": "bad@", "contact_name": "Ann", "contact_email": "ann@x.example"}, "email"),
    ],
)
def test_create_with_bad_input_shows_the_error_and_saves_nothing(client, staff_user, data, field):
    client.force_login(staff_user)
    response = client.post(url("customer_create"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Customer.objects.filter(name="Acme").exists()


def test_create_with_a_taken_name_shows_the_error(client, staff_user, customer):
    client.force_login(staff_user)
    response = client.post(
        url("customer_create"), {"name": customer.name, "contact_name": "A", "contact_email": "a@x.example"}
    )
    assert "There is already a customer called" in response.context["form"].errors["name"][0]
    assert Customer.objects.filter(partner=customer.partner).count() == 1


def test_edit_saves_details(client, clerk_user, customer):
    client.force_login(clerk_user)
    response = client.post(url("customer_edit", customer.pk), {"name": "New name", "email": "", "phone": "123"})
    assert response.status_code == 302
    assert (fresh(customer).name, fresh(customer).phone) == ("New name", "123")


def test_edit_with_a_blank_name_changes_nothing(client, staff_user, customer):
    client.force_login(staff_user)
    response = client.post(url("customer_edit", customer.pk), {"name": "", "email": "x@"})
    assert set(response.context["form"].errors) == {"name", "email"}
    assert fresh(customer).name == customer.name


# --- billing settings -------------------------------------------------------------------------------------


def test_admin_changes_billing_settings(client, staff_user, customer):
    client.force_login(staff_user)
    assert client.get(url("customer_billing_settings", customer.pk)).status_code == 200
    data = settings_data(customer, invoicing_schedule="weekly", payment_method="card", auto_charge=True)
    response = client.post(url("customer_billing_settings", customer.pk), data)
    assert response.status_code == 302
    customer = fresh(customer)
    assert (customer.invoicing_schedule, customer.payment_method, customer.auto_charge) == ("weekly", "card", True)


def test_clerk_gets_403_and_nothing_changes(client, clerk_user, customer):
    client.force_login(clerk_user)
    assert client.get(url("customer_billing_settings", customer.pk)).status_code == 403
    response = client.post(
        url("customer_billing_settings", customer.pk), settings_data(customer, invoicing_schedule="daily")
    )
    assert response.status_code == 403
    assert fresh(customer).invoicing_schedule == "monthly"


def test_turning_auto_invoice_off_on_net_terms_is_an_error_on_that_field(client, staff_user, customer):
    client.force_login(staff_user)
    response = client.post(
        url("customer_billing_settings", customer.pk), settings_data(customer, auto_invoice_on_booking=False)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["auto_invoice_on_booking"]
    assert "No payment" in errors["auto_invoice_on_booking"][0]
    assert fresh(customer).auto_invoice_on_booking is True


def test_auto_invoice_off_is_accepted_on_no_payment_terms(client, staff_user, customer):
    client.force_login(staff_user)
    data = settings_data(customer, payment_terms="no_payment", payment_terms_days="", auto_invoice_on_booking=False)
    assert client.post(url("customer_billing_settings", customer.pk), data).status_code == 302
    assert fresh(customer).auto_invoice_on_booking is False


def test_the_hidden_auto_invoice_flag_is_kept_while_recurring_is_on(client, staff_user, customer):
    client.force_login(staff_user)
    data = settings_data(customer, allow_recurring_bookings=True, auto_invoice_on_booking=False)
    assert client.post(url("customer_billing_settings", customer.pk), data).status_code == 302
    customer = fresh(customer)
    assert customer.allow_recurring_bookings and customer.auto_invoice_on_booking


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"payment_terms_days": "-3"}, "payment_terms_days"),
        ({"payment_terms_days": "abc"}, "payment_terms_days"),
        ({"payment_terms_days": ""}, "payment_terms_days"),
        ({"discount_percent": "150"}, "discount_percent"),
        ({"discount_percent": "1e3"}, "discount_percent"),
        ({"auto_charge": True}, "auto_charge"),  # pays by check
        ({"invoicing_schedule": "hourly"}, "invoicing_schedule"),
    ],
)
def test_bad_billing_settings_show_the_error_and_save_nothing(client, staff_user, customer, overrides, field):
    client.force_login(staff_user)
    before = Customer.objects.filter(pk=customer.pk).values().get()
    response = client.post(url("customer_billing_settings", customer.pk), settings_data(customer, **overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Customer.objects.filter(pk=customer.pk).values().get() == before


def test_billing_settings_page_loads_its_script(client, staff_user, customer):
    client.force_login(staff_user)
    page = client.get(url("customer_billing_settings", customer.pk)).content.decode()
    assert "js/billing_settings.js" in page and "data-recurring-toggle" in page


# --- contacts ---------------------------------------------------------------------------------------------


def test_clerk_adds_a_contact(client, clerk_user, customer):
    client.force_login(clerk_user)
    response = client.post(url("customer_contact_create", customer.pk), {"name": "Bo", "email": "bo@x.example"})
    assert response.status_code == 302
    assert customer.contacts.filter(email="bo@x.example", is_default=False).exists()


def test_adding_a_contact_with_an_invalid_email_saves_nothing(client, staff_user, customer):
    client.force_login(staff_user)
    response = client.post(url("customer_contact_create", customer.pk), {"name": "Bo", "email": "bo@"})
    assert "email" in response.context["form"].errors
    assert customer.contacts.count() == 1


def test_switching_the_default_contact_keeps_exactly_one(client, staff_user, customer):
    other = BillingContactFactory(customer=customer)
    client.force_login(staff_user)
    response = client.post(url("customer_contact_set_default", customer.pk, other.pk))
    assert response.status_code == 302
    assert list(customer.contacts.filter(is_default=True).values_list("pk", flat=True)) == [other.pk]


def test_removing_the_default_contact_is_refused(client, staff_user, customer):
    default = customer.contacts.get()
    client.force_login(staff_user)
    response = client.post(url("customer_contact_delete", customer.pk, default.pk), follow=True)
    assert BillingContact.objects.filter(pk=default.pk, is_default=True).exists()
    assert "Make another contact the default" in response.content.decode()


def test_removing_another_contact(client, staff_user, customer):
    other = BillingContactFactory(customer=customer)
    client.force_login(staff_user)
    client.post(url("customer_contact_delete", customer.pk, other.pk))
    assert not BillingContact.objects.filter(pk=other.pk).exists()


def test_editing_a_contact_with_a_blank_email_changes_nothing(client, staff_user, customer):
    contact = customer.contacts.get()
    client.force_login(staff_user)
    response = client.post(url("customer_contact_edit", customer.pk, contact.pk), {"name": "Z", "email": ""})
    assert "email" in response.context["form"].errors
    assert fresh(contact).email == contact.email


# --- expense codes ----------------------------------------------------------------------------------------


def codes_url(customer):
    return url("customer_expense_codes", customer.pk)


def test_staff_manage_labels_and_default_codes(client, clerk_user, customer):
    client.force_login(clerk_user)
    assert client.get(codes_url(customer)).status_code == 200
    assert client.post(codes_url(customer), {"action": "label_create", "new-name": "PO"}).status_code == 302
    label = ExpenseCodeLabel.objects.get(customer=customer, name="PO")
    response = client.post(codes_url(customer), {"action": "code_add", "code-label": label.pk, "code-value": "A1"})
    assert response.status_code == 302
    code = AppliedExpenseCode.objects.get(default_for=customer)
    assert (code.label_name, code.value) == ("PO", "A1")
    client.post(codes_url(customer), {"action": "label_rename", "label_id": label.pk, f"l{label.pk}-name": "Order"})
    assert fresh(label).name == "Order" and fresh(code).label_name == "Order"
    client.post(codes_url(customer), {"action": "code_remove", "code_id": code.pk})
    assert not AppliedExpenseCode.objects.filter(default_for=customer).exists()
    client.post(codes_url(customer), {"action": "label_deactivate", "label_id": label.pk})
    assert not fresh(label).is_active


def test_a_duplicate_label_shows_the_error_and_saves_nothing(client, staff_user, customer):
    ExpenseCodeLabelFactory(customer=customer, name="PO")
    client.force_login(staff_user)
    response = client.post(codes_url(customer), {"action": "label_create", "new-name": "po"})
    assert response.status_code == 200
    assert "already has a label" in response.context["new_label"].errors["name"][0]
    assert ExpenseCodeLabel.objects.filter(customer=customer).count() == 1


def test_a_rename_clash_shows_the_error_on_that_labels_row(client, staff_user, customer):
    ExpenseCodeLabelFactory(customer=customer, name="PO")
    other = ExpenseCodeLabelFactory(customer=customer, name="Cost center")
    client.force_login(staff_user)
    response = client.post(
        codes_url(customer), {"action": "label_rename", "label_id": other.pk, f"l{other.pk}-name": "PO"}
    )
    row = next(label for label in response.context["labels"] if label.pk == other.pk)
    assert row.rename_form.errors["name"]
    assert fresh(other).name == "Cost center"


def test_a_code_without_a_value_shows_the_error(client, staff_user, customer):
    label = ExpenseCodeLabelFactory(customer=customer)
    client.force_login(staff_user)
    response = client.post(codes_url(customer), {"action": "code_add", "code-label": label.pk, "code-value": " "})
    assert "value" in response.context["new_code"].errors
    assert not AppliedExpenseCode.objects.exists()


def test_a_label_of_another_customer_cannot_be_applied(client, staff_user, customer):
    foreign_label = ExpenseCodeLabelFactory(customer=CustomerFactory(partner=customer.partner))
    client.force_login(staff_user)
    response = client.post(
        codes_url(customer), {"action": "code_add", "code-label": foreign_label.pk, "code-value": "X"}
    )
    assert "label" in response.context["new_code"].errors
    assert not AppliedExpenseCode.objects.exists()


# --- run AR now -------------------------------------------------------------------------------------------


def test_run_ar_now_invoices_the_customer_and_a_second_click_makes_nothing(client, clerk_user, customer):
    first = proforma_with_slips(customer=customer, amounts=[10000], service_date=last_month_day())
    second = proforma_with_slips(customer=customer, amounts=[2500], service_date=last_month_day())
    other_customer = CustomerFactory(partner=customer.partner)
    proforma_with_slips(customer=other_customer, service_date=last_month_day())
    client.force_login(clerk_user)
    response = client.post(url("customer_run_ar", customer.pk), {"period": "latest"}, follow=True)
    invoice = Invoice.objects.get(customer=customer)
    assert invoice.status == Invoice.Status.DRAFT and invoice.total_units == 12500
    assert set(InvoiceProforma.objects.filter(invoice=invoice).values_list("proforma_id", flat=True)) == {
        first.pk,
        second.pk,
    }
    assert "1 invoice made or updated" in response.content.decode()
    assert not Invoice.objects.filter(customer=other_customer).exists()

    response = client.post(url("customer_run_ar", customer.pk), {"period": "latest"}, follow=True)
    assert Invoice.objects.filter(customer=customer).count() == 1
    assert "Nothing new to invoice" in response.content.decode()


def test_run_ar_for_a_chosen_month_leaves_other_months_alone(client, staff_user, customer):
    today = timezone.localdate()
    this_month = proforma_with_slips(customer=customer, service_date=today.replace(day=1))
    proforma_with_slips(customer=customer, service_date=last_month_day())
    client.force_login(staff_user)
    client.post(url("customer_run_ar", customer.pk), {"period": "month", "month": today.strftime("%Y-%m")})
    invoice = Invoice.objects.get(customer=customer)
    assert list(invoice.proforma_links.values_list("proforma_id", flat=True)) == [this_month.pk]


def test_a_clerks_run_drafts_even_when_the_partner_issues_generated_invoices(client, clerk_user, customer):
    customer.partner.issue_generated_invoices = True
    customer.partner.save()
    proforma_with_slips(customer=customer, service_date=last_month_day())
    client.force_login(clerk_user)
    client.post(url("customer_run_ar", customer.pk), {"period": "latest"})
    assert Invoice.objects.get(customer=customer).status == Invoice.Status.DRAFT


def test_an_admins_run_follows_the_partners_issue_setting(client, staff_user, customer):
    customer.partner.issue_generated_invoices = True
    customer.partner.save()
    proforma_with_slips(customer=customer, service_date=last_month_day())
    client.force_login(staff_user)
    client.post(url("customer_run_ar", customer.pk), {"period": "latest"})
    assert Invoice.objects.get(customer=customer).status == Invoice.Status.PENDING


@pytest.mark.parametrize("month", ["", "2026-13", "next", "2999-01"])
def test_run_ar_with_a_bad_month_shows_the_error_and_makes_nothing(client, staff_user, customer, month):
    proforma_with_slips(customer=customer, service_date=last_month_day())
    client.force_login(staff_user)
    response = client.post(url("customer_run_ar", customer.pk), {"period": "month", "month": month})
    assert response.status_code == 200
    assert "month" in response.context["run_form"].errors
    assert not Invoice.objects.exists()


def test_another_partners_staff_cannot_run_ar_for_the_customer(client, customer):
    proforma_with_slips(customer=customer, service_date=last_month_day())
    client.force_login(StaffMembershipFactory().user)
    assert client.post(url("customer_run_ar", customer.pk), {"period": "latest"}).status_code == 404
    assert not Invoice.objects.exists()
