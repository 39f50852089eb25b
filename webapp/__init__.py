"""OneSlot: one-time booking links sent from automation workflows."""

from pathlib import Path

from flask import Flask

from webapp import config
from webapp import extensions as ext

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: settings from the environment, then `overrides` (tests), then blueprints."""
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

    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=str(ROOT / "migrations"))
    ext.login_manager.init_app(app)
    ext.csrf.init_app(app)
    ext.htmx.init_app(app)

    from webapp import auth, calendars, contacts, core, models  # noqa: F401  (models: the whole schema)

    core.init_app(app)
    auth.init_app(app)
    app.register_blueprint(calendars.bp)
    app.register_blueprint(contacts.bp)

    from webapp.cli import register

    register(app)
    return app
