"""Settings read from the environment, checked once at start-up."""

import contextlib
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from webapp.outbound import parse_networks


class ConfigError(ValueError):
    """A setting that cannot work; the message names it and says why."""


TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def _flag(env, name, default):
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value (use true or false)")


def _int(env, name, default, minimum=0):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _choice(env, name, default, choices):
    value = (env.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={env.get(name)!r}: use one of {', '.join(choices)}")
    return value


def _metrics_token(env) -> str:
    token = env.get("METRICS_TOKEN", "").strip()
    if token and len(token) < 16:
        raise ConfigError("METRICS_TOKEN is too short: use at least 16 random characters")
    return _not_placeholder("METRICS_TOKEN", token)


def _check_multiproc_dir(env) -> None:
    """PROMETHEUS_MULTIPROC_DIR (webapp/metrics.py), when set, must be a directory this process can write."""
    directory = env.get("PROMETHEUS_MULTIPROC_DIR", "")
    if directory and not (os.path.isdir(directory) and os.access(directory, os.W_OK | os.X_OK)):
        raise ConfigError(
            f"PROMETHEUS_MULTIPROC_DIR={directory!r} is not a writable directory (create it empty before starting)"
        )


# Words that mark an example's placeholder (deploy/oneslot.env.example has "change-me-…"): a secret
# that still holds one is public, so OneSlot refuses to start with it instead of signing links with it.
_PLACEHOLDERS = ("change-me", "changeme", "change_me", "replace-me")


def _not_placeholder(name: str, value: str) -> str:
    if any(word in value.lower() for word in _PLACEHOLDERS):
        raise ConfigError(f"{name} is still the example's placeholder: set it to random characters of your own")
    return value


def _secret_key(env, instance_path: Path) -> str:
    """Use SECRET_KEY, or one generated once and kept in instance/ so sessions survive restarts."""
    if env.get("SECRET_KEY"):
        if len(env["SECRET_KEY"]) < 16:
            raise ConfigError("SECRET_KEY is too short: use at least 16 random characters")
        return _not_placeholder("SECRET_KEY", env["SECRET_KEY"])
    key_file = instance_path / "secret_key"
    if key_file.exists():
        _owner_only(key_file, 0o600)
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    # Created with owner-only permissions: the key signs every session.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _secret_key_fallbacks(env) -> list[str]:
    """Older keys still accepted (comma-separated, newest first): links and sessions made under them keep
    working while everything new uses SECRET_KEY. Remove a key to kill everything made under it."""
    keys = [key.strip() for key in env.get("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()]
    if any(len(key) < 16 for key in keys):
        raise ConfigError("SECRET_KEY_FALLBACKS: every key must be at least 16 characters")
    return [_not_placeholder("SECRET_KEY_FALLBACKS", key) for key in keys]


def _encryption_key(env) -> str:
    """A key for the secrets OneSlot keeps (calendar passwords, feed addresses, webhook keys) apart from
    SECRET_KEY: empty (the default) derives them from SECRET_KEY."""
    key = env.get("ENCRYPTION_KEY", "").strip()
    if key and len(key) < 16:
        raise ConfigError("ENCRYPTION_KEY is too short: use at least 16 random characters")
    return _not_placeholder("ENCRYPTION_KEY", key) if key else key


def _owner_only(path: Path, mode: int) -> None:
    """Take group and other permissions off a path we made earlier (installs older than this rule)."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(mode)
    except (FileNotFoundError, PermissionError):
        pass  # not there yet, or not ours to change: its owner decides


def _private_sqlite_file(database: str | None) -> None:
    """Create the SQLite file readable by its owner only; SQLite gives its -wal and -shm files the same mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite says "unable to open database file" itself
    # An empty file is an empty SQLite database: made here, it never exists with the umask's mode.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        _owner_only(file, 0o600)


def _database_url(env, instance_path: Path) -> str:
    url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'oneslot.db'}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL={url!r} is not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        _private_sqlite_file(parsed.database)
    # Plain postgresql:// and postgres:// mean the psycopg 3 driver we ship.
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(f"DATABASE_URL: {parsed.get_backend_name()} is not supported (use sqlite or postgresql)")
    return parsed.render_as_string(hide_password=False)


# libpq's watch on a PostgreSQL server that stops answering (a hung host, a partition): keepalive probes
# after 5 s of silence, every 2 s, and data left unacknowledged for 10 s, end a connection in about ten
# seconds instead of the system's minutes to hours. A slow query is not cut: the server's side answers.
PG_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # milliseconds
}


def _engine_options(env, url: str) -> dict:
    """Pre-ping pooled connections; on PostgreSQL, give up connecting after DATABASE_CONNECT_TIMEOUT
    seconds and watch connections with PG_KEEPALIVES, unless DATABASE_URL's query sets an option itself."""
    connect_timeout = _int(env, "DATABASE_CONNECT_TIMEOUT", 5, minimum=2)  # libpq's own floor is 2 s
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return {"pool_pre_ping": True}
    wanted = {"connect_timeout": connect_timeout, **PG_KEEPALIVES}
    return {"pool_pre_ping": True, "connect_args": {k: v for k, v in wanted.items() if k not in parsed.query}}


def _base_url(env) -> str:
    url = env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"BASE_URL={url!r} must be an absolute http(s) URL, e.g. https://book.example.com")
    return url


def _storage_uri(env) -> str:
    uri = env.get("RATELIMIT_STORAGE_URI") or "memory://"
    if urlsplit(uri).scheme not in {"memory", "redis", "rediss", "redis+sentinel", "redis+cluster"}:
        raise ConfigError(f"RATELIMIT_STORAGE_URI={uri!r}: use memory:// or a redis:// URL")
    return uri


def _networks(env, name) -> tuple:
    try:
        return parse_networks(env.get(name, ""))
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def load(env=None, instance_path=".") -> dict:
    """Build the Flask config from environment variables (see README, Configuration)."""
    env = os.environ if env is None else env
    instance_path = Path(instance_path)
    # Owner only: it holds the secret key and the SQLite database.
    instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(instance_path, 0o700)
    base_url = _base_url(env)
    secure_default = base_url.startswith("https://")
    secure = _flag(env, "SESSION_COOKIE_SECURE", secure_default)
    _check_multiproc_dir(env)
    database_url = _database_url(env, instance_path)
    mail_port = _int(env, "MAIL_PORT", 25, minimum=1)
    if mail_port > 65535:
        raise ConfigError(f"MAIL_PORT={mail_port} is not a port number")
    return {
        "SECRET_KEY": _secret_key(env, instance_path),
        "SECRET_KEY_FALLBACKS": _secret_key_fallbacks(env),
        "ENCRYPTION_KEY": _encryption_key(env),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(env, database_url),
        "BASE_URL": base_url,
        "MAIL_SERVER": env.get("MAIL_SERVER", ""),
        "MAIL_PORT": mail_port,
        "MAIL_USE_TLS": _flag(env, "MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _flag(env, "MAIL_USE_SSL", False),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "OneSlot <noreply@localhost>"),
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PREFERRED_URL_SCHEME": "https" if secure_default else "http",
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead, so a long edit is never lost
        "PAGE_SIZE": _int(env, "PAGE_SIZE", 50, minimum=1),
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,  # the CSV import takes files up to 10 MB
        "RATELIMIT_ENABLED": _flag(env, "RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": _storage_uri(env),
        "RATELIMIT_HEADERS_ENABLED": True,
        "WEBHOOK_TIMEOUT": _int(env, "WEBHOOK_TIMEOUT", 10, minimum=1),  # seconds, outgoing webhook steps
        # Days the worker keeps sent mail bodies and finished enrolments' step details (webapp/retention.py).
        "RETENTION_DAYS": _int(env, "RETENTION_DAYS", 90, minimum=1),
        # Internal networks an admin lets outgoing requests reach on purpose (see webapp/outbound.py).
        "OUTBOUND_ALLOWED_NETWORKS": _networks(env, "OUTBOUND_ALLOWED_NETWORKS"),
        # Connected calendars (webapp/hosts/sync.py): how often the worker reads them, how many days ahead,
        # when unread busy time counts as stale, and how long one read may take (seconds).
        "CALENDAR_SYNC_MINUTES": _int(env, "CALENDAR_SYNC_MINUTES", 5, minimum=1),
        "CALENDAR_SYNC_DAYS": _int(env, "CALENDAR_SYNC_DAYS", 90, minimum=1),
        "CALENDAR_STALE_AFTER_MINUTES": _int(env, "CALENDAR_STALE_AFTER_MINUTES", 360, minimum=1),
        "CALENDAR_TIMEOUT": _int(env, "CALENDAR_TIMEOUT", 20, minimum=1),
        # Operations. A worker's claims (mail, enrolments, calendar writes) last this long unless its
        # heartbeat renews them; a killed worker's claims are taken over after at most this long.
        "WORKER_LEASE_SECONDS": _int(env, "WORKER_LEASE_SECONDS", 45, minimum=5),
        # /readyz fails when the oldest due job (outbox or enrolment) waited longer than this.
        "READY_MAX_LAG_SECONDS": _int(env, "READY_MAX_LAG_SECONDS", 300, minimum=1),
        # /metrics answers only with this bearer token; empty (the default) turns it off.
        "METRICS_TOKEN": _metrics_token(env),
        # "text" (the default) or "json": one JSON object per log line, for log search.
        "LOG_FORMAT": _choice(env, "LOG_FORMAT", "text", ("text", "json")),
        # How many reverse proxies stand in front (nginx: 1); their X-Forwarded-* headers are believed.
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0, minimum=0),
    }
