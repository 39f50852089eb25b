"""OneSlot: one-time booking links sent from automation workflows."""

from pathlib import Path

from flask import Flask

from webapp import config, logredact
from webapp import extensions as ext

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: settings from the environment, then `overrides` (tests), then blueprints."""
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
    from webapp import params

    params.register(app)  # before any blueprint: every <int:…> route gets the bounded converter

    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=str(ROOT / "migrations"))
    ext.login_manager.init_app(app)
    ext.csrf.init_app(app)
    ext.htmx.init_app(app)
    ext.mail.init_app(app)
    ext.limiter.init_app(app)

    from webapp import auth, core, dashboard, mail, models, worker  # noqa: F401  (models: the whole schema)
    from webapp.booking import admin as booking_admin
    from webapp.booking import views as booking_views
    from webapp.calendars import views as calendar_views
    from webapp.contacts import views as contact_views

    core.init_app(app)
    auth.init_app(app)
    dashboard.init_app(app)
    app.register_blueprint(calendar_views.bp)
    app.register_blueprint(contact_views.bp)
    app.register_blueprint(booking_views.bp)
    app.register_blueprint(booking_admin.links_bp)
    app.register_blueprint(booking_admin.bookings_bp)
    mail.init_app(app)
    from webapp import workflows

    workflows.init_app(app)
    from webapp import retention

    retention.init_app(app)  # after the outbox and the enrolments: pruning runs last in each round
    worker.register(app)

    from webapp import api

    api.init_app(app)

    from webapp.cli import register

    register(app)
    return app
