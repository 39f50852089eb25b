"""gunicorn's settings, read by `gunicorn wsgi:app` run from this directory (see README, Deployment).

The access log goes to standard output, with the secret part of `/book/…`, `/booking/…` and
`/hooks/<id>/…` replaced by [redacted] (webapp/logredact.py). Options on the command line still win.
With PROMETHEUS_MULTIPROC_DIR set, a worker that exits is marked dead for /metrics (webapp/metrics.py).
"""

import os

from prometheus_client import multiprocess

accesslog = "-"
logger_class = "webapp.logredact.GunicornLogger"


def child_exit(server, worker):
    """Let /metrics drop the live gauges of a worker that exited; its counters keep counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
