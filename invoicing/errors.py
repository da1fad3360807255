"""Domain errors. Services raise these; views turn them into form errors or messages."""

from django.core.exceptions import ValidationError

from octoo_billing.errors import DomainError


class BillingError(DomainError):
    """A billing rule refused the action. The message is written for the person who tried it; ``field`` is the
    form field it belongs to (None: the form as a whole)."""


class InvalidTransition(BillingError):
    """The document's status does not allow this move (or it changed meanwhile)."""


class BillingRuleError(BillingError):
    """Some other billing rule refused it (overpayment, a cycle of child invoices, a missing contact...)."""


class PricingError(BillingError):
    """A service could not be priced (no applicable rate)."""


class RunAlreadyOpen(BillingRuleError):
    """A partner-wide run of this kind is already queued or running; ``run`` is that run (invoicing.runs)."""

    def __init__(self, message: str, *, run, field: str | None = None):
        super().__init__(message, field=field)
        self.run = run


__all__ = [
    "BillingError",
    "BillingRuleError",
    "InvalidTransition",
    "PricingError",
    "RunAlreadyOpen",
    "ValidationError",
]
