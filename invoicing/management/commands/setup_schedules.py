from django.core.management.base import BaseCommand
from django_q.models import Schedule

from invoicing.tasks import AP_RUN_SCHEDULE, AR_RUN_SCHEDULE

# name -> (task, schedule type, minutes between runs for MINUTES schedules)
SCHEDULES = {
    "Proforma sweep": ("invoicing.tasks.proformas_sweep_task", Schedule.MINUTES, 10),
    AR_RUN_SCHEDULE: ("invoicing.tasks.ar_run_task", Schedule.HOURLY, None),
    AP_RUN_SCHEDULE: ("invoicing.tasks.ap_run_task", Schedule.DAILY, None),
    "Mark overdue invoices": ("invoicing.tasks.mark_overdue_task", Schedule.HOURLY, None),
    # Last month's statements of account, queued once per customer and month (any day from the 1st).
    "Monthly statements of account": ("invoicing.tasks.statements_task", Schedule.DAILY, None),
    # Hourly, so each partner's reminders go out within the hour its day starts (idempotent: once per step).
    "Send payment reminders": ("invoicing.tasks.reminders_task", Schedule.HOURLY, None),
    # After-commit work (PDF, e-mail, charge) still due: failed attempts after their backoff, jobs whose worker
    # died; most jobs are drained right after their commit, this catches the rest.
    "Deliver issued invoices (outbox)": ("invoicing.tasks.outbox_task", Schedule.MINUTES, 1),
    # The open balances folded and the closed months kept (invoicing.reports.keeping): no report computes them.
    "Keep report figures": ("invoicing.tasks.report_figures_task", Schedule.HOURLY, None),
    # The worker's heartbeat, read by /readyz (ops app; named, not imported: ops sits above invoicing).
    "Worker heartbeat": ("ops.tasks.worker_heartbeat_task", Schedule.MINUTES, 1),
}
# Schedules of tasks that no longer exist (the outbox replaced them): removed so the worker never runs them.
RETIRED = ["invoicing.tasks.pdf_sweep_task"]


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules of the billing worker (idempotent)."

    def handle(self, *args, **options):
        for schedule in Schedule.objects.filter(func__in=RETIRED):
            schedule.delete()
            self.stdout.write(f"removed: {schedule.name} ({schedule.func})")
        for name, (func, schedule_type, minutes) in SCHEDULES.items():
            _, created = Schedule.objects.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": schedule_type, "minutes": minutes, "repeats": -1},
            )
            self.stdout.write(f"{'created' if created else 'kept'}: {name} ({func})")
