"""gunicorn's settings, read by `gunicorn wsgi:app` run from this directory (see README, Deployment).

gunicorn's own access log is off: the app logs one line per request itself (logger oneslot.request,
webapp/logs.py) with its request id, endpoint and admin, in LOG_FORMAT (text or json), with the secret
part of `/book/…`, `/booking/…` and `/hooks/<id>/…` replaced by [redacted] (webapp/logredact.py).
gunicorn's error lines use the same format. Options on the command line still win.
"""

accesslog = None
logger_class = "webapp.logs.GunicornLogger"
