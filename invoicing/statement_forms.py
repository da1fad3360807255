"""The period picker of the statement pages (office and portal): two dates, the current month so far by default,
and quick choices (``invoicing.statements.period_choices``)."""

from __future__ import annotations

import datetime

from django import forms

from .errors import BillingRuleError
from .statements import period_check, period_choices

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class StatementDateField(forms.DateField):
    """A date in the years billing data can have (the calendar runs out at year 0 and 10000)."""

    FIRST, LAST = datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", DATE_INPUT)
        kwargs.setdefault("error_messages", {"invalid": "Enter a date as YYYY-MM-DD."})
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if value is not None and not self.FIRST <= value <= self.LAST:
            raise forms.ValidationError(
                f"Enter a date between {self.FIRST.isoformat()} and {self.LAST.isoformat()}.", code="out_of_range"
            )


class StatementPeriodForm(forms.Form):
    start = StatementDateField(label="From")
    end = StatementDateField(label="To")

    @classmethod
    def for_query(cls, query, *, today: datetime.date) -> StatementPeriodForm:
        """Bound to the page's query string; a date left out is the current month's (so far)."""
        default = period_choices(today)[0]
        data = {
            "start": query.get("start") or default.start.isoformat(),
            "end": query.get("end") or default.end.isoformat(),
        }
        return cls(data)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            try:
                period_check(start, end)
            except BillingRuleError as error:
                self.add_error(error.field, error.message)
        return cleaned
