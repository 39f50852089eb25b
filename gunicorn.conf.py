"""gunicorn's settings, read by `gunicorn wsgi:app` run from this directory (see README, Deployment;
deploy/oneslot-web.service passes it with `-c`).

The access log goes to standard output, with the secret part of `/book/…`, `/booking/…` and
`/hooks/<id>/…` replaced by [redacted] (webapp/logredact.py). Options on the command line still win.

gunicorn believes X-Forwarded-Proto from 127.0.0.1 out of the box, so anyone on the machine could make
a plain request look like https. Here it trusts no forwarded header from anyone: whether a request
came through a proxy, and how many hops of X-Forwarded-* to believe, is `TRUSTED_PROXIES`' decision
(Werkzeug's ProxyFix in webapp.trust_proxies).
"""

accesslog = "-"
logger_class = "webapp.logredact.GunicornLogger"
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
