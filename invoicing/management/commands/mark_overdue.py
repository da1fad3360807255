from django.core.management.base import BaseCommand

from invoicing.lifecycle import invoices_mark_overdue

from ._periods import parse_date


class Command(BaseCommand):
    help = "Mark issued invoices past their due date with a balance as Overdue."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="As of this day, YYYY-MM-DD (default: each partner's today)")

    def handle(self, *args, date=None, **options):
        today = parse_date(date) if date else None
        count = invoices_mark_overdue(today=today)
        as_of = today or "each partner's today (in its time zone)"
        self.stdout.write(f"Invoices marked overdue as of {as_of}: {count}")
