"""OneSlot: one-time booking links sent from automation workflows."""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import (
    api,
    auth,
    backup,
    branding,
    cli,
    config,
    core,
    dashboard,
    hosts,
    i18n,
    logredact,
    logs,
    mail,
    metrics,
    models,  # noqa: F401  (the whole schema, for Alembic and create_all())
    params,
    retention,
    serve,
    worker,
    workflows,
)
from webapp import extensions as ext
from webapp.booking import admin as booking_admin
from webapp.booking import views as booking_views
from webapp.calendars import views as calendar_views
from webapp.contacts import views as contact_views
from webapp.hosts import views as host_views

ROOT = Path(__file__).resolve().parent.parent

# Each registers its blueprints, hooks, task sources and commands through init_app(app), in this
# order: core's guard and headers first, then metrics (which counts events and times requests), then
# auth's admin loader; retention after the outbox (mail) and the enrolments (workflows), so that
# pruning runs last in each round of the worker.
# calendars, hosts, contacts and booking register through their views modules: their packages are imported
# by the other features' models, so they stay free of views.
FEATURES = (
    core,
    metrics,
    auth,
    branding,
    hosts,
    dashboard,
    calendar_views,
    host_views,
    contact_views,
    booking_views,
    booking_admin,
    mail,
    workflows,
    retention,
    worker,
    serve,
    backup,
    api,
    cli,
)


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: settings from the environment, then `overrides` (tests), then the features."""
    # Before anything logs: no log line of this process (werkzeug's, gunicorn's, ours) holds a secret URL.
    logredact.install()
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    overrides = dict(overrides or {})
    env = overrides.pop("ENV_VARS", None)
    try:
        app.config.from_mapping(config.load(env, overrides.get("INSTANCE_PATH", app.instance_path)))
    except config.ConfigError as exc:
        # One clear line instead of a traceback: wsgi servers and the CLI both stop here.
        raise SystemExit(f"OneSlot cannot start: {exc}") from None
    app.config.update(overrides)
    trust_proxies(app)
    params.register(app)  # before any blueprint: every <int:…> route gets the bounded converter

    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=str(ROOT / "migrations"))
    ext.login_manager.init_app(app)
    ext.csrf.init_app(app)
    ext.htmx.init_app(app)
    ext.mail.init_app(app)
    ext.limiter.init_app(app)
    ext.babel.init_app(
        app, default_translation_directories=str(ROOT / "translations"), locale_selector=i18n.select_locale
    )
    i18n.register(app)

    logs.init_app(app)  # before the features: the request id exists before any hook may log or answer
    for feature in FEATURES:
        feature.init_app(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES proxies, take the client's address, the scheme and the host from the
    X-Forwarded-For / -Proto / -Host the proxies add (the last N hops, which a client cannot forge);
    with 0, believe none of them.

    gunicorn.conf.py turns gunicorn's own reading of X-Forwarded-Proto off, so this setting alone
    decides. X-Forwarded-Port and -Prefix are not read: OneSlot is served at the root of its host, on
    the scheme's port (deploy/nginx/oneslot-proxy.conf sends the headers read here).
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        proxied = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=0, x_prefix=0)
        app.wsgi_app = proxied  # type: ignore[method-assign]
