"""The after-commit nudge with django-q2's ORM broker: one waiting drain serves every issue committed before a worker
takes it; once it is taken, the next issue queues another, so no committed job is left without a drain."""

import datetime

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from invoicing import outbox
from invoicing.lifecycle import invoice_issue
from tests.factories import draft_invoice

pytestmark = pytest.mark.django_db(transaction=True)  # the nudge runs after a real commit


@pytest.fixture
def queued_worker(settings, monkeypatch):
    """A real worker's queue: nudges on, tasks queued in the ORM broker (not run inline)."""
    settings.OUTBOX_NUDGE = True
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False, "orm": "default"}
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", "default")


def _drains():
    return [row for row in OrmQ.objects.order_by("id") if row.func() == outbox.DRAIN_TASK]


def _issue(customer):
    return invoice_issue(invoice=draft_invoice(customer, [1000]))


def test_issues_committed_while_a_drain_waits_queue_no_other(queued_worker, customer):
    for _ in range(3):
        _issue(customer)

    assert len(_drains()) == 1


def test_once_a_worker_took_the_drain_the_next_issue_queues_another(queued_worker, customer):
    _issue(customer)
    [taken] = _drains()
    OrmQ.objects.filter(pk=taken.pk).update(lock=timezone.now() + datetime.timedelta(seconds=360))  # as dequeue does

    _issue(customer)

    assert len(_drains()) == 2


def test_another_waiting_task_is_no_drain(queued_worker, customer):
    async_task("invoicing.tasks.mark_overdue_task", save=False)

    _issue(customer)

    assert len(_drains()) == 1 and OrmQ.objects.count() == 2


def test_without_the_orm_broker_every_nudge_is_queued(queued_worker, settings, monkeypatch):
    settings.Q_CLUSTER = {key: value for key, value in settings.Q_CLUSTER.items() if key != "orm"}
    queued = []
    monkeypatch.setattr(outbox, "worker_queue", lambda *args, **options: queued.append(args))

    outbox.outbox_nudge()
    outbox.outbox_nudge()

    assert queued == [(outbox.DRAIN_TASK,), (outbox.DRAIN_TASK,)]
