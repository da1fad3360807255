"""Figures of closed months, kept so that the dashboard and the reports read a stored month instead of every invoice,
line and payment in it (invoicing.reports.kept).

A month's figures change after it has closed only when something dated in it changes: an invoice of that month is
voided (or issued with a date in it), a payment or refund dated in it is recorded, changed or removed, a credit note
dated in it is issued. The database's triggers below count each such change in ``MonthVersion`` in the same
transaction as the change, and a stored ``MonthFigures`` is read only while its version is the month's current one:
so the figures are never stale after a commit. Changes dated in the current month (nearly every issue, payment and
credit note) touch no row at all: concurrent issuers never wait on a shared row, and the current month is always
computed from the invoices themselves.

"Closed" is by the database's clock in UTC: a trigger counts a change dated before the first day of the month its
transaction started in; the reports keep a month only from an hour after it ended (``CLOSING_LAG`` in
invoicing.reports.kept), so a month is never kept while a transaction that started before it ended, and could still
change it without being counted, is open.
"""

import pgtrigger
from django.db import models

# What the triggers share (PostgreSQL). ``CLOSED`` is the first day of the current month in UTC.
CLOSED = "date_trunc('month', now() AT TIME ZONE 'UTC')::date"
COUNTED = "\"status\" NOT IN ('draft', 'void')"  # the reports' counted invoices (invoicing.reports.periods)


def _month(expression: str) -> str:
    return f"date_trunc('month', {expression})::date"


def _count_changes(select: str) -> str:
    """The body of a trigger function: every (partner_id, month) that ``select`` yields counts one change more.
    In a fixed order, so two transactions counting the same months never deadlock."""
    return (
        f"INSERT INTO invoicing_monthversion (partner_id, month, version) "
        f"SELECT DISTINCT partner_id, month, 1 FROM ({select}) AS changed ORDER BY partner_id, month "
        "ON CONFLICT (partner_id, month) DO UPDATE SET version = invoicing_monthversion.version + 1; RETURN NULL;"
    )


def _dated(table: str, date: str, where: str = "TRUE") -> str:
    return f"SELECT partner_id, {_month(date)} AS month FROM {table} WHERE {date} < {CLOSED} AND {where}"


def _inserted(name: str, select: str) -> pgtrigger.Trigger:
    """One trigger per INSERT statement, reading the statement's new rows (``new_rows``): a bulk write or a COPY of
    a million rows counts each of its months once."""
    return _statement(name, pgtrigger.Insert, pgtrigger.Referencing(new="new_rows"), _count_changes(select))


def _row(name: str, operation, condition: str, select: str) -> pgtrigger.Trigger:
    """A row trigger whose condition PostgreSQL checks without calling the function: the everyday change of a row
    (a status, a PDF, a payment dated today) costs nothing."""
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.After,
        operation=operation,
        condition=pgtrigger.Condition(f"({condition})"),  # WHEN takes it in parentheses
        func=_count_changes(select),
    )


def invoice_figures_triggers() -> list:
    counted_changed = f'(OLD.{COUNTED}) IS DISTINCT FROM (NEW.{COUNTED}) AND NEW."issue_date" < {CLOSED}'
    return [
        _inserted("figures_invoice_inserted", _dated("new_rows", "issue_date", COUNTED)),
        # Issued (with an earlier date) or voided: its month, and the months of its credit notes (which the
        # reports stop counting with their voided invoice). Nothing else of an issued invoice that the reports
        # read can change (issued_invoice_frozen); a draft is not counted.
        _row(
            "figures_invoice_counted",
            pgtrigger.Update,
            counted_changed,
            f"SELECT NEW.partner_id, {_month('NEW.issue_date')} AS month UNION ALL "
            + _dated("invoicing_creditnote", "issue_date", 'invoice_id = NEW."id"'),
        ),
    ]


def payment_figures_triggers() -> list:
    changed = (
        '(OLD."received_on", OLD."amount_units", OLD."invoice_id", OLD."partner_id") IS DISTINCT FROM '
        '(NEW."received_on", NEW."amount_units", NEW."invoice_id", NEW."partner_id")'
    )
    old_and_new = (
        f'SELECT OLD.partner_id, {_month("OLD.received_on")} AS month WHERE OLD."received_on" < {CLOSED} UNION ALL '
        f'SELECT NEW.partner_id, {_month("NEW.received_on")} WHERE NEW."received_on" < {CLOSED}'
    )
    return [
        _inserted("figures_payment_inserted", _dated("new_rows", "received_on")),
        _row(
            "figures_payment_changed",
            pgtrigger.Update,
            f'{changed} AND LEAST(OLD."received_on", NEW."received_on") < {CLOSED}',
            old_and_new,
        ),
        _row(
            "figures_payment_deleted",
            pgtrigger.Delete,
            f'OLD."received_on" < {CLOSED}',
            f"SELECT OLD.partner_id, {_month('OLD.received_on')} AS month",
        ),
    ]


def refund_figures_triggers() -> list:
    """Refunds count when made (succeeded), on the day they were made."""
    succeeded = "\"status\" = 'succeeded'"
    changed = (
        '(OLD."status", OLD."refunded_on", OLD."amount_units", OLD."partner_id") IS DISTINCT FROM '
        '(NEW."status", NEW."refunded_on", NEW."amount_units", NEW."partner_id")'
    )
    old_and_new = (
        f'SELECT OLD.partner_id, {_month("OLD.refunded_on")} AS month WHERE OLD."refunded_on" < {CLOSED} '
        f"AND OLD.{succeeded} UNION ALL "
        f'SELECT NEW.partner_id, {_month("NEW.refunded_on")} WHERE NEW."refunded_on" < {CLOSED} AND NEW.{succeeded}'
    )
    return [
        _inserted("figures_refund_inserted", _dated("new_rows", "refunded_on", succeeded)),
        _row(
            "figures_refund_changed",
            pgtrigger.Update,
            f"(OLD.{succeeded} OR NEW.{succeeded}) AND {changed} "
            f'AND LEAST(OLD."refunded_on", NEW."refunded_on") < {CLOSED}',
            old_and_new,
        ),
        _row(
            "figures_refund_deleted",
            pgtrigger.Delete,
            f'OLD.{succeeded} AND OLD."refunded_on" < {CLOSED}',
            f"SELECT OLD.partner_id, {_month('OLD.refunded_on')} AS month",
        ),
    ]


def credit_note_figures_triggers() -> list:
    """An issued credit note never changes what the reports read (credit_note_frozen) nor goes away."""
    return [_inserted("figures_credit_note_inserted", _dated("new_rows", "issue_date"))]


def credit_note_line_figures_triggers() -> list:
    """Lines added to a credit note of an earlier month (they come with the credit note, in its transaction)."""
    notes = (
        "(SELECT c.partner_id, c.issue_date FROM invoicing_creditnote c "
        "WHERE c.id IN (SELECT credit_note_id FROM new_rows)) AS notes"
    )
    return [_inserted("figures_credit_note_line_inserted", _dated(notes, "issue_date"))]


def proforma_figures_triggers() -> list:
    """The revenue by provider and by expense code read the proformas on the invoices: a proforma on a counted
    invoice of a closed month whose amounts, provider or codes change changes that month."""
    read = (
        '"bill_subtotal_units", {0}."bill_discount_units", {0}."bill_tax_units", {0}."pay_total_units", '
        '{0}."provider_id", {0}."expense_code_key"'
    )
    invoices = (
        "(SELECT i.partner_id, i.issue_date, i.status FROM invoicing_invoiceproforma l "
        "JOIN invoicing_invoice i ON i.id = l.invoice_id WHERE l.proforma_id = NEW.id AND l.is_active) AS invoices"
    )
    return [
        _row(
            "figures_proforma_changed",
            pgtrigger.Update,
            f"(OLD.{read.format('OLD')}) IS DISTINCT FROM (NEW.{read.format('NEW')})",
            _dated(invoices, "issue_date", COUNTED),
        )
    ]


# The kept figures' links to partners and customers are not foreign keys in the database: a trigger's INSERT would
# take a key-share lock on the customer (or partner) row at COMMIT, behind any transaction holding it FOR UPDATE (an AR
# run locks its customers) while that one waits for the invoice the trigger's statement updated: a deadlock.
# Partners and customers are never deleted while they have invoices (PROTECT), so nothing is left pointing nowhere.
class MonthVersion(models.Model):
    """How many changes a closed month of a partner has had: counted by the triggers above, in the transaction of
    each change. No row: none yet (version 0)."""

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    month = models.DateField()  # its first day
    version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "month"], name="month_version_once")]


class MonthFigures(models.Model):
    """One kind of a closed month's figures (say revenue by customer), as computed at ``version`` of the month:
    ``rows`` holds [key, [integers]] pairs (invoicing.reports.kept)."""

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    month = models.DateField()
    kind = models.CharField(max_length=40)
    version = models.BigIntegerField()
    rows = models.JSONField(default=list)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "kind", "month"], name="month_figures_once")]


# --- Open balances: what each customer owes today, by due date (the AR aging and the dashboard's open figures) ----

OPEN_STATUSES_SQL = "('pending', 'partially_paid', 'overdue')"  # Invoice.OPEN_STATUSES


def owed_sql(row: str = "") -> str:
    """What an invoice row (``row``: OLD, NEW or a table alias; empty for a bare row) adds to the open balances: its
    balance when it is an open AR invoice owing something, else nothing."""
    p = f"{row}." if row else ""
    balance = f'({p}"total_units" - {p}"paid_units" - {p}"children_units" - {p}"credited_units")'
    return (
        f'CASE WHEN {p}"kind" = \'ar\' AND {p}"status" IN {OPEN_STATUSES_SQL} AND {balance} > 0 '
        f"THEN {balance} ELSE 0 END"
    )


def _open_balance_rows(table: str, sign: str) -> str:
    return (
        f"SELECT partner_id, customer_id, due_date, {sign}owed AS units, {sign}1 AS invoices "
        f"FROM (SELECT partner_id, customer_id, due_date, {owed_sql()} AS owed FROM {table}) AS {table}_owed "
        "WHERE owed > 0"
    )


def _open_balances_add(rows: str) -> str:
    return (
        "INSERT INTO invoicing_openbalance (partner_id, customer_id, due_date, units, invoices) "
        f"SELECT partner_id, customer_id, due_date, SUM(units), SUM(invoices) FROM ({rows}) AS moved "
        "GROUP BY partner_id, customer_id, due_date HAVING SUM(units) <> 0 OR SUM(invoices) <> 0; RETURN NULL;"
    )


def open_balance_triggers() -> list:
    """Each statement that writes invoices adds what it changed in the open balances as rows of differences (one
    per customer and due date): nothing is updated in place, so no two writers ever wait on each other's row.
    Statement triggers: a bulk issue of 10,000 drafts adds its rows in one INSERT; an UPDATE whose balances do not
    move (a PDF stored, overdue marked) adds none."""
    return [
        _statement(
            "figures_open_balance_inserted",
            pgtrigger.Insert,
            pgtrigger.Referencing(new="new_rows"),
            _open_balances_add(_open_balance_rows("new_rows", "")),
        ),
        _statement(
            "figures_open_balance_updated",
            pgtrigger.Update,
            pgtrigger.Referencing(old="old_rows", new="new_rows"),
            _open_balances_add(f"{_open_balance_rows('old_rows', '-')} UNION ALL {_open_balance_rows('new_rows', '')}"),
        ),
        _statement(
            "figures_open_balance_deleted",
            pgtrigger.Delete,
            pgtrigger.Referencing(old="old_rows"),
            _open_balances_add(_open_balance_rows("old_rows", "-")),
        ),
    ]


def _statement(name: str, operation, referencing, func: str) -> pgtrigger.Trigger:
    return pgtrigger.Trigger(
        name=name,
        level=pgtrigger.Statement,
        when=pgtrigger.After,
        operation=operation,
        referencing=referencing,
        func=func,
    )


class OpenBalance(models.Model):
    """A difference in what a customer owes on AR invoices due on ``due_date`` (none: on "no payment" terms): the
    sum of a partner's rows, per customer and due date, is what its open invoices owe today, and their number. The
    triggers above add rows; ``invoicing.reports.open_balances.open_balances_compact`` folds them up (hourly)."""

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    due_date = models.DateField(null=True)
    units = models.BigIntegerField()
    invoices = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["partner", "customer", "due_date"], include=["units", "invoices"], name="open_balance_idx"
            )
        ]
