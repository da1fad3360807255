"""PostgreSQL: keeping the open balances and the closed months' versions makes no two everyday writers wait on each
other. Two payments on invoices of the same customer and due date, each in its own open transaction: the second goes
through while the first still holds its locks (a lock wait would hit the lock timeout)."""

import datetime
import threading

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from invoicing.models import MonthVersion, OpenBalance
from invoicing.payments import payment_record
from tests.factories import CustomerFactory, issued_invoice
from tests.invoicing.test_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_payments_on_one_customers_invoices_due_the_same_day_never_wait_on_each_other():
    customer = CustomerFactory()
    issue_date = timezone.localdate() - datetime.timedelta(days=40)
    first, second = (issued_invoice(customer, [5000], issue_date=issue_date) for _ in range(2))
    assert first.due_date == second.due_date
    versions = list(MonthVersion.objects.values_list("month", "version"))
    first_paid, second_paid = threading.Event(), threading.Event()

    def pay_first():
        with transaction.atomic():
            payment_record(invoice=first, amount_units=2000, method="transfer", received_on=timezone.localdate())
            first_paid.set()
            assert second_paid.wait(timeout=20), "the second payment waited on the first"

    def pay_second():
        assert first_paid.wait(timeout=20)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            payment_record(invoice=second, amount_units=3000, method="transfer", received_on=timezone.localdate())
        second_paid.set()

    _, errors = run_at_once([pay_first, pay_second])
    assert errors == [None, None]
    owed = OpenBalance.objects.filter(customer=customer, due_date=first.due_date).aggregate(units=Sum("units"))
    assert owed["units"] == 3000 + 2000
    assert list(MonthVersion.objects.values_list("month", "version")) == versions
