from .credit import CreditApplication, CreditNote, CreditNoteLine, InvoiceReminder, Refund
from .figures import MonthFigures, MonthVersion, OpenBalance
from .invoice import Invoice, InvoiceProforma
from .numbering import NumberCounter
from .outbox import OutboxJob
from .payment import Payment
from .pricing import (
    Coupon,
    CouponRedemption,
    ExtraOffer,
    Holiday,
    PaySchedule,
    Rate,
    ServiceType,
    TimePolicy,
    Zone,
    ZoneArea,
)
from .proforma import Proforma
from .request import Quote, QuoteLine, Service, ServiceExtra, ServiceRequest, Shift, SupportingDocument
from .runs import BillingRun, BillingRunItem
from .slip import Slip

__all__ = [
    "BillingRun",
    "BillingRunItem",
    "Coupon",
    "CouponRedemption",
    "CreditApplication",
    "CreditNote",
    "CreditNoteLine",
    "ExtraOffer",
    "Holiday",
    "Invoice",
    "InvoiceReminder",
    "InvoiceProforma",
    "MonthFigures",
    "MonthVersion",
    "NumberCounter",
    "OpenBalance",
    "OutboxJob",
    "PaySchedule",
    "Payment",
    "Proforma",
    "Quote",
    "QuoteLine",
    "Rate",
    "Refund",
    "Service",
    "ServiceExtra",
    "ServiceRequest",
    "ServiceType",
    "Shift",
    "Slip",
    "SupportingDocument",
    "TimePolicy",
    "Zone",
    "ZoneArea",
]
