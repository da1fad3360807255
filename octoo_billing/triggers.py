"""Pieces of the PostgreSQL guard triggers (django-pgtrigger) that several apps declare on their models."""

# How the guards refuse on PostgreSQL: a plain message, and an integrity error code so that Django raises
# IntegrityError there as it does for SQLite's RAISE(ABORT, ...).
REFUSE = "RAISE EXCEPTION '{message}'{args} USING ERRCODE = 'restrict_violation';"


def plpgsql_refuse(message: str, *args: str) -> str:
    """A RAISE statement for a guard trigger; each % in ``message`` takes one of ``args`` (SQL expressions)."""
    return REFUSE.format(message=message, args="".join(f", {arg}" for arg in args))


# django-pgtrigger's guard functions each start by asking ``_pgtrigger_should_ignore(TG_NAME)`` whether
# ``pgtrigger.ignore`` switches the trigger off. Its own version reads the setting inside a BEGIN ... EXCEPTION
# block: a subtransaction per row. Every subtransaction that ends (here, aborted by the caught "unrecognized
# configuration parameter") makes PostgreSQL walk the transaction's whole queue of deferred after-trigger events,
# and Django's foreign keys are deferred: one event per row and key. Writing n rows under a guard in one
# transaction therefore cost O(n^2): 30,000 slips took 13 s and 10,000 invoice links 6 s (bench/NOTES.md), against
# 0.8 s and 0.16 s with this version. Same answers: false when the setting is unset or empty, else whether the
# trigger is named in the array pgtrigger.ignore() sets; it reads the setting with missing_ok instead of catching.
# pgtrigger re-creates its version whenever a migration installs a trigger, so this one is installed again after
# every migrate (audit.apps, post_migrate).
FAST_IGNORE_CHECK = """
CREATE OR REPLACE FUNCTION "public"._pgtrigger_should_ignore(trigger_name NAME)
RETURNS BOOLEAN AS $$
DECLARE
    _pgtrigger_ignore TEXT;
BEGIN
    _pgtrigger_ignore := CURRENT_SETTING('pgtrigger.ignore', TRUE);
    IF _pgtrigger_ignore IS NULL OR _pgtrigger_ignore = '' THEN
        RETURN FALSE;
    END IF;
    RETURN trigger_name = ANY(_pgtrigger_ignore::TEXT[]);
END;
$$ LANGUAGE plpgsql;
"""


def install_fast_ignore_check(using: str = "default", **kwargs) -> None:
    """Replaces pgtrigger's ignore check with the one above (PostgreSQL only; SQLite has no such function)."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(FAST_IGNORE_CHECK)
