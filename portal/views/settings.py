"""Portal settings: the customer's billing terms (read-only: the partner sets them), expense codes and billing
contacts (seed 000).

Everything is looked up through ``request.customer``: another customer's label, code or contact is a 404, and
no customer id is ever read from the request. The expense-codes page and its actions are
expense_codes.views' and the contact steps customers.views', both shared with the office.
"""

from django.contrib.auth import get_user_model
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from customers.access import customer_user_required
from customers.models import BillingContact
from customers.views import contact_form_submit, contact_make_default, contact_remove, customer_contact
from expense_codes.views import expense_codes_page


@customer_user_required
@require_GET
def settings_index(request):
    customer = request.customer
    context = {
        "customer": customer,
        "partner": customer.partner,
        "terms": [
            ("Payment method", customer.get_payment_method_display()),
            ("Payment terms", customer.terms_label),
            ("Invoicing schedule", customer.get_invoicing_schedule_display()),
        ],
        "default_contact": BillingContact.objects.filter(customer=customer, is_default=True).first(),
        "can_manage_codes": request.membership.can_manage_expense_codes,
    }
    return render(request, "portal/settings/index.html", context)


def _code_managers(customer) -> list[str]:
    """The names of the customer's users who may change its expense codes, for the read-only page."""
    users = (
        get_user_model()
        .objects.filter(customer_membership__customer=customer, customer_membership__can_manage_expense_codes=True)
        .filter(is_active=True)
        .order_by("first_name", "last_name", "username")
    )
    return [user.get_full_name() or user.get_username() for user in users]


@customer_user_required
def expense_codes(request):
    """Labels, required labels and auto-applied codes. Users allowed to manage expense codes change them; the
    others see the same page read-only, and a POST from them is a 403 that changes nothing."""
    customer = request.customer
    return expense_codes_page(
        request,
        customer,
        template="portal/settings/expense_codes.html",
        done_url=reverse("portal:settings_expense_codes"),
        extra_context={"partner": customer.partner, "managers": _code_managers(customer)},
    )


@customer_user_required
@require_GET
def contact_list(request):
    contacts = BillingContact.objects.filter(customer=request.customer).order_by("-is_default", "name", "pk")
    return render(request, "portal/settings/contacts.html", {"contacts": contacts})


def _contact_form_page(request, form, *, title: str, submit: str, intro: str = ""):
    context = {"form": form, "title": title, "submit": submit, "intro": intro}
    return render(request, "portal/settings/contact_form.html", context)


@customer_user_required
def contact_create(request):
    form, saved = contact_form_submit(request, request.customer)
    if saved is not None:
        return redirect("portal:contact_list")
    return _contact_form_page(request, form, title="Add a billing contact", submit="Add contact")


@customer_user_required
def contact_edit(request, contact_pk):
    contact = customer_contact(request.customer, contact_pk)
    form, saved = contact_form_submit(request, request.customer, contact)
    if saved is not None:
        return redirect("portal:contact_list")
    return _contact_form_page(
        request,
        form,
        title=f"Edit {contact.name}",
        submit="Save",
        intro="Invoices already issued keep the contact details they were issued with.",
    )


@customer_user_required
@require_POST
def contact_set_default(request, contact_pk):
    contact_make_default(request, customer_contact(request.customer, contact_pk))
    return redirect("portal:contact_list")


@customer_user_required
@require_POST
def contact_delete(request, contact_pk):
    contact_remove(request, customer_contact(request.customer, contact_pk))
    return redirect("portal:contact_list")
