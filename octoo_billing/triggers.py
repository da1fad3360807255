"""Pieces of the PostgreSQL guard triggers (django-pgtrigger) that several apps declare on their models."""

# How the guards refuse on PostgreSQL: a plain message, and an integrity error code so that Django raises
# IntegrityError there as it does for SQLite's RAISE(ABORT, ...).
REFUSE = "RAISE EXCEPTION '{message}'{args} USING ERRCODE = 'restrict_violation';"


def plpgsql_refuse(message: str, *args: str) -> str:
    """A RAISE statement for a guard trigger; each % in ``message`` takes one of ``args`` (SQL expressions)."""
    return REFUSE.format(message=message, args="".join(f", {arg}" for arg in args))
