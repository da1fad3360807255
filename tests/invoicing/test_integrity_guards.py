"""The database refuses (issue 9): what an issued invoice, its lines, its proforma links and the audit trail
cannot become, whatever the code path. Runs on SQLite and on PostgreSQL (DATABASE_URL): each refusal below is
the database's own (a trigger), so it is tested through the plainest ORM calls that bypass every service.

On PostgreSQL the message names the invoice ("issued invoice INV-2026-00001 cannot be changed: column
total_units"); SQLite's RAISE takes a fixed string, so there it reads "issued invoice cannot be changed: ...".
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, ProtectedError
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.recording import audit_record
from invoicing.lifecycle import (
    invoice_attach_child,
    invoice_delete_draft,
    invoice_detach_child,
    invoice_issue,
    invoice_void,
    invoices_mark_overdue,
)
from invoicing.models import Invoice, InvoiceProforma, Slip
from invoicing.models.invoice import ISSUED_WRITABLE_FIELDS
from invoicing.payments import payment_record
from invoicing.pricing import slip_price
from tests.factories import (
    BillingContactFactory,
    CouponFactory,
    CustomerFactory,
    PartnerFactory,
    ProviderFactory,
    StaffMembershipFactory,
    UserFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db

ISSUE_DATE = datetime.date(2026, 3, 2)


def refused(operation, message: str):
    """Assert the database refuses ``operation`` with ``message`` (a regex; "issued invoice" may be followed by
    the invoice's number). Inside a savepoint, so the test goes on after the refusal."""
    pattern = message.replace("issued invoice ", r"issued invoice (\S+ )?")
    with pytest.raises(DatabaseError, match=pattern) as caught, transaction.atomic():
        operation()
    return caught.value


def still_frozen(invoice: Invoice):
    """What the allowed changes below leave alone stays refused (the guards are there, not merely absent)."""
    refused(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(
            subtotal_units=F("subtotal_units") + 1, total_units=F("total_units") + 1
        ),
        "issued invoice cannot be changed: column (subtotal|total)_units",
    )


def raw(sql: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def staff(partner):
    return StaffMembershipFactory(partner=partner).user


@pytest.fixture
def invoice(customer, staff):
    """An issued AR invoice of two direct lines, without delivery work (so nothing in Python protects it)."""
    return issued_invoice(customer, [12000, 3000], user=staff, issue_date=ISSUE_DATE, deliver=False)


@pytest.fixture
def proforma_invoice(customer):
    """An issued AR invoice carrying one proforma (its lines are the proforma's slips)."""
    proforma = proforma_with_slips(customer=customer, amounts=[8000, 2000])
    invoice = invoice_issue(invoice=draft_with_proformas(proformas=[proforma], customer=customer), deliver=False)
    return invoice, proforma


# --- an issued invoice: only what payments, void, delivery and children change ----------------------------------

# Every column but the writable ones, by a queryset update and by save() (except the id: a new primary key
# makes save() insert a copy). A column added to Invoice is frozen until it is declared writable.
FROZEN = [f for f in Invoice._meta.concrete_fields if f.name not in ISSUED_WRITABLE_FIELDS]
FROZEN_CASES = [(f, how) for f in FROZEN for how in ("update", "save") if not (f.primary_key and how == "save")]


def another_value(field, invoice: Invoice):
    """A value of ``field`` other than the invoice's (check constraints may dislike it: the trigger speaks first)."""
    current = getattr(invoice, field.attname)
    if field.primary_key:
        return current + 100000
    if field.is_relation:
        model = field.related_model
        if model is Invoice.partner.field.related_model:
            return PartnerFactory().pk
        if model is Invoice.customer.field.related_model:
            return CustomerFactory(partner=invoice.partner).pk
        if model is Invoice.provider.field.related_model:
            return ProviderFactory(partner=invoice.partner).pk
        if model is Invoice.billing_contact.field.related_model:
            return BillingContactFactory(customer=invoice.customer).pk
        if model is Invoice.coupon.field.related_model:
            return CouponFactory(partner=invoice.partner).pk
        return UserFactory().pk
    if isinstance(field, models.BooleanField):
        return not current
    if isinstance(field, models.IntegerField):
        return (current or 0) + 1
    if isinstance(field, models.DateTimeField):
        return datetime.datetime(2020, 1, 1, 12, tzinfo=datetime.UTC)
    if isinstance(field, models.DateField):
        return datetime.date(2020, 1, 1)
    if field.choices:
        return next(value for value, _ in field.choices if value != current)
    if isinstance(field, models.EmailField):
        return "someone.else@example.com"
    return f"x{current or ''}"[: field.max_length]


@pytest.mark.parametrize(("field", "how"), FROZEN_CASES, ids=[f"{f.name}-{how}" for f, how in FROZEN_CASES])
def test_an_issued_invoice_refuses_a_change_of_any_frozen_column(invoice, field, how):
    value = another_value(field, invoice)
    if how == "update":
        change = lambda: Invoice.objects.filter(pk=invoice.pk).update(**{field.attname: value})  # noqa: E731
    else:
        setattr(invoice, field.attname, value)
        change = invoice.save
    error = refused(change, f"issued invoice cannot be changed: column {field.column}")
    if connection.vendor == "postgresql":
        assert Invoice.objects.get(pk=invoice.pk).number in str(error)


def test_the_plain_orm_paths_are_refused(invoice, customer):
    other = CustomerFactory(partner=invoice.partner)
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(total_units=1), "column total_units")
    for field, value in [("customer", other), ("number", "INV-2026-99999"), ("subtotal_units", 1)]:
        fresh = Invoice.objects.get(pk=invoice.pk)
        setattr(fresh, field, value)
        refused(fresh.save, "issued invoice cannot be changed: column ")
    # Totals that still add up are refused all the same.
    refused(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(
            subtotal_units=F("subtotal_units") + 100, total_units=F("total_units") + 100
        ),
        "issued invoice cannot be changed: column (subtotal|total)_units",
    )
    invoice.refresh_from_db()
    assert (invoice.customer_id, invoice.total_units) == (customer.pk, 15000)


def test_an_issued_invoice_never_goes_back_to_draft(invoice):
    refused(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(status="draft", number=None, sequence=None),
        "issued invoice cannot go back to draft",
    )


def test_a_void_invoice_is_never_reopened(invoice):
    invoice_void(invoice=invoice, reason="Typed twice")
    for status in ("pending", "paid", "overdue"):
        refused(lambda s=status: Invoice.objects.filter(pk=invoice.pk).update(status=s), "cannot be reopened")


def test_an_issued_invoice_is_never_deleted(invoice):
    refused(lambda: raw("DELETE FROM invoicing_invoice WHERE id = %s", invoice.pk), "issued invoice cannot be deleted")
    # Through the ORM its lines (or the invoice itself, in Django's order of cascades) are refused.
    refused(invoice.delete, "(lines of (an )?issued invoice|issued invoice cannot be deleted)")
    refused(
        lambda: Invoice.objects.filter(pk=invoice.pk).delete(),
        "(lines of (an )?issued invoice|issued invoice cannot be deleted)",
    )
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_a_void_invoice_is_never_deleted_either(invoice):
    invoice_void(invoice=invoice, reason="Typed twice")
    refused(lambda: raw("DELETE FROM invoicing_invoice WHERE id = %s", invoice.pk), "issued invoice cannot be deleted")


# --- its lines -----------------------------------------------------------------------------------------------


def new_slip(**owner) -> Slip:
    document = owner.get("invoice") or owner.get("proforma")
    return slip_price(
        Slip(
            partner_id=document.partner_id,
            description="Extra",
            quantity=Decimal(1),
            bill_rate_units=Decimal(500),
            **owner,
        )
    )


LINES = "lines of (an )?issued invoice (\\S+ )?cannot be added, changed or deleted"


def test_the_direct_lines_of_an_issued_invoice_are_frozen(invoice):
    slip = invoice.direct_slips.first()
    refused(lambda: new_slip(invoice=invoice).save(), LINES)
    refused(lambda: Slip.objects.bulk_create([new_slip(invoice=invoice)]), LINES)
    slip.description = "Changed"
    refused(slip.save, LINES)
    refused(lambda: Slip.objects.filter(pk=slip.pk).update(bill_tax_units=F("bill_tax_units")), LINES)
    refused(slip.delete, LINES)
    refused(lambda: Slip.objects.filter(invoice=invoice).delete(), LINES)
    assert invoice.direct_slips.count() == 2


def test_a_slip_moves_neither_off_nor_onto_an_issued_invoice(invoice, customer):
    draft = draft_invoice(customer, [5000])
    on_issued, on_draft = invoice.direct_slips.first(), draft.direct_slips.get()
    refused(lambda: Slip.objects.filter(pk=on_issued.pk).update(invoice=draft), LINES)
    refused(lambda: Slip.objects.filter(pk=on_draft.pk).update(invoice=invoice), LINES)


def test_the_slips_of_a_proforma_on_an_issued_invoice_are_frozen(proforma_invoice):
    invoice, proforma = proforma_invoice
    slip = proforma.slips.first()
    refused(lambda: new_slip(proforma=proforma).save(), LINES)
    slip.quantity = Decimal(3)
    refused(slip.save, LINES)
    refused(slip.delete, LINES)
    other = proforma_with_slips(customer=invoice.customer, amounts=[100])
    refused(lambda: Slip.objects.filter(pk=other.slips.get().pk).update(proforma=proforma), LINES)


def test_a_proforma_on_a_draft_or_on_a_voided_invoice_takes_slip_changes(proforma_invoice, customer):
    invoice, proforma = proforma_invoice
    invoice_void(invoice=invoice, reason="Wrong customer")  # its links are kept, inactive
    new_slip(proforma=proforma).save()
    Slip.objects.filter(proforma=proforma).update(description="Re-described")
    drafted = proforma_with_slips(customer=customer, amounts=[100])
    draft = draft_with_proformas(proformas=[drafted], customer=customer)
    new_slip(proforma=drafted).save()
    Slip.objects.filter(proforma=drafted, description="Extra").delete()
    invoice_issue(invoice=draft)
    refused(lambda: new_slip(proforma=drafted).save(), LINES)  # until its invoice is issued


# --- its proforma links ------------------------------------------------------------------------------------------


def test_an_issued_invoice_takes_no_new_proforma(invoice, customer):
    proforma = proforma_with_slips(customer=customer)
    refused(
        lambda: InvoiceProforma.objects.create(invoice=invoice, proforma=proforma, kind="ar"),
        "issued invoice (\\S+ )?cannot take another proforma",
    )


def test_the_links_of_an_issued_invoice_only_go_inactive_on_void(proforma_invoice, customer):
    invoice, proforma = proforma_invoice
    link = InvoiceProforma.objects.get(invoice=invoice)
    changed = "proforma links of (an )?issued invoice (\\S+ )?cannot be changed"
    refused(lambda: InvoiceProforma.objects.filter(pk=link.pk).update(position=9), changed)
    draft = draft_invoice(customer)
    refused(lambda: InvoiceProforma.objects.filter(pk=link.pk).update(invoice=draft), changed)
    refused(
        lambda: InvoiceProforma.objects.filter(pk=link.pk).delete(),
        "proforma links of (an )?issued invoice (\\S+ )?cannot be deleted",
    )
    invoice_void(invoice=invoice, reason="Wrong customer")  # is_active true -> false: allowed
    assert not InvoiceProforma.objects.get(pk=link.pk).is_active
    refused(lambda: InvoiceProforma.objects.filter(pk=link.pk).update(is_active=True), changed)


def test_a_link_does_not_move_onto_an_issued_invoice(invoice, customer):
    proforma = proforma_with_slips(customer=customer)
    draft = draft_with_proformas(proformas=[proforma], customer=customer)
    link = InvoiceProforma.objects.get(invoice=draft)
    refused(
        lambda: InvoiceProforma.objects.filter(pk=link.pk).update(invoice=invoice),
        "proforma links of (an )?issued invoice (\\S+ )?cannot be changed",
    )


# --- the audit trail: append-only ---------------------------------------------------------------------------------

APPEND_ONLY = "audit events? (\\d+ )?cannot be changed or deleted: the audit trail is append-only"


def test_audit_rows_are_never_updated_or_deleted(invoice):
    event = AuditEvent.objects.filter(target_id=invoice.pk).first()
    refused(lambda: AuditEvent.objects.update(reason="rewritten"), APPEND_ONLY)
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(actor=None), APPEND_ONLY)
    event.reason = "rewritten"
    refused(event.save, APPEND_ONLY)
    refused(event.delete, APPEND_ONLY)
    refused(lambda: AuditEvent.objects.all().delete(), APPEND_ONLY)
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


def test_a_partner_with_an_audit_trail_is_not_deleted():
    partner = PartnerFactory()
    audit_record(target=partner, action="note", partner_id=partner.pk)
    with pytest.raises(ProtectedError):
        partner.delete()
    assert AuditEvent.objects.filter(partner=partner).exists()


def test_audit_rows_are_still_added(invoice):
    before = AuditEvent.objects.count()
    event = audit_record(target=invoice, action="note", reason="appended")
    assert AuditEvent.objects.count() == before + 1
    refused(event.delete, APPEND_ONLY)


# --- what stays allowed ---------------------------------------------------------------------------------------------


def test_issuing_a_draft_is_an_update_the_guards_let_through(customer, staff):
    draft = draft_invoice(customer, [5000])
    invoice = invoice_issue(invoice=draft, user=staff, issue_date=ISSUE_DATE)
    assert invoice.status == Invoice.Status.PENDING and invoice.number
    still_frozen(invoice)


def test_drafts_change_and_are_deleted_freely(customer, staff):
    draft = draft_invoice(customer, [5000])
    Invoice.objects.filter(pk=draft.pk).update(notes="Changed", due_date=ISSUE_DATE)
    new_slip(invoice=draft).save()
    Slip.objects.filter(invoice=draft).update(description="Re-described")
    invoice_delete_draft(invoice=draft, user=staff)
    assert not Invoice.objects.filter(pk=draft.pk).exists()
    assert AuditEvent.objects.filter(action="delete_draft", target_id=draft.pk).exists()
    refused(lambda: AuditEvent.objects.filter(target_id=draft.pk).delete(), APPEND_ONLY)


def test_payments_overdue_and_void_go_through(customer, staff):
    today = timezone.localdate()
    paid = issued_invoice(customer, [10000], issue_date=today)
    payment_record(invoice=paid, amount_units=4000, method="check", reference="101", received_on=today)
    late = issued_invoice(customer, [10000], issue_date=today)
    assert invoices_mark_overdue(today=today + datetime.timedelta(days=90)) == 2
    payment_record(invoice=paid, amount_units=6000, method="check", reference="102", received_on=today)
    invoice_void(invoice=late, user=staff, reason="Disputed")
    statuses = dict(Invoice.objects.filter(pk__in=[paid.pk, late.pk]).values_list("pk", "status"))
    assert statuses == {paid.pk: Invoice.Status.PAID, late.pk: Invoice.Status.VOID}
    still_frozen(paid)
    still_frozen(late)


def test_delivery_columns_stay_writable(invoice):
    now = timezone.now()
    Invoice.objects.filter(pk=invoice.pk).update(sent_at=now, send_error="", updated_at=now)
    Invoice.objects.filter(pk=invoice.pk).update(send_error="Mailbox full", pdf_error="boom", charge_error="declined")
    Invoice.objects.filter(pk=invoice.pk).update(pdf="invoices/2026/03/INV.pdf", pdf_error="")
    invoice.refresh_from_db()
    assert invoice.pdf.name == "invoices/2026/03/INV.pdf" and invoice.send_error == "Mailbox full"
    still_frozen(invoice)


def test_attaching_and_detaching_a_child_go_through(customer, staff):
    parent = issued_invoice(customer, [20000], issue_date=ISSUE_DATE)
    child = issued_invoice(CustomerFactory(partner=customer.partner), [5000], issue_date=ISSUE_DATE)
    invoice_attach_child(parent=parent, child=child, user=staff)
    assert Invoice.objects.get(pk=parent.pk).children_units == 5000
    still_frozen(parent)
    still_frozen(child)
    invoice_detach_child(child=Invoice.objects.get(pk=child.pk), user=staff)
    assert Invoice.objects.get(pk=child.pk).parent_id is None


def test_an_issued_invoice_loses_its_contact_and_creator_links_but_keeps_the_snapshot(customer, partner):
    creator = StaffMembershipFactory(partner=partner).user
    contact = BillingContactFactory(customer=customer)
    invoice = issued_invoice(customer, [9000], user=creator, billing_contact=contact, deliver=False)
    assert invoice.billing_contact_id == contact.pk and invoice.created_by_id == creator.pk
    contact.delete()
    creator.delete()
    invoice.refresh_from_db()
    assert (invoice.billing_contact_id, invoice.created_by_id) == (None, None)
    assert invoice.contact_name == contact.name and invoice.contact_email == contact.email
    still_frozen(invoice)
    other = BillingContactFactory(customer=customer)
    refused(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(billing_contact=other),
        "issued invoice cannot be changed: column billing_contact_id",
    )


# --- the audit keeps who acted when the user is deleted ---------------------------------------------------------------


def test_deleting_a_user_in_the_admin_keeps_their_audit_rows_and_name(client, partner, customer):
    clerk = StaffMembershipFactory(partner=partner, user__username="jdoe").user
    invoice = issued_invoice(customer, [9000], user=clerk)
    rows = set(AuditEvent.objects.filter(actor=clerk).values_list("pk", "action"))
    assert {action for _, action in rows} == {"create", "issue"}
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)

    response = client.post(reverse("admin:auth_user_delete", args=[clerk.pk]), {"post": "yes"})

    assert response.status_code == 302, response.content.decode()[:2000]
    assert not get_user_model().objects.filter(pk=clerk.pk).exists()
    kept = AuditEvent.objects.filter(pk__in=[pk for pk, _ in rows])
    assert set(kept.values_list("pk", "action", "actor_id", "actor_name")) == {
        (pk, action, clerk.pk, "jdoe") for pk, action in rows
    }
    history = client.get(reverse("admin:audit_auditevent_changelist"))
    assert history.status_code == 200 and "jdoe" in history.content.decode()
    event = kept.first()
    detail = client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
    assert detail.status_code == 200 and "jdoe" in detail.content.decode()
    staff = StaffMembershipFactory(partner=partner).user
    client.force_login(staff)
    page = client.get(reverse("office:invoice_detail", args=[invoice.pk])).content.decode()
    assert re.search(r"· jdoe</span>", page)


# --- the guards' ignore check (octoo_billing.triggers.FAST_IGNORE_CHECK) -----------------------------------------


@pytest.mark.postgres
def test_the_guards_ignore_check_opens_no_subtransaction_per_row():
    """pgtrigger's own check caught an exception per row (a subtransaction whose end walks every deferred
    foreign-key event: quadratic bulk writes); after migrate ours is installed instead."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = '_pgtrigger_should_ignore'")
        (source,) = cursor.fetchone()
    assert "CURRENT_SETTING('pgtrigger.ignore', TRUE)" in source
    assert "EXCEPTION" not in source.upper()


@pytest.mark.postgres
def test_the_guards_still_refuse_and_pgtrigger_ignore_still_lifts_them(invoice):
    import pgtrigger

    slip = invoice.direct_slips.first()
    with connection.cursor() as cursor:  # the setting defined and then emptied, as pgtrigger leaves it
        cursor.execute("SET LOCAL pgtrigger.ignore = '{}'")
        cursor.execute("RESET pgtrigger.ignore")
    refused(lambda: Slip.objects.filter(pk=slip.pk).update(description="Changed"), LINES)
    with pgtrigger.ignore("invoicing.Slip:issued_invoice_lines_frozen"):
        Slip.objects.filter(pk=slip.pk).update(description="Changed")
        refused(  # only the trigger named is lifted
            lambda: Invoice.objects.filter(pk=invoice.pk).update(total_units=F("total_units") + 1),
            "issued invoice cannot be changed",
        )
    refused(lambda: Slip.objects.filter(pk=slip.pk).update(description="Again"), LINES)
    slip.refresh_from_db()
    assert slip.description == "Changed"
