"""Drain the outbox from the command line: ``manage.py outbox_work`` (until nothing is due) or ``--forever``.

The django-q2 worker does the same through ``invoicing.tasks.outbox_task``; this command is for operators (run
the backlog by hand after an outage) and for the crash tests, which kill it mid-batch.
"""

import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from invoicing.outbox_work import outbox_run, worker_name


class Command(BaseCommand):
    help = "Run the due outbox jobs (invoice PDFs, e-mails, charges)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=20, help="Jobs claimed at a time.")
        parser.add_argument("--forever", action="store_true", help="Keep polling for new work.")
        parser.add_argument("--idle", type=float, default=1.0, help="Seconds between polls with --forever.")

    def handle(self, *args, batch, forever, idle, **options):
        worker = worker_name()
        while True:
            report = outbox_run(batch=batch, worker=worker)
            if report.results:
                self.stdout.write(f"done {report.done}, to retry {report.retried}, failed {report.failed}")
            if not forever:
                return
            close_old_connections()
            if not report.results:
                time.sleep(idle)
