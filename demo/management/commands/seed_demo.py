"""``manage.py seed_demo``: load the demo data set once (two partners, customers, requests, every kind of invoice)."""

import logging
import time

from django.core.management.base import BaseCommand, CommandError

from demo.people import demo_logins_table
from demo.seed import DEMO_MARKER_SLUG, demo_loaded, seed_demo
from demo.summary import demo_summary


class Command(BaseCommand):
    help = (
        "Load realistic demo data (two partners, customers, providers, requests, proformas, AR and AP invoices "
        "in every status, payments, demo logins) in one transaction. Does nothing if it is already loaded."
    )
    # `make run` calls this on every start, right after `migrate` has run the checks: keep the no-op fast.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Print one line instead of the summary.")

    def handle(self, *args, quiet=False, **options):
        if demo_loaded():
            self.stdout.write(
                f"Demo data already loaded (partner {DEMO_MARKER_SLUG!r} exists). Logins: manage.py demo_logins"
            )
            return
        started = time.monotonic()
        # Each issued invoice logs a line when the seed commits: keep the output to the summary.
        invoicing_logger = logging.getLogger("invoicing")
        level = invoicing_logger.level
        invoicing_logger.setLevel(logging.WARNING)
        try:
            seed = seed_demo()
        except Exception as error:
            raise CommandError(f"The demo data could not be loaded; nothing was written. {error}") from error
        finally:
            invoicing_logger.setLevel(level)
        if seed is None:
            self.stdout.write("Demo data already loaded.")
            return
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded in {elapsed:.1f} s (dated around {seed.today:%Y-%m-%d}).")
        )
        for note in seed.notes:
            self.stdout.write(self.style.WARNING(note))
        if quiet:
            return
        self.stdout.write(demo_summary())
        self.stdout.write("")
        self.stdout.write("Demo logins (every password is the same):")
        self.stdout.write(demo_logins_table())
