"""Logs as JSON lines with a request id (octoo_billing.logs, octoo_billing.request_id): LOG_FORMAT=json builds the
JSON handler; each request gets an id (a sane X-Request-ID header, else a new one) that its log lines carry and its
response echoes; a worker's task lines carry the task; plain text stays the default."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django_q.tasks import async_task

from octoo_billing import logs
from octoo_billing.logs import JsonFormatter, RequestIdFilter, logging_config, request_id_var

ROOT = Path(__file__).resolve().parents[1]
HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_lines():
    """A JSON handler (the filter and formatter LOG_FORMAT=json uses) on the root logger; returns the lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def log_from_a_task():
    logging.getLogger("tests.json_logs").warning("inside the task")


# --- the LOGGING setting ----------------------------------------------------------------------------------


def test_log_format_json_sends_every_logger_through_the_json_handler():
    config = logging_config("json", "DEBUG")
    assert config["handlers"]["console"] == {
        "class": "logging.StreamHandler",
        "filters": ["request_id"],
        "formatter": "json",
    }
    assert config["formatters"]["json"] == {"()": "octoo_billing.logs.JsonFormatter"}
    assert config["filters"]["request_id"] == {"()": "octoo_billing.logs.RequestIdFilter"}
    assert config["root"] == {"handlers": ["console"], "level": "DEBUG"}
    for name in ("django", "django.server"):  # Django's own handlers dropped: their lines go to the root's
        assert config["loggers"][name] == {"handlers": [], "level": "INFO", "propagate": True}


def test_plain_text_stays_the_default():
    config = logging_config()
    assert "formatter" not in config["handlers"]["console"]
    assert config["root"] == {"handlers": ["console"], "level": "INFO"}
    assert set(config["loggers"]) == {"django.db.backends"}


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT must be one of text, json"):
        logging_config("xml")


def test_with_log_format_json_the_app_writes_one_json_object_a_line():
    script = (
        "import logging, django; django.setup(); "
        "logging.getLogger('django.request').warning('Not Found: %s', '/x'); "
        "logging.getLogger('invoicing').error('boom', exc_info=ZeroDivisionError('no'))"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "octoo_billing.settings_test"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert len(lines) == len(done.stderr.splitlines())  # nothing in another format
    request_line = next(line for line in lines if line["logger"] == "django.request")
    assert request_line["message"] == "Not Found: /x" and request_line["level"] == "WARNING"
    assert request_line["request_id"] is None and request_line["time"].endswith("+00:00")
    error = next(line for line in lines if line["logger"] == "invoicing")
    assert "ZeroDivisionError: no" in error["exception"]


# --- the request id ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_requests_log_lines_carry_the_request_id_from_its_header_and_the_response_echoes_it(client, json_lines):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="lb-7f3a.42_x")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "lb-7f3a.42_x"
    line = next(line for line in json_lines() if line["logger"] == "django.request")
    assert line["request_id"] == "lb-7f3a.42_x" and line["message"].startswith("Not Found: /no-such-page/")
    assert request_id_var.get() is None  # cleared once the response is done


@pytest.mark.django_db
@pytest.mark.parametrize("header", ['bad id"<script>', "x" * 129, "-starts-with-a-dash", "é", None])
def test_an_insane_or_missing_request_id_is_replaced_by_a_new_one(client, json_lines, header):
    extra = {} if header is None else {"HTTP_X_REQUEST_ID": header}
    response = client.get("/no-such-page/", **extra)
    made = response["X-Request-ID"]
    assert HEX_ID.fullmatch(made) and made != header
    assert [line["request_id"] for line in json_lines() if line["logger"] == "django.request"] == [made]


@pytest.mark.django_db
def test_each_request_gets_its_own_id(client):
    first = client.get("/accounts/login/")["X-Request-ID"]
    second = client.get("/accounts/login/")["X-Request-ID"]
    assert first != second and HEX_ID.fullmatch(first)


def test_an_exception_is_written_as_text_in_its_line(json_lines):
    try:
        raise ValueError("the PDF could not be rendered")
    except ValueError:
        logging.getLogger("invoicing.pdf").exception("render failed")
    (line,) = json_lines()
    assert line["level"] == "ERROR" and line["message"] == "render failed" and line["request_id"] is None
    assert (
        line["exception"].startswith("Traceback") and "ValueError: the PDF could not be rendered" in line["exception"]
    )


# --- the worker's task ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tasks_log_lines_carry_the_task(json_lines):
    logging.getLogger("tests.json_logs").warning("before the task")  # the first record connects the signals
    task_id = async_task("tests.test_json_logs.log_from_a_task", task_name="json-logs-check")  # Q sync: inline
    logging.getLogger("tests.json_logs").warning("after the task")
    lines = {line["message"]: line for line in json_lines() if line["logger"] == "tests.json_logs"}
    inside = lines["inside the task"]
    assert (inside["task_id"], inside["task_name"]) == (task_id, "json-logs-check")
    assert inside["task_func"] == "tests.test_json_logs.log_from_a_task" and inside["request_id"] is None
    assert "task_id" not in lines["before the task"] and "task_id" not in lines["after the task"]
    assert logs.task_var.get() is None
