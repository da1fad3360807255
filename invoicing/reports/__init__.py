"""Report selectors: AR aging and revenue and margin. Partner-scoped, aggregated in the database, a fixed
number of queries whatever the number of invoices; amounts are integer minor units.

AR aging (as of a date)
    Every AR invoice issued on or before the date, not voided by then, with something still owed then:
    ``total - attached child invoices - payments received on or before the date + refunds made by then that
    reopened it (not those out of a credit note's credit) - credit notes applied to it by then``; today that is
    its outstanding balance (``Invoice.outstanding_units``). Its days past due are
    the days from its due date to the as-of date; invoices not yet due (or with no due date, on "no payment"
    terms) are "current". Child invoices count as attached now (their attach date is not kept).

Revenue and margin (over a range of issue dates)
    Revenue is what issued, non-void AR invoices billed, net of tax: ``subtotal - discounts``; tax is shown
    beside it, since it is collected for the tax office and is not revenue. A credit note is negative revenue
    (and negative tax) in the month it is issued, whatever the month of its invoice: by customer it counts for
    its customer; by provider and by expense code, a credited line for its proforma's provider and codes, a
    credited amount for "no provider" and its invoice's codes. Credit notes change no provider cost.
    Cost is what the providers earn for the same work: the pay side of the proformas on those invoices plus the
    pay side of lines typed directly on them (zero for most manual lines). Margin is revenue - cost.
    By month and by customer the figures are the invoices' own; by provider and by expense code they come
    from the invoices' lines: each proforma counts for its provider and its own expense codes, lines typed on
    an invoice for "no provider" and the invoice's codes; the totals are the same either way.

Cash basis (invoicing.reports.cash) and tax per rate and zone (invoicing.reports.tax) have their definitions in
their modules; ``periods`` holds the months of a range and the range a report opens on.
"""

from .aging import (
    AGING_BUCKETS,
    AgingReport,
    AgingRow,
    aging_invoices,
    aging_sums,
    ar_aging,
    ar_aging_today,
    customer_aging,
)
from .cash import CashReport, CashRow, cash_dates, cash_report
from .periods import Range, data_range, last_months, month_add, month_end, months
from .revenue import (
    NO_CODE,
    NO_PROVIDER,
    REVENUE_GROUPINGS,
    RevenueReport,
    RevenueRow,
    billed_by_month,
    revenue_dates,
    revenue_report,
)
from .tax import TAX_PERIODS, TaxReport, TaxRow, tax_report

__all__ = [
    "AGING_BUCKETS",
    "NO_CODE",
    "NO_PROVIDER",
    "REVENUE_GROUPINGS",
    "TAX_PERIODS",
    "AgingReport",
    "AgingRow",
    "CashReport",
    "CashRow",
    "Range",
    "RevenueReport",
    "RevenueRow",
    "TaxReport",
    "TaxRow",
    "aging_invoices",
    "aging_sums",
    "ar_aging",
    "ar_aging_today",
    "billed_by_month",
    "cash_dates",
    "cash_report",
    "customer_aging",
    "data_range",
    "last_months",
    "month_add",
    "month_end",
    "months",
    "revenue_dates",
    "revenue_report",
    "tax_report",
]
