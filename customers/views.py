"""The signed-in user's home, and the billing-contact steps the office and the customer portal share.

The contact helpers take a customer the caller has already scoped (the office through the partner, the portal
through the signed-in user's membership); they bind the form, call customers.contacts, add the message, and leave
the page and the redirect to the caller.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from octoo_billing.forms import apply_errors

from . import contacts
from .access import customer_membership, staff_membership
from .forms import BillingContactCreateForm, BillingContactForm
from .models import BillingContact, Customer


@login_required
def home(request):
    """Send each user to their home: staff to /office/, customer users to /portal/, admins to /admin/."""
    if staff_membership(request.user):
        return redirect("office:dashboard")
    if customer_membership(request.user):
        return redirect("portal:dashboard")
    if request.user.is_superuser:
        return redirect("admin:index")
    return render(request, "registration/no_membership.html", status=403)


# --------------------------------------------------------------------------------------------------
# Billing contacts (office and portal)


def customer_contact(customer: Customer, contact_pk: int) -> BillingContact:
    """One of ``customer``'s billing contacts, or 404 (another customer's contact is simply not found)."""
    return get_object_or_404(BillingContact.objects.filter(customer=customer), pk=contact_pk)


def contact_form_submit(request, customer: Customer, contact: BillingContact | None = None):
    """The add form (``contact`` None) or the edit form, bound on POST. A valid POST is saved through
    customers.contacts with a success message. Returns (form, saved): ``saved`` is the contact when it was
    saved (the caller redirects), None when the form is to be shown (again, with its errors: nothing saved)."""
    data = request.POST if request.method == "POST" else None
    form = BillingContactCreateForm(data) if contact is None else BillingContactForm.for_contact(contact, data)
    if data is None or not form.is_valid():
        return form, None
    try:
        if contact is None:
            saved = contacts.contact_create(customer=customer, user=request.user, **form.cleaned_data)
        else:
            saved = contacts.contact_update(contact=contact, user=request.user, **form.cleaned_data)
    except ValidationError as error:
        apply_errors(form, error)
        return form, None
    if contact is None:
        note = " It is now the default." if saved.is_default else ""
        messages.success(request, f"{saved.name} was added.{note}")
    else:
        messages.success(request, f"{saved.name} was saved.")
    return form, saved


def contact_make_default(request, contact: BillingContact) -> None:
    contacts.contact_set_default(contact=contact, user=request.user)
    messages.success(request, f"{contact.name} is now the default billing contact: new invoices go to them.")


def contact_remove(request, contact: BillingContact) -> None:
    """Remove the contact; the default is refused with the domain's message."""
    try:
        contacts.contact_delete(contact=contact, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{contact.name} was removed.")
