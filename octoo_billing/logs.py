"""Log lines as JSON objects with the request id (``LOG_FORMAT=json``), or plain text (the default).

- ``request_id_var``: the id of the request being handled in this thread (set by
  ``octoo_billing.request_id.RequestIdMiddleware``, cleared when the response is done), else None;
  ``task_var``: the django-q2 task a worker process is running (its id, name and function), else None.
- ``RequestIdFilter`` (on the console handler) copies both onto every record: ``record.request_id``,
  ``record.task_id``, ``record.task_name``, ``record.task_func``.
- ``JsonFormatter`` writes one JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
  ``request_id``, the task's fields when in a task, and ``exception`` (the traceback) when there is one.
- ``logging_config(log_format, level)`` is the ``LOGGING`` dict settings.py uses.

A worker's lines carry its task: the first record a process logs once Django's apps are loaded connects
``task_begin``/``task_end`` to django-q2's ``pre_execute``/``post_execute_in_worker`` signals (they cannot be
imported while the settings load, and django-q2 logs "ready for work" in each worker process before its first task).
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from contextvars import ContextVar
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

LOG_FORMATS = ("text", "json")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


@dataclass(frozen=True)
class TaskContext:
    """The django-q2 task a worker is running."""

    id: str
    name: str
    func: str


task_var: ContextVar[TaskContext | None] = ContextVar("task", default=None)


# --- The worker's task ------------------------------------------------------------------------------------


def task_begin(sender=None, func=None, task=None, **kwargs) -> None:
    """django-q2's ``pre_execute``: the lines the task logs carry its id, name and function."""
    task = task or {}
    func_name = func if isinstance(func, str) else f"{getattr(func, '__module__', '')}.{getattr(func, '__name__', '')}"
    task_var.set(TaskContext(id=str(task.get("id", "")), name=str(task.get("name", "")), func=func_name.strip(".")))


def task_end(sender=None, **kwargs) -> None:
    """django-q2's ``post_execute_in_worker``: the task is over."""
    task_var.set(None)


_signals_lock = threading.Lock()
_signals_connected = False


def _connect_task_signals() -> None:
    global _signals_connected
    with _signals_lock:
        if _signals_connected:
            return
        # cycle: django_q.signals imports django_q.models, which needs the app registry that the settings
        # (which import this module) come before.
        from django_q.signals import post_execute_in_worker, pre_execute

        pre_execute.connect(task_begin, dispatch_uid="octoo_billing.logs.task_begin")
        post_execute_in_worker.connect(task_end, dispatch_uid="octoo_billing.logs.task_end")
        _signals_connected = True


# --- Filter and formatter ---------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Copies the request id and the worker's task onto each record; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _signals_connected and apps.ready:
            _connect_task_signals()
        record.request_id = request_id_var.get()
        task = task_var.get()
        record.task_id = task.id if task else None
        record.task_name = task.name if task else None
        record.task_func = task.func if task else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if getattr(record, "task_id", None):
            entry.update(task_id=record.task_id, task_name=record.task_name, task_func=record.task_func)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


# --- LOGGING -------------------------------------------------------------------------------------------


def logging_config(log_format: str = "text", level: str = "INFO") -> dict:
    """The ``LOGGING`` setting: everything to the console, as plain text or (``json``) one JSON object a line.

    In JSON, Django's own loggers (``django``, ``django.server``) lose the handlers Django gives them and write
    through the same console handler, so no line is left in another format (django-q2's logger adds a handler
    of its own only when none is configured: it writes through the root's too)."""
    log_format = (log_format or "text").strip().lower()
    if log_format not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}.")
    handler = {"class": "logging.StreamHandler", "filters": ["request_id"]}
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "octoo_billing.logs.RequestIdFilter"}},
        "formatters": {"json": {"()": "octoo_billing.logs.JsonFormatter"}},
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "INFO"}},
    }
    if log_format == "json":
        handler["formatter"] = "json"
        config["loggers"].update(
            {
                "django": {"handlers": [], "level": "INFO", "propagate": True},
                "django.server": {"handlers": [], "level": "INFO", "propagate": True},
            }
        )
    return config
