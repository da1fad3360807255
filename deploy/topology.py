"""`make topology`: the production topology on this one machine, loopback only (docs/deploy.md).

    PostgreSQL (the machine's cluster, its own database octoo_topology)
    Redis      (Debian's redis-server: its own instance on 127.0.0.1:6380, nothing saved to disk)
    nginx      (Debian's, its own generated config, 127.0.0.1:8080) -> gunicorn 127.0.0.1:8001 and :8002
    2 x qcluster (django-q2 workers, Redis broker)

Prepares the database (migrate, createcachetable, collectstatic, demo data when empty, schedules), starts every
process in a process group of its own, restarts one that dies (as systemd's Restart=always would), waits until
/readyz answers through nginx, prints the URL and the demo logins, and stops everything on Ctrl-C or SIGTERM.

The running topology is described in RUN_DIR/state.json (process ids, ports, the environment's file paths) so
that bench/loadtest.py can drive it and kill a node; only one topology runs at a time (RUN_DIR/topology.pid).
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
GUNICORN = str(Path(PY).parent / "gunicorn")

RUN_DIR = Path(os.environ.get("TOPOLOGY_RUN_DIR", "/tmp/octoo-topology"))
STATE_FILE = RUN_DIR / "state.json"
PID_FILE = RUN_DIR / "topology.pid"
DATABASE_URL = os.environ.get("TOPOLOGY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/octoo_topology")
REDIS_PORT = int(os.environ.get("TOPOLOGY_REDIS_PORT", "6380"))
NGINX_PORT = int(os.environ.get("TOPOLOGY_PORT", "8080"))
WEB_PORTS = (8001, 8002)
WORKERS = 2
URL = f"http://127.0.0.1:{NGINX_PORT}"
# Variables the caller may set to change the topology's app environment (the rest is fixed for loopback).
OVERRIDABLE = (
    "WEB_CONCURRENCY",
    "Q_WORKERS",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "OUTBOX_LEASE_SECONDS",
    "READYZ_HEARTBEAT_MINUTES",
    "PAYMENT_GATEWAY",
    "MEDIA_STORAGE",
    "MEDIA_S3_BUCKET",
    "MEDIA_S3_ENDPOINT_URL",
    "MEDIA_S3_REGION",
    "MEDIA_S3_ACCESS_KEY",
    "MEDIA_S3_SECRET_KEY",
    "MEDIA_S3_PREFIX",
    "MEDIA_S3_ADDRESSING_STYLE",
)


def log(message: str) -> None:
    print(f"[topology {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the app's environment ---------------------------------------------------------------------------------------


def _secret(name: str) -> str:
    path = RUN_DIR / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def app_env(*, redis_url: str | None = None) -> dict[str, str]:
    """The environment every web node and worker gets (deploy/octoo.env.example, set for loopback)."""
    origins = f"{URL},http://localhost:{NGINX_PORT}"
    env = {
        "DJANGO_SETTINGS_MODULE": "octoo_billing.settings",
        "DEBUG": "0",
        "SECRET_KEY": _secret("secret_key"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": origins,
        "SITE_URL": URL,
        "DATABASE_URL": DATABASE_URL,
        "Q_BROKER": redis_url or f"redis://127.0.0.1:{REDIS_PORT}/0",
        "Q_WORKERS": "2",
        "EMAIL_URL": f"filemail:///{RUN_DIR / 'mail'}",
        "MEDIA_ROOT": str(RUN_DIR / "media"),
        "METRICS_TOKEN": _secret("metrics_token"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "TRUSTED_PROXY_COUNT": "1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        # A worker killed mid-job leaves its claimed outbox rows to another worker once the lease runs out:
        # a minute here (a PDF renders in well under a second) so the load test's drain is not five minutes.
        "OUTBOX_LEASE_SECONDS": "60",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": "",  # nginx's access log has every request; keep the nodes' logs for errors
    }
    env.update({name: os.environ[name] for name in OVERRIDABLE if name in os.environ})
    return env


def child_env(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_")) and k != "DATABASE_URL"}
    return {**base, **extra}


def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PY, "manage.py", *args],
        cwd=ROOT,
        env=child_env(env),
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


# --- PostgreSQL, Redis, nginx -------------------------------------------------------------------------------------


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def postgres_ensure() -> bool:
    """Start the machine's PostgreSQL cluster if it is down (True: we started it). Creates the database."""
    started = False
    if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode != 0:
        clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout.split()
        if len(clusters) < 2:
            raise SystemExit("No PostgreSQL cluster found (apt-get install postgresql).")
        log(f"starting PostgreSQL {clusters[0]}/{clusters[1]}")
        subprocess.run(["pg_ctlcluster", clusters[0], clusters[1], "start"], check=True)
        started = True
        for _ in range(60):
            if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0:
                break
            time.sleep(0.5)
    import psycopg

    dbname = DATABASE_URL.rsplit("/", 1)[1]
    admin = DATABASE_URL.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone() is None:
            log(f"creating database {dbname}")
            conn.execute(f'CREATE DATABASE "{dbname}"')
    return started


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("nginx is missing: sudo apt-get install -y nginx")
    log("installing Debian's nginx")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], **quiet).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], check=True, **quiet)
    return shutil.which("nginx") or "/usr/sbin/nginx"


def static_root() -> Path:
    return ROOT / "staticfiles"  # settings.STATIC_ROOT


def max_body_bytes() -> int:
    return int(os.environ.get("SUPPORTING_DOCUMENT_MAX_BYTES", str(10 * 1024 * 1024)))


def nginx_conf() -> str:
    """deploy/nginx/octoo.conf's site, for loopback: plain HTTP on 127.0.0.1:8080, the two local nodes."""
    run = RUN_DIR / "nginx"
    upstream = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in WEB_PORTS)
    body_mb = -(-max_body_bytes() // (1024 * 1024)) + 1  # the document plus the form around it
    user = "user www-data;" if os.geteuid() == 0 else ""
    return f"""# Generated by deploy/topology.py from deploy/nginx/octoo.conf's directives: loopback only.
{user}
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    map $http_x_request_id $octoo_request_id {{ default $http_x_request_id; "" $request_id; }}
    log_format octoo '$remote_addr "$request" $status $body_bytes_sent $request_time '
                     'upstream=$upstream_addr upstream_status=$upstream_status rid=$octoo_request_id';
    access_log {run}/access.log octoo;
    sendfile on;
    server_tokens off;
    upstream octoo_web {{
{upstream}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{NGINX_PORT};
        server_name 127.0.0.1 localhost;
        client_max_body_size {body_mb}m;
        location /static/ {{
            alias {static_root()}/;
            expires 30d;
            add_header Cache-Control "public, immutable";
            access_log off;
        }}
        location = /healthz {{
            proxy_pass http://octoo_web;
            proxy_set_header Host $host;
            access_log off;
        }}
        location / {{
            proxy_pass http://octoo_web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-ID $octoo_request_id;
            # The app echoes the id too: hide its copy so the response carries one, even on nginx's own errors.
            proxy_hide_header X-Request-ID;
            add_header X-Request-ID $octoo_request_id always;
            proxy_connect_timeout 2s;
            proxy_read_timeout 75s;
            proxy_next_upstream error timeout http_502 http_504;
            proxy_next_upstream_tries 2;
            proxy_next_upstream_timeout 10s;
        }}
    }}
}}
"""


# --- supervised processes -----------------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _own_group_dying_with_parent():
    """In the child, before exec: die (SIGTERM) when the topology process dies, even by SIGKILL: no orphans."""
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Service:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], *, stop_signal=signal.SIGTERM, fresh_dir=None):
        self.name, self.argv, self.env, self.stop_signal = name, argv, env, stop_signal
        self.fresh_dir: Path | None = fresh_dir  # emptied before each start
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.started_at = 0.0
        self.died_at: float | None = None

    def start(self) -> None:
        if self.fresh_dir is not None:
            shutil.rmtree(self.fresh_dir, ignore_errors=True)
            self.fresh_dir.mkdir(parents=True)
        logfile = open(RUN_DIR / "logs" / f"{self.name}.log", "ab")  # noqa: SIM115 - kept by the child
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=child_env(self.env),
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped (or killed) as a whole
            preexec_fn=_own_group_dying_with_parent,
        )
        logfile.close()
        self.started_at, self.died_at = time.time(), None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop_begin(self) -> None:
        """Ask the main process to stop (it stops its own workers, as under systemd's KillMode=mixed)."""
        if self.alive():
            os.kill(self.proc.pid, self.stop_signal)

    def stop_end(self, deadline: float) -> None:
        """Wait until ``deadline`` for the main process, then SIGKILL whatever is left of its process group."""
        if self.proc is None:
            return
        try:
            self.proc.wait(max(deadline - time.time(), 0.1))
        except subprocess.TimeoutExpired:
            log(f"{self.name} did not stop in time: killed")
        self.signal_group(signal.SIGKILL)  # forked workers left behind, if any
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            log(f"{self.name} did not stop")

    def state(self) -> dict:
        return {
            "pid": self.proc.pid if self.proc else None,
            "alive": self.alive(),
            "restarts": self.restarts,
            "started_at": self.started_at,
        }


class Topology:
    def __init__(self):
        self.services: list[Service] = []
        self.stopping = False
        self.started_postgres = False
        self.redis_url = ""

    # preparing

    def prepare(self) -> dict[str, str]:
        for sub in ("logs", "mail", "media", "nginx", "prometheus"):
            (RUN_DIR / sub).mkdir(parents=True, exist_ok=True)
        self.started_postgres = postgres_ensure()
        self.redis_start()
        env = app_env()
        log("migrate, createcachetable, collectstatic")
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "createcachetable")
        manage(env, "collectstatic", "--noinput", "-v", "0")
        log("demo data (seed_demo loads it once; a second time it only says so)")
        manage(env, "seed_demo", "--quiet")
        manage(env, "setup_schedules")
        return env

    def redis_start(self) -> None:
        """Our own Redis on REDIS_PORT (nothing saved to disk), unless one already answers there."""
        if redis_ping(REDIS_PORT):
            log(f"Redis already answers on 127.0.0.1:{REDIS_PORT}: using it")
            return
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(redis):
            raise SystemExit("redis-server is missing: sudo apt-get install -y redis-server")
        service = Service(
            "redis",
            [redis, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(RUN_DIR), "--daemonize", "no", "--protected-mode", "yes"],
            {},
        )
        self.services.append(service)
        service.start()
        log(f"started redis (pid {service.proc.pid}) on 127.0.0.1:{REDIS_PORT}")
        for _ in range(50):
            if redis_ping(REDIS_PORT):
                return
            time.sleep(0.1)
        raise SystemExit(f"Redis did not start; see {RUN_DIR}/logs/redis.log")

    def services_build(self, env: dict[str, str]) -> None:
        for n, port in enumerate(WEB_PORTS, 1):
            # Each node's own metrics directory, emptied at each (re)start as the systemd unit's RuntimeDirectory is.
            metrics = RUN_DIR / "prometheus" / f"web{n}"
            web_env = {
                **env,
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "GUNICORN_PROC_NAME": f"octoo-web{n}",
                "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            }
            argv = [GUNICORN, "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "octoo_billing.wsgi"]
            self.services.append(Service(f"web{n}", argv, web_env, fresh_dir=metrics))
        for n in range(1, WORKERS + 1):
            self.services.append(Service(f"worker{n}", [PY, "manage.py", "qcluster"], env))
        conf = RUN_DIR / "nginx" / "nginx.conf"
        conf.write_text(nginx_conf())
        nginx = nginx_binary()
        subprocess.run([nginx, "-t", "-q", "-c", str(conf), "-p", str(RUN_DIR / "nginx")], check=True)
        self.services.append(Service("nginx", [nginx, "-c", str(conf), "-p", str(RUN_DIR / "nginx")], {}))

    # running

    def state_write(self) -> None:
        state = {
            "url": URL,
            "pid": os.getpid(),
            "run_dir": str(RUN_DIR),
            "database_url": DATABASE_URL,
            "redis_url": f"redis://127.0.0.1:{REDIS_PORT}/0",
            "web_ports": list(WEB_PORTS),
            "mail_dir": str(RUN_DIR / "mail"),
            "media_root": str(RUN_DIR / "media"),
            "metrics_token": _secret("metrics_token"),
            "services": {s.name: s.state() for s in self.services},
        }
        tmp = STATE_FILE.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(STATE_FILE)

    def supervise_once(self) -> None:
        """Restart a service that died (1 s later, as systemd's RestartSec=1)."""
        changed = False
        for service in self.services:
            if service.alive() or self.stopping:
                continue
            if service.died_at is None:
                service.died_at = time.time()
                log(f"{service.name} (pid {service.proc.pid}) exited with {service.proc.returncode}; restarting")
                changed = True
            elif time.time() - service.died_at >= 1:
                service.restarts += 1
                service.start()
                log(f"{service.name} restarted (pid {service.proc.pid})")
                changed = True
        if changed:
            self.state_write()

    def wait_ready(self, timeout: float = 180) -> str:
        """Until /readyz answers 200 through nginx ("ready"); "login" when the app has no /readyz yet."""
        deadline = time.time() + timeout
        last = ""
        while time.time() < deadline:
            self.supervise_once()
            status = http_status(f"{URL}/readyz")
            if status == 200:
                return "ready"
            if status == 404 and http_status(f"{URL}/accounts/login/") == 200:
                return "login"
            last = f"/readyz answered {status}"
            time.sleep(1)
        raise SystemExit(f"the topology did not become ready in {timeout:.0f} s ({last}); logs in {RUN_DIR}/logs")

    def stop(self) -> None:
        self.stopping = True
        # nginx first (no new requests), then the web nodes and workers together, Redis last.
        for group in (
            [s for s in self.services if s.name == "nginx"],
            [s for s in self.services if s.name not in ("nginx", "redis")],
            [s for s in self.services if s.name == "redis"],
        ):
            for service in group:
                if service.alive():
                    log(f"stopping {service.name} (pid {service.proc.pid})")
                service.stop_begin()
            deadline = time.time() + 20
            for service in group:
                service.stop_end(deadline)
        if self.started_postgres:
            log("PostgreSQL was started by the topology and is left running (other databases may use it)")
        STATE_FILE.unlink(missing_ok=True)
        PID_FILE.unlink(missing_ok=True)


def http_status(url: str, timeout: float = 5) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def running_state() -> dict | None:
    """The running topology's state (None when none runs)."""
    try:
        state = json.loads(STATE_FILE.read_text())
        os.kill(state["pid"], 0)
    except (OSError, ValueError, KeyError):
        return None
    return state


def main() -> None:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    if running_state() is not None:
        raise SystemExit(f"A topology is already running (state in {STATE_FILE}); stop it first (Ctrl-C).")
    PID_FILE.write_text(str(os.getpid()))
    topology = Topology()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        env = topology.prepare()
        topology.services_build(env)
        for service in topology.services:
            if service.proc is None:
                service.start()
                log(f"started {service.name} (pid {service.proc.pid})")
        topology.state_write()
        how = topology.wait_ready()
        topology.state_write()
        if how == "login":
            log("NOTE: the app has no /readyz yet: waited for the sign-in page instead")
        print(
            f"\nOctoo Billing topology ready: {URL}/  (nginx -> gunicorn :{WEB_PORTS[0]} and :{WEB_PORTS[1]}, "
            f"{WORKERS} qcluster workers, Redis :{REDIS_PORT}, PostgreSQL {DATABASE_URL.rsplit('/', 1)[1]})\n"
            f"Logs in {RUN_DIR}/logs and {RUN_DIR}/nginx; e-mails in {RUN_DIR}/mail. Ctrl-C stops everything.",
            flush=True,
        )
        subprocess.run([PY, "manage.py", "demo_logins"], cwd=ROOT, env=child_env(env))
        print("READY", flush=True)
        while True:
            topology.supervise_once()
            time.sleep(0.5)
    except KeyboardInterrupt:
        log("stopping")
    except subprocess.CalledProcessError as error:
        log(f"failed: {' '.join(map(str, error.cmd[1:]))} exited with {error.returncode}; stopping")
        raise SystemExit(1) from None
    finally:
        topology.stop()
        log("stopped")


if __name__ == "__main__":
    main()
