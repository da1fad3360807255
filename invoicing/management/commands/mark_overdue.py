from django.core.management.base import BaseCommand
from django.utils import timezone

from invoicing.lifecycle import invoices_mark_overdue

from ._periods import parse_date


class Command(BaseCommand):
    help = "Mark issued invoices past their due date with a balance as Overdue."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="As of this day, YYYY-MM-DD (default today)")

    def handle(self, *args, date=None, **options):
        today = parse_date(date) if date else timezone.localdate()
        count = invoices_mark_overdue(today=today)
        self.stdout.write(f"Invoices marked overdue as of {today}: {count}")
