"""gunicorn's settings, read by `gunicorn wsgi:app` run from this directory (see README, Deployment).

The access log goes to standard output, with the secret part of `/book/…`, `/booking/…` and
`/hooks/<id>/…` replaced by [redacted] (webapp/logredact.py). Options on the command line still win.
"""

accesslog = "-"
logger_class = "webapp.logredact.GunicornLogger"
