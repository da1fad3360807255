"""`make loadtest`: drive the multi-node topology (deploy/topology.py) for a few minutes, kill one web node and one
worker mid-run, then check the database's invariants and write a section of bench/results.md.

Loopback only, standard library only (http.client and threads), bounded: it stops by itself after
LOADTEST_SECONDS (default 180; LOADTEST_SHORT=1: 75). It starts the topology when none runs, and stops it after.

Simulated users, each signed in through the real sign-in form (CSRF token from the form):
- staff browsing the office: dashboard, AR list pages, invoice pages, customers, runs, the aging report;
- billing clerks making manual draft invoices and recording payments (check) on open invoices;
- billing admins issuing drafts (only a billing admin may issue; a clerk's drafts wait for them) and starting
  one "Run AR now" from the office, which the workers run;
- customers paying open invoices in the portal with the simulated gateway's card 4242 4242 4242 4242.

At 40 % of the run one web node and one worker are killed (SIGKILL to their process groups); the topology restarts
them as systemd would. An error is a refused connection, a 5xx or an unexpected status; every one is retried (up to
5 times) and counted inside or outside the kill window (from the kill until both are back, plus 5 s).

Afterwards, once the workers have drained the outbox (bounded wait), the invariants of the invoices issued during
the run: numbers without duplicates or gaps per series, no proforma on two live invoices, and every issued invoice
with exactly one stored PDF and, when its customer gets invoices by e-mail, exactly one e-mail (counted in the files
the workers' file e-mail backend wrote). The checks are plain functions (``numbering_problems``,
``proforma_problems``, ``delivery_problems``) tested in tests/test_deploy.py.
"""

from __future__ import annotations

import datetime
import html.parser
import http.client
import http.cookies
import importlib.util
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.md"
SECTION_TITLE = "## Load test (topology: nginx + 2 gunicorn + 2 qcluster, PostgreSQL, Redis)"
SHORT = os.environ.get("LOADTEST_SHORT", "") not in ("", "0")
DURATION = float(os.environ.get("LOADTEST_SECONDS", "75" if SHORT else "180"))
DRAIN_SECONDS = float(os.environ.get("LOADTEST_DRAIN_SECONDS", "300"))
KILL_AT = 0.4  # of the run
AR_SERVICES = int(os.environ.get("LOADTEST_AR_SERVICES", "40"))  # per partner, for the office's AR run to bill
RETRIES = 5
CARD = "4242 4242 4242 4242"
PASSWORD = "demo12345"  # demo.people.DEMO_PASSWORD


def topology_module():
    """deploy/topology.py, loaded by path (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("octoo_topology", ROOT / "deploy" / "topology.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- results.md: the load test's section, kept across `make bench` ------------------------------------------------


def section_split(text: str) -> tuple[str, list[str]]:
    """(the text without the load test's section, that section's lines). The section runs from its heading to the
    next heading of level 1 or 2, or the end."""
    lines = text.splitlines()
    if SECTION_TITLE not in lines:
        return text, []
    start = lines.index(SECTION_TITLE)
    end = start + 1
    while end < len(lines) and not re.match(r"#{1,2} ", lines[end]):
        end += 1
    rest = lines[:start] + lines[end:]
    section = lines[start:end]
    while section and not section[-1].strip():
        section.pop()
    return "\n".join(rest).rstrip() + "\n" if rest else "", section


def section_write(section: list[str], path: Path = RESULTS) -> None:
    """Replace the previous load test's section (if any) with this one, at the end of the file."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    rest, _old = section_split(text)
    path.write_text(rest.rstrip() + "\n\n" + "\n".join(section).rstrip() + "\n")


# --- a small browser: cookies, forms, links ------------------------------------------------------------------------


class Page(html.parser.HTMLParser):
    """The forms (action, id, fields, select options) and links of an HTML page."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.links: list[str] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = {"action": a.get("action", ""), "id": a.get("id", ""), "method": a.get("method", "get")}
            self._form.update(fields=[], options={})
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "file") or (kind in ("checkbox", "radio") and "checked" not in a):
                return
            self._form["fields"].append([a["name"], a.get("value", "on" if kind == "checkbox" else "")])
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self._form["options"][self._select] = []
            self._form["fields"].append([self._select, None])
        elif tag == "option" and self._select:
            self._form["options"][self._select].append(a.get("value", ""))
            if "selected" in a:
                self._set(self._select, a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form["fields"].append([a["name"], ""])

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._set(self._textarea, data, append=True)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select and self._form is not None:
            options = self._form["options"][self._select]
            if self._get(self._select) is None:
                self._set(self._select, options[0] if options else "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def _get(self, name):
        return next((v for n, v in self._form["fields"] if n == name), None)

    def _set(self, name, value, append=False):
        for entry in self._form["fields"]:
            if entry[0] == name:
                entry[1] = (entry[1] or "") + value if append else value
                return

    def form(self, *, action_re: str = "", form_id: str = "") -> dict | None:
        for form in self.forms:
            if form_id and form["id"] != form_id:
                continue
            if action_re and not re.search(action_re, form["action"]):
                continue
            return form
        return None


def form_data(form: dict, **values) -> dict[str, str]:
    """The form's fields as the browser would post them, with ``values`` set (matched on the field name's end)."""
    data = {name: value or "" for name, value in form["fields"]}
    for key, value in values.items():
        for name in list(data):
            if name == key or name.endswith(f"-{key}"):
                data[name] = value
        if key not in data and not any(n.endswith(f"-{key}") for n in data):
            data[key] = value
    return data


class Failure(Exception):
    pass


@dataclass
class Stats:
    started: float = field(default_factory=time.time)
    latencies: dict = field(default_factory=lambda: defaultdict(list))
    errors: list = field(default_factory=list)  # (time, kind, detail, retried-and-recovered)
    unrecovered: list = field(default_factory=list)
    refusals: dict = field(default_factory=lambda: defaultdict(int))  # app-level "no" (a form error): not errors
    actions: dict = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)
    window: list = field(default_factory=list)  # [(start, end)]

    def record(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)

    def error(self, kind: str, detail: str) -> None:
        with self.lock:
            self.errors.append((time.time(), kind, detail))

    def count(self, what: str, table: str = "actions") -> None:
        with self.lock:
            getattr(self, table)[what] += 1


class Browser:
    """One signed-in user: a keep-alive connection to nginx, cookies, retries."""

    def __init__(self, base: str, stats: Stats, username: str):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.stats, self.username = stats, username
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def _once(self, method: str, path: str, data: dict | None) -> tuple[int, dict, str]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"User-Agent": f"octoo-loadtest ({self.username})"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{self.host}:{self.port}{path}"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except Exception:
            self.conn.close()
            self.conn = None
            raise
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def call(self, kind: str, method: str, path: str, data: dict | None = None, ok=(200,)) -> tuple[int, dict, str]:
        """A request, timed under ``kind``; a failed attempt is an error, retried (the same form data: every POST
        the test makes is safe to repeat: one-time keys, expected statuses)."""
        for attempt in range(1, RETRIES + 1):
            start = time.perf_counter()
            try:
                status, headers, text = self._once(method, path, data)
            except Exception as exc:  # noqa: BLE001 - any transport failure counts as an error
                detail = f"{type(exc).__name__}: {exc}"
            else:
                if status in ok:
                    self.stats.record(kind, time.perf_counter() - start)
                    return status, headers, text
                detail = f"HTTP {status}"
            self.stats.error(kind, f"{method} {path}: {detail} (attempt {attempt})")
            time.sleep(0.5 * attempt)
        self.stats.unrecovered.append((time.time(), kind, f"{method} {path}"))
        raise Failure(f"{method} {path} failed {RETRIES} times")

    def get(self, kind: str, path: str) -> Page:
        return Page(self.call(kind, "GET", path)[2])

    def post_form(self, kind: str, page_path: str, form: dict, data: dict) -> tuple[int, dict, str]:
        action = form["action"] or page_path
        return self.call(kind, "POST", action, data, ok=(200, 302))

    def login(self) -> None:
        page = self.get("sign-in form", "/accounts/login/")
        form = page.form(action_re=r"/accounts/login/")
        status, headers, _ = self.post_form(
            "sign-in (POST)", "/accounts/login/", form, form_data(form, username=self.username, password=PASSWORD)
        )
        if status != 302:
            raise Failure(f"{self.username} could not sign in")


def ids(page: Page, pattern: str) -> list[int]:
    return sorted({int(m.group(1)) for link in page.links if (m := re.fullmatch(pattern, link.split("?")[0]))})


# --- the users --------------------------------------------------------------------------------------------------


def invoice_form(b: Browser, rng: random.Random, status: str, action: str) -> tuple[str | None, dict | None]:
    """An AR invoice of ``status`` picked from the list, opened, and its ``action`` form (path, form); (None, None)
    when the list has none, (path, None) when the page shows no such form."""
    found = ids(b.get("office: AR list", f"/office/invoices/ar/?status={status}"), r"/office/invoices/(\d+)/")
    if not found:
        return None, None
    pk = rng.choice(found)
    path = f"/office/invoices/{pk}/"
    return path, b.get("office: invoice page", path).form(action_re=rf"/office/invoices/{pk}/{action}/$")


def staff_browse(b: Browser, rng: random.Random) -> None:
    step = rng.random()
    if step < 0.15:
        b.get("office: dashboard", "/office/")
    elif step < 0.5:
        page = b.get("office: AR list", rng.choice(["/office/invoices/ar/", "/office/invoices/ar/?status=pending"]))
        found = ids(page, r"/office/invoices/(\d+)/")
        if found:
            b.get("office: invoice page", f"/office/invoices/{rng.choice(found)}/")
    elif step < 0.7:
        b.get("office: other lists", rng.choice(["/office/customers/", "/office/payments/", "/office/proformas/"]))
    elif step < 0.85:
        b.get("office: runs", "/office/runs/")
    else:
        b.get("office: AR aging report", "/office/reports/aging/")


def clerk_work(b: Browser, rng: random.Random) -> None:
    if rng.random() < 0.5:  # a manual draft invoice
        page = b.get("office: new invoice form", "/office/invoices/new/")
        form = page.form(action_re=r"/office/invoices/new/$")
        if form is None:
            return
        options = [v for v in form["options"].get("customer", []) if v]
        if not options:
            return
        customer = rng.choice(options)
        # The invoice form itself (contact, terms, lines) comes once a customer is picked: posted to that address.
        path = f"/office/invoices/new/?customer={customer}"
        page = b.get("office: new invoice form", path)
        form = next((f for f in page.forms if f["method"] == "post" and "lines-TOTAL_FORMS" in dict(f["fields"])), None)
        if form is None:
            return
        cents = rng.randint(5000, 50000)
        data = form_data(
            form,
            customer=customer,
            **{
                "lines-0-description": f"Load test service {rng.randint(1, 10**6)}",
                "lines-0-quantity": "1",
                "lines-0-unit_price": f"{cents / 100:.2f}",
            },
        )
        status, headers, _ = b.post_form("office: save draft invoice", path, form, data)
        b.stats.count("drafts saved" if status == 302 else "draft refused by the form", "actions")
    else:  # a payment by check on an open invoice
        path, form = invoice_form(b, rng, "pending", "payments")
        if form is None:
            return
        data = form_data(
            form,
            amount=f"{rng.randint(100, 2000) / 100:.2f}",
            method="check",
            reference=f"LT{rng.randint(1, 10**8)}",
            received_on=datetime.date.today().isoformat(),
        )
        status, _h, _t = b.post_form("office: record payment", path, form, data)
        b.stats.count("payments recorded" if status == 302 else "payment refused by the form")


def admin_work(b: Browser, rng: random.Random) -> None:
    path, form = invoice_form(b, rng, "draft", "issue")
    if path is None:
        staff_browse(b, rng)
        return
    if form is None:
        return
    status, headers, _ = b.post_form("office: issue invoice", path, form, form_data(form))
    b.stats.count("issues submitted" if status == 302 else "issue refused")


def ar_run_start(b: Browser) -> None:
    page = b.get("office: runs", "/office/runs/")
    form = next(
        (f for f in page.forms if f["action"].endswith("/runs/start/") and ("kind", "ar") in map(tuple, f["fields"])),
        None,
    )
    if form is None:
        return
    status, _h, _t = b.post_form("office: start AR run", "/office/runs/", form, form_data(form))
    b.stats.count("AR runs started from the office" if status == 302 else "AR run refused")


def portal_pay(b: Browser, rng: random.Random) -> None:
    page = b.get("portal: invoices", "/portal/invoices/")
    found = ids(page, r"/portal/invoices/(\d+)/")
    rng.shuffle(found)
    for pk in found[:3]:
        path = f"/portal/invoices/{pk}/"
        page = b.get("portal: invoice page", path)
        form = page.form(form_id="pay-card-form")
        if form is None:
            continue
        data = form_data(form, number=CARD, expiry="12/30")
        data.pop("keep_on_file", None)
        status, _h, _t = b.post_form("portal: pay by card", path, form, data)
        b.stats.count("card payments in the portal" if status == 302 else "card payment refused")
        return
    if rng.random() < 0.3:
        b.get("portal: dashboard", "/portal/")


USERS = [
    # (role, username)
    ("browse", "northwind.clerk"),
    ("browse", "bluefin.admin"),
    ("clerk", "northwind.clerk"),
    ("clerk", "bluefin.clerk"),
    ("admin", "northwind.admin"),
    ("admin", "bluefin.admin"),
    ("portal", "harborview.ap"),
    ("portal", "cascobay.ap"),
    ("portal", "summit.frontdesk"),
]


def user_loop(role: str, username: str, base: str, stats: Stats, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    b = Browser(base, stats, username)
    try:
        b.login()
        if role == "admin":
            ar_run_start(b)
        while not stop.is_set():
            try:
                if role == "browse":
                    staff_browse(b, rng)
                elif role == "clerk":
                    clerk_work(b, rng)
                elif role == "admin":
                    admin_work(b, rng)
                else:
                    portal_pay(b, rng)
            except Failure:
                pass  # recorded as unrecovered; go on with the next step
            stop.wait(rng.uniform(0.1, 0.4))  # think time
    except Failure:
        pass


# --- work for the AR run ------------------------------------------------------------------------------------------


def billable_work_add(per_partner: int) -> dict:
    """Give the office's AR run something to bill: ``per_partner`` completed services per partner, copies of
    demo services (same request, provider, type and zone) moved into their customer's latest closed period, and
    their proformas made by the worker's sweep (run here). The demo data's own proformas are all invoiced."""
    import datetime as dt

    from django.utils import timezone

    from customers.models import Partner
    from invoicing.models import Service
    from invoicing.proformas import proformas_sweep
    from invoicing.schedules import closed_period

    made = 0
    for partner in Partner.objects.all():
        templates = (
            Service.objects.filter(partner=partner, status=Service.Status.COMPLETED, request__customer__is_active=True)
            .select_related("request__customer")
            .order_by("pk")[:per_partner]
        )
        for n, service in enumerate(templates):
            customer = service.request.customer
            _start, end = closed_period(customer.invoicing_schedule, timezone.localdate(timezone=partner.tzinfo))
            length = service.ends_at - service.starts_at
            starts = timezone.make_aware(dt.datetime.combine(end, dt.time(6 + n % 12, 7)), partner.tzinfo)
            service.pk = service.id = None
            service.external_ref = ""
            service.starts_at, service.ends_at = starts, starts + length
            service.outcome_published_at = starts + length
            service.save()
            made += 1
    report = proformas_sweep()
    return {"services": made, "proformas": report["created"]}


# --- the kill ---------------------------------------------------------------------------------------------------


def kill_and_wait(state_file: Path, stats: Stats, base: str, log) -> dict:
    """SIGKILL web2's and worker2's process groups; wait until the topology has them back (bounded)."""
    state = json.loads(state_file.read_text())
    before = {name: state["services"][name] for name in ("web2", "worker2")}
    start = time.time()
    for name, service in before.items():
        try:
            os.killpg(service["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
        log(f"killed {name} (process group {service['pid']})")
    back: dict[str, float] = {}
    port = state["web_ports"][1]
    deadline = start + 120
    while time.time() < deadline and len(back) < 2:
        time.sleep(0.25)
        try:
            services = json.loads(state_file.read_text())["services"]
        except (OSError, ValueError):
            continue
        if (
            "worker2" not in back
            and services["worker2"]["pid"] != before["worker2"]["pid"]
            and services["worker2"]["alive"]
        ):
            back["worker2"] = time.time() - start
        if "web2" not in back and services["web2"]["pid"] != before["web2"]["pid"]:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    back["web2"] = time.time() - start
                conn.close()
            except OSError:
                pass
    end = time.time() + 5
    stats.window.append((start, end))
    log(f"back: {back}")
    return {"killed_at": start - stats.started, "back": back, "window": end - start}


# --- what nginx saw -----------------------------------------------------------------------------------------------

UPSTREAM_RE = re.compile(r'" (\d{3}) .*? upstream=(.*?) upstream_status=(.*?) rid=')


def nginx_summary(log_path: Path, offset: int) -> dict:
    """From the topology's nginx access log past ``offset``: requests per web node, those nginx passed on to the
    other node (passive failover), and the 5xx it answered."""
    per_node: dict[str, int] = defaultdict(int)
    failover = server_errors = 0
    if not log_path.exists():
        return {"per node": {}, "failover": 0, "5xx": 0}
    with log_path.open("rb") as handle:
        handle.seek(offset)
        for raw in handle:
            match = UPSTREAM_RE.search(raw.decode("utf-8", "replace"))
            if match is None:
                continue
            status, upstreams = int(match.group(1)), [u.strip() for u in match.group(2).split(",")]
            per_node[upstreams[-1]] += 1
            failover += len(upstreams) > 1
            server_errors += status >= 500
    return {"per node": dict(sorted(per_node.items())), "failover": failover, "5xx": server_errors}


# --- invariants (Django, against the topology's database) -----------------------------------------------------


def number_counters() -> dict[tuple[int, str], int]:
    """The AR and AP number counters now: {(partner id, series): last number taken}."""
    from invoicing.models import NumberCounter

    rows = NumberCounter.objects.filter(series__in=["ar", "ap"]).values_list("partner_id", "series", "last_value")
    return {(partner_id, series): last for partner_id, series, last in rows}


def numbering_problems(*, counters_before: dict | None = None) -> tuple[list[str], dict]:
    """Duplicate or missing invoice numbers per partner and series (AR, AP).

    ``counters_before`` (``number_counters()`` at the start of the run): only the numbers taken since must all be
    on an invoice (an admin may have moved a series forward before); without it, the whole series from 1.
    Duplicates are looked for in the whole series either way."""
    from django.db.models import Count

    from invoicing.models import Invoice, NumberCounter

    problems, checked = [], 0
    issued = Invoice.objects.filter(sequence__isnull=False)
    for field_name in ("number", "sequence"):
        dupes = issued.values("partner_id", "kind", field_name).annotate(n=Count("id")).filter(n__gt=1)
        for row in dupes:
            problems.append(
                f"duplicate {field_name} {row[field_name]} ({row['kind'].upper()}, partner #{row['partner_id']}, "
                f"{row['n']} invoices)"
            )
    for counter in NumberCounter.objects.filter(series__in=["ar", "ap"]):
        series = issued.filter(partner_id=counter.partner_id, kind=counter.series)
        first = (counters_before or {}).get((counter.partner_id, counter.series), 0) + 1
        present = set(series.filter(sequence__gte=first).values_list("sequence", flat=True))
        expected = set(range(first, counter.last_value + 1))
        checked += len(expected)
        missing = sorted(expected - present)
        beyond = sorted(s for s in present if s > counter.last_value)
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            problems.append(f"missing {counter.series.upper()} numbers of partner #{counter.partner_id}: {shown}")
        if beyond:
            problems.append(f"{counter.series.upper()} numbers past the counter of partner #{counter.partner_id}")
    return problems, {"numbers checked": checked}


def proforma_problems() -> tuple[list[str], dict]:
    """A proforma on two live invoices of one kind, or live on a void invoice: billed twice."""
    from django.db.models import Count

    from invoicing.models import Invoice, InvoiceProforma

    problems = []
    live = InvoiceProforma.objects.filter(is_active=True)
    for row in live.values("proforma_id", "kind").annotate(n=Count("id")).filter(n__gt=1):
        problems.append(f"proforma #{row['proforma_id']} on {row['n']} live {row['kind'].upper()} invoices")
    for link in live.filter(invoice__status=Invoice.Status.VOID).values("proforma_id", "invoice_id"):
        problems.append(f"proforma #{link['proforma_id']} still live on void invoice #{link['invoice_id']}")
    return problems, {"proformas on invoices": live.values("proforma_id").distinct().count()}


MESSAGE_ID_RE = re.compile(rb"^Message-ID: *(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


def mail_message_ids(mail_dir: Path | None) -> dict[str, int]:
    """How many times each Message-ID appears in the file e-mail backend's files."""
    counts: dict[str, int] = defaultdict(int)
    if mail_dir is None or not mail_dir.exists():
        return counts
    for path in mail_dir.iterdir():
        if path.is_file():
            for match in MESSAGE_ID_RE.finditer(path.read_bytes()):
                counts[match.group(1).decode()] += 1
    return counts


def delivery_problems(*, since=None, mail_dir: Path | None = None) -> tuple[list[str], dict]:
    """Every invoice issued (since ``since``) has exactly one stored PDF (the file exists; stored once per the
    audit trail), and, when its customer gets invoices by e-mail, exactly one e-mail job, done, sent once (one
    ``send`` in the audit trail; with ``mail_dir``, its Message-ID in exactly one message the backend wrote)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Count

    from audit.models import AuditEvent
    from invoicing.models import Invoice, OutboxJob
    from invoicing.outbox import message_id

    invoices = Invoice.objects.exclude(status=Invoice.Status.DRAFT).select_related("customer")
    if since is not None:
        invoices = invoices.filter(issued_at__gte=since)
    invoices = list(invoices)
    pks = [i.pk for i in invoices]
    ct = ContentType.objects.get_for_model(Invoice)
    audit = defaultdict(int)
    for row in (
        AuditEvent.objects.filter(target_type=ct, target_id__in=pks, action__in=["pdf_stored", "send"])
        .values("target_id", "action")
        .annotate(n=Count("id"))
    ):
        audit[(row["target_id"], row["action"])] = row["n"]
    jobs = defaultdict(list)
    for job in OutboxJob.objects.filter(invoice_id__in=pks, kind=OutboxJob.Kind.EMAIL):
        jobs[job.invoice_id].append(job)
    mails = mail_message_ids(mail_dir) if mail_dir is not None else None
    problems: list[str] = []
    emailed = copies = 0
    for invoice in invoices:
        if not invoice.pdf:
            problems.append(f"{invoice.number}: no stored PDF")
        elif not invoice.pdf.storage.exists(invoice.pdf.name):
            problems.append(f"{invoice.number}: its PDF file {invoice.pdf.name} is missing")
        if invoice.pdf and audit[(invoice.pk, "pdf_stored")] != 1:
            problems.append(f"{invoice.number}: PDF stored {audit[(invoice.pk, 'pdf_stored')]} times")
        due = invoice.kind == Invoice.Kind.AR and invoice.customer is not None and invoice.customer.auto_send
        found = jobs.get(invoice.pk, [])
        if not due:
            if found:
                problems.append(f"{invoice.number}: e-mailed though its customer gets no e-mail")
            continue
        emailed += 1
        if len(found) != 1:
            problems.append(f"{invoice.number}: {len(found)} e-mail jobs")
            continue
        job = found[0]
        if job.status != OutboxJob.Status.DONE:
            problems.append(f"{invoice.number}: e-mail job {job.status} ({job.last_error[:80]})")
        if audit[(invoice.pk, "send")] != 1:
            problems.append(f"{invoice.number}: sent {audit[(invoice.pk, 'send')]} times (audit trail)")
        if mails is not None:
            n = mails.get(message_id(job), 0)
            if n == 0:
                problems.append(f"{invoice.number}: no e-mail written")
            elif n > 1:
                copies += 1
                problems.append(f"{invoice.number}: its e-mail was written {n} times")
    return problems, {"issued invoices checked": len(invoices), "with an e-mail due": emailed, "copies": copies}


def drain_wait(*, since, timeout: float, log) -> dict:
    """Wait (bounded) until the outbox has no open job for the invoices issued since ``since`` and no AR run is
    queued or running."""
    from invoicing.models import BillingRun, Invoice, OutboxJob

    start = time.time()
    open_jobs = runs = -1
    while time.time() - start < timeout:
        open_jobs = OutboxJob.objects.filter(
            status__in=[OutboxJob.Status.PENDING, OutboxJob.Status.RUNNING],
            invoice__in=Invoice.objects.filter(issued_at__gte=since),
        ).count()
        runs = BillingRun.objects.filter(
            created_at__gte=since, status__in=[BillingRun.Status.QUEUED, BillingRun.Status.RUNNING]
        ).count()
        if open_jobs == 0 and runs == 0:
            break
        time.sleep(2)
    made = [
        f"{r['kind'].upper()} run {r['status']}, {r['invoices_made']} invoices"
        + (f" ({r['schedule_name']})" if r["schedule_name"] else " (from the office)")
        for r in BillingRun.objects.filter(created_at__gte=since).values(
            "kind", "status", "invoices_made", "schedule_name"
        )
    ]
    return {"seconds": time.time() - start, "open jobs left": open_jobs, "runs open": runs, "runs": made}


# --- the report -------------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(q * (len(ordered) - 1))), len(ordered) - 1)] if ordered else 0.0


def machine() -> str:
    from unittest import mock

    with mock.patch.dict(os.environ):  # bench.run points DATABASE_URL at its own database when imported
        sys.path.insert(0, str(ROOT))
        from bench.run import machine as bench_machine
    return bench_machine()


def report(*, stats: Stats, elapsed: float, kill: dict, drain: dict, checks: list, load: str, nginx: dict) -> list[str]:
    total = sum(len(v) for v in stats.latencies.values())
    start, end = stats.window[0] if stats.window else (0, 0)
    inside = [e for e in stats.errors if start <= e[0] <= end]
    outside = [e for e in stats.errors if not start <= e[0] <= end]
    lines = [
        SECTION_TITLE,
        "",
        f"Run {datetime.datetime.now():%Y-%m-%d %H:%M} on {machine()}; load average before the run: {load}.",
        "",
        f"`make loadtest` ({'short mode, ' if SHORT else ''}{elapsed:.0f} s of load, {len(USERS)} simulated users "
        "with 0.1-0.4 s think time, keep-alive connections to nginx): staff browsing the office, clerks saving "
        "draft invoices and recording payments, admins issuing drafts (and starting an AR run from the office, per "
        "partner, which the workers run), "
        f"customers paying by card in the portal. Web nodes: gunicorn, {os.environ.get('WEB_CONCURRENCY', '2')} "
        "sync workers each; workers: qcluster, 2 processes each, Redis broker.",
        "",
        f"**{total / elapsed:.1f} requests/s** ({total:,} requests).",
        "",
        "| request | count | p50 | p95 |",
        "|---|---|---|---|",
    ]
    for kind in sorted(stats.latencies):
        values = stats.latencies[kind]
        lines.append(
            f"| {kind} | {len(values):,} | {pct(values, 0.5) * 1000:.0f} ms | {pct(values, 0.95) * 1000:.0f} ms |"
        )
    back = ", ".join(f"{name} back after {seconds:.1f} s" for name, seconds in sorted(kill.get("back", {}).items()))
    lines += [
        "",
        f"Kill: at {kill.get('killed_at', 0):.0f} s, SIGKILL to web node 2 and worker 2 (their whole process groups); "
        f"the topology restarted them ({back or 'NOT back'}); kill window {kill.get('window', 0):.1f} s.",
        "",
        f"Errors: {len(inside)} inside the kill window, **{len(outside)} outside**; every one retried, "
        f"{len(stats.unrecovered)} still failing after {RETRIES} attempts.",
    ]
    for when, kind, detail in (inside + outside)[:8]:
        where = "inside" if start <= when <= end else "OUTSIDE"
        lines.append(f"- {where} the window, {kind}: {detail}")
    nodes = ", ".join(f"{node} {count:,}" for node, count in nginx["per node"].items())
    lines += [
        "",
        f"nginx: requests answered per web node: {nodes or 'none logged'}; {nginx['failover']} passed on to the "
        f"other node after the first refused or dropped the connection (passive failover, idempotent requests); "
        f"{nginx['5xx']} answered with a 5xx.",
    ]
    done = ", ".join(f"{k} {v:,}" for k, v in sorted(stats.actions.items()))
    lines += [
        "",
        f"Work done: {done}.",
        "",
        f"Drain: the workers finished the run's outbox jobs and AR runs {drain['seconds']:.0f} s after the load "
        f"stopped (open jobs left: {drain['open jobs left']}, runs open: {drain['runs open']}). Billing runs "
        f"during the load: {'; '.join(drain['runs']) or 'none'}.",
        "",
        "| invariant (invoices issued during the run) | result |",
        "|---|---|",
    ]
    for name, (problems, facts) in checks:
        figures = ", ".join(f"{k} {v:,}" for k, v in facts.items())
        verdict = "ok" if not problems else f"**{len(problems)} problems**: " + "; ".join(problems[:5])
        lines.append(f"| {name} | {verdict} ({figures}) |")
    lines.append("")
    return lines


def main() -> None:
    def log(message: str) -> None:
        print(f"[loadtest {time.strftime('%H:%M:%S')}] {message}", flush=True)

    topology = topology_module()
    state = topology.running_state()
    ours = None
    if state is None:
        log("no topology running: starting it (make topology)")
        ours = subprocess.Popen(
            [topology.PY, str(ROOT / "deploy" / "topology.py")],
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def relay():
            for line in ours.stdout:
                if line.strip() == "READY":
                    ready.set()
                elif not line.startswith("{"):  # the app's JSON logs stay in the topology's log files
                    print(line, end="", flush=True)

        threading.Thread(target=relay, daemon=True).start()
        while not ready.wait(1):
            if ours.poll() is not None:
                raise SystemExit("the topology did not start")
        state = topology.running_state()
    try:
        run(topology, state, log)
    finally:
        if ours is not None:
            log("stopping the topology")
            os.kill(ours.pid, signal.SIGTERM)
            try:
                ours.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(ours.pid, signal.SIGKILL)


def run(topology, state: dict, log) -> None:
    os.environ.update(topology.app_env())
    os.environ["LOG_LEVEL"] = "ERROR"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    work = billable_work_add(AR_SERVICES) if AR_SERVICES else {"services": 0, "proformas": 0}
    log(f"work for the AR run: {work['services']} services, {work['proformas']} proformas")
    since = timezone.now()
    counters_before = number_counters()
    access_log = Path(state["run_dir"]) / "nginx" / "access.log"
    log_offset = access_log.stat().st_size if access_log.exists() else 0
    stats = Stats()
    stop = threading.Event()
    base = state["url"]
    threads = [
        threading.Thread(target=user_loop, args=(role, username, base, stats, stop, n), daemon=True)
        for n, (role, username) in enumerate(USERS)
    ]
    log(f"{len(USERS)} users for {DURATION:.0f} s against {base}")
    for thread in threads:
        thread.start()
    stop.wait(DURATION * KILL_AT)
    kill = kill_and_wait(Path(state["run_dir"]) / "state.json", stats, base, log)
    remaining = DURATION - (time.time() - stats.started)
    if remaining > 0:
        stop.wait(remaining)
    stop.set()
    for thread in threads:
        thread.join(90)
    elapsed = time.time() - stats.started
    log(f"load done: {sum(len(v) for v in stats.latencies.values())} requests in {elapsed:.0f} s; draining")
    connection.close()
    drain = drain_wait(since=since, timeout=DRAIN_SECONDS, log=log)
    checks = [
        ("no duplicate or missing invoice numbers per series", numbering_problems(counters_before=counters_before)),
        ("no proforma billed twice", proforma_problems()),
        (
            "exactly one stored PDF, and one e-mail when due",
            delivery_problems(since=since, mail_dir=Path(state["mail_dir"])),
        ),
    ]
    nginx = nginx_summary(access_log, log_offset)
    section = report(stats=stats, elapsed=elapsed, kill=kill, drain=drain, checks=checks, load=load, nginx=nginx)
    section_write(section)
    print("\n".join(section))
    failed = [name for name, (problems, _f) in checks if problems]
    outside = [e for e in stats.errors if not any(s <= e[0] <= t for s, t in stats.window)]
    if failed or outside or stats.unrecovered:
        raise SystemExit(f"load test FAILED: invariants {failed}, {len(outside)} errors outside the kill window")


if __name__ == "__main__":
    main()
