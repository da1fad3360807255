from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.models import Customer, Provider
from invoicing.invoice_runs import ap_run, ar_run
from octoo_billing.money import format_units

from ._periods import parse_date, parse_period


class Command(BaseCommand):
    help = (
        "Generate AR invoices (per customer, on its schedule) or AP invoices (per provider). "
        "--period YYYY-MM invoices that month; --date YYYY-MM-DD runs as if on that day (latest closed period)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=["ar", "ap"], required=True)
        parser.add_argument("--customer", type=int, help="Only this customer id (AR)")
        parser.add_argument("--provider", type=int, help="Only this provider id (AP)")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--period", help="A calendar month, YYYY-MM")
        group.add_argument("--date", help="Run as of this day, YYYY-MM-DD")

    def handle(self, *args, kind, customer=None, provider=None, period=None, date=None, **options):
        period_range = parse_period(period) if period else None
        on_date = parse_date(date) if date else timezone.localdate()
        if kind == "ar":
            if provider:
                raise CommandError("--provider goes with --kind ap.")
            customers = None
            if customer is not None:
                found = Customer.objects.filter(pk=customer).first()
                if found is None:
                    raise CommandError(f"No customer with id {customer}.")
                customers = [found]
            run = ar_run(on_date=on_date, customers=customers, period=period_range)
            what = "customers"
        else:
            if customer:
                raise CommandError("--customer goes with --kind ar.")
            providers = None
            if provider is not None:
                found = Provider.objects.filter(pk=provider).first()
                if found is None:
                    raise CommandError(f"No provider with id {provider}.")
                providers = [found]
            run = ap_run(on_date=on_date, providers=providers, period=period_range)
            what = "providers"
        self.stdout.write(f"{kind.upper()} run: {run.parties} {what} looked at, {len(run.invoice_ids)} invoices made")
        for invoice in run.invoices().iterator(chunk_size=1000):
            self.stdout.write(
                f"  {invoice} {invoice.bill_to_name}: {format_units(invoice.total_units, invoice.currency)}"
                f" ({invoice.get_status_display()}) {invoice.expense_code_key}"
            )
        for party, message in run.errors.items():
            self.stdout.write(self.style.ERROR(f"  failed for {party}: {message}"))
        if run.errors:
            raise CommandError(f"{len(run.errors)} {what} could not be invoiced; the others were.")
