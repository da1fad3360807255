"""The base of every domain error: a rule refused what someone tried, in words for that person.

An app's domain functions raise their own subclasses (invoicing.errors.BillingError and its kinds); a view puts
one back on its form with ``form.add_error(err.field, err.message)``.
"""


class DomainError(Exception):
    """A rule refused the action. The message is written for the person who tried it; ``field`` is the form field
    it belongs to (None: the form as a whole)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self):
        return self.message
