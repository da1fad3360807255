from django.core.management.base import BaseCommand, CommandError

from customers.models import Partner
from invoicing.models import Service
from invoicing.proformas import proformas_sweep


class Command(BaseCommand):
    help = "Create the proformas that are due (published outcomes, finished shifts, services in the past)."

    def add_arguments(self, parser):
        parser.add_argument("--partner", help="Partner id or slug (default: all partners)")

    def handle(self, *args, partner=None, **options):
        scope = None
        if partner:
            lookup = {"pk": int(partner)} if partner.isdigit() else {"slug": partner}
            scope = Partner.objects.filter(**lookup).first()
            if scope is None:
                raise CommandError(f"No partner “{partner}”.")
        report = proformas_sweep(partner=scope)
        self.stdout.write(f"Proformas created: {report['created']}")
        if report["skipped"]:
            self.stdout.write(f"Skipped (being handled by another worker): {report['skipped']}")
        if report["errors"]:
            names = dict(Service.objects.filter(pk__in=report["errors"]).values_list("pk", "request__customer__name"))
            self.stdout.write(self.style.WARNING(f"Services that could not be priced: {len(report['errors'])}"))
            for service_id, message in report["errors"].items():
                self.stdout.write(f"  service {service_id} ({names.get(service_id, '?')}): {message}")
