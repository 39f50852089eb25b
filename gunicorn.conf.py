"""gunicorn's settings, read by `gunicorn wsgi:app` run from this directory (see README, Deployment),
by `flask serve` (`make run`), and by deploy/oneslot-web.service (with `-c`).

gunicorn's own access log is off: the app logs one line per request itself (logger oneslot.request,
webapp/logs.py) with its request id, endpoint and admin, in LOG_FORMAT (text or json), with the secret
part of `/book/…`, `/booking/…` and `/hooks/<id>/…` replaced by [redacted] (webapp/logredact.py).
gunicorn's error lines use the same format. Options on the command line still win.

gunicorn believes X-Forwarded-Proto from 127.0.0.1 out of the box, so anyone on the machine could make
a plain request look like https. Here it trusts no forwarded header from anyone: whether a request
came through a proxy, and how many hops of X-Forwarded-* to believe, is `TRUSTED_PROXIES`' decision
(Werkzeug's ProxyFix in webapp.trust_proxies).

With PROMETHEUS_MULTIPROC_DIR set, a worker that exits is marked dead for /metrics (webapp/metrics.py).
"""

import os

from prometheus_client import multiprocess

accesslog = None
logger_class = "webapp.logs.GunicornLogger"
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

# Threads, not one request per process ("sync"): `make run` has no buffering proxy in front, so a slow
# client (a phone on a poor network sending its booking form) would hold a sync worker for as long as
# it takes, and a booking may wait up to 5 s on a host's connected calendar. With gthread a worker
# process keeps serving other requests meanwhile, and idle keep-alive connections hold no thread. The
# app is thread-safe (one database session per thread). `GUNICORN_CMD_ARGS="--threads 8"` changes it.
worker_class = "gthread"
threads = 4

# gunicorn 25+ opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl) that every
# gunicorn of that user shares; OneSlot is managed by signals (systemd, `flask serve`), so: none.
control_socket_disable = True


def child_exit(server, worker):
    """Let /metrics drop the live gauges of a worker that exited; its counters keep counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
