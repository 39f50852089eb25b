"""gunicorn's settings, read by `gunicorn wsgi:app` run from this directory (see README, Deployment;
deploy/oneslot-web.service passes it with `-c`).

gunicorn's own access log is off: the app logs one line per request itself (logger oneslot.request,
webapp/logs.py) with its request id, endpoint and admin, in LOG_FORMAT (text or json), with the secret
part of `/book/…`, `/booking/…` and `/hooks/<id>/…` replaced by [redacted] (webapp/logredact.py).
gunicorn's error lines use the same format. Options on the command line still win.

gunicorn believes X-Forwarded-Proto from 127.0.0.1 out of the box, so anyone on the machine could make
a plain request look like https. Here it trusts no forwarded header from anyone: whether a request
came through a proxy, and how many hops of X-Forwarded-* to believe, is `TRUSTED_PROXIES`' decision
(Werkzeug's ProxyFix in webapp.trust_proxies).
"""

accesslog = None
logger_class = "webapp.logs.GunicornLogger"
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
