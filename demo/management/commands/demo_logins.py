"""``manage.py demo_logins``: who can sign in to the demo, and where each one lands."""

from django.core.management.base import BaseCommand

from demo.people import demo_logins_table
from demo.seed import demo_loaded


class Command(BaseCommand):
    help = "Print the demo logins (username, password, role, landing page) if the demo data is loaded."
    requires_system_checks = []

    def handle(self, *args, **options):
        if not demo_loaded():
            self.stdout.write(
                "No demo data loaded. Load it with `make seed` "
                "(or: DEBUG=1 .venv/bin/python manage.py seed_demo), then run this again."
            )
            return
        self.stdout.write("Demo logins:")
        self.stdout.write(demo_logins_table())
