"""Gunicorn settings for one Octoo Billing web node: `gunicorn -c deploy/gunicorn.conf.py octoo_billing.wsgi`.

Every value comes from the environment (the systemd unit's EnvironmentFile, see deploy/octoo.env.example), so
the same file serves every node; docs/deploy.md explains each choice.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Where this node listens: the load balancer (deploy/nginx/octoo.conf) reaches each node at its address.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# Sync workers: requests are short and database-bound, PDFs are rendered by the worker. 2 x cores + 1 per node
# unless WEB_CONCURRENCY (or GUNICORN_WORKERS) says otherwise.
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# A request may take this long (an office ZIP of 50 PDFs, a 500-line invoice's page) before its worker is killed
# and restarted; nginx's proxy_read_timeout is a little longer so gunicorn, not nginx, ends a stuck request.
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Behind nginx, which keeps its own upstream connections alive a little less than this.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle a worker after this many requests (with jitter so they do not all restart at once): bounds any slow
# memory growth (WeasyPrint, large querysets) without a visible pause.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Load Django once in the master and fork: workers share its memory and a broken deploy fails at start, not
# on the first request. Database connections are opened lazily after the fork (CONN_MAX_AGE), never shared.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") not in ("0", "false", "False", "")
# The workers' heartbeat files in RAM: on a disk-backed /tmp a slow fsync can make the master kill healthy workers.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", "/dev/shm" if os.path.isdir("/dev/shm") else None)
# Trust X-Forwarded-Proto (HTTPS) only from the load balancer's addresses (comma-separated).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Access log to stdout (journald collects it), with the request id nginx sets and the time taken in microseconds.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus rid=%({x-request-id}i)s xff="%({x-forwarded-for}i)s" "%(a)s"'
proc_name = os.environ.get("GUNICORN_PROC_NAME", "octoo-web")
# Gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl): two nodes on one machine
# would share it. Off unless a node is given a path of its own.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# Prometheus in multiprocess mode (ops app): a dead worker's live gauges are dropped from the shared directory.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):

    def child_exit(server, worker):
        try:
            from prometheus_client import multiprocess
        except ImportError:  # the metrics endpoint is optional
            return
        multiprocess.mark_process_dead(worker.pid)
