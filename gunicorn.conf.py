"""gunicorn's settings, read by `gunicorn wsgi:app` run from this directory (see README, Deployment) and
by `flask serve` (`make run`).

The access log goes to standard output, with the secret part of `/book/…`, `/booking/…` and
`/hooks/<id>/…` replaced by [redacted] (webapp/logredact.py). Options on the command line still win.
"""

accesslog = "-"
logger_class = "webapp.logredact.GunicornLogger"

# Threads, not one request per process ("sync"): `make run` has no buffering proxy in front, so a slow
# client (a phone on a poor network sending its booking form) would hold a sync worker for as long as
# it takes, and a booking may wait up to 5 s on a host's connected calendar. With gthread a worker
# process keeps serving other requests meanwhile, and idle keep-alive connections hold no thread. The
# app is thread-safe (one database session per thread). `GUNICORN_CMD_ARGS="--threads 8"` changes it.
worker_class = "gthread"
threads = 4
