"""The files docs/deploy.md installs hold together: the settings file is valid for the app (read the way
systemd and the `oneslot` wrapper's shell read it), the units run what the repository has, and systemd
itself accepts them."""

import re
import shutil
import subprocess

import pytest

from tests.helpers import ROOT
from webapp import config

DEPLOY = ROOT / "deploy"


def env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them: comments and blank lines skipped, one
    pair of double quotes around a value taken off."""
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, value = line.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[key.strip()] = value
    return values


def test_the_settings_example_is_valid_and_reads_the_same_in_a_shell(tmp_path):
    text = (DEPLOY / "oneslot.env.example").read_text()
    values = env_file(text)
    # As shipped, the secret key is a placeholder the app refuses; docs/deploy.md's sed replaces it.
    with pytest.raises(config.ConfigError, match="SECRET_KEY is still the example's placeholder"):
        config.load(values, tmp_path / "instance")
    settings = config.load({**values, "SECRET_KEY": "0123456789abcdef" * 4}, tmp_path / "instance")
    assert settings["TRUSTED_PROXIES"] == 1
    assert settings["LOG_FORMAT"] == "json"
    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://oneslot@/oneslot")
    assert settings["RATELIMIT_STORAGE_URI"].startswith("redis://")
    assert settings["SESSION_COOKIE_SECURE"] is True
    # deploy/oneslot sources the same file with `set -a; . FILE`: every value must come out unchanged.
    names = sorted(values)
    script = 'set -a; . "$1"; set +a; for name in ' + " ".join(names) + '; do printenv "$name"; done'
    shell = subprocess.run(
        ["sh", "-c", script, "sh", str(DEPLOY / "oneslot.env.example")],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert shell.stdout.split("\n")[: len(names)] == [values[name] for name in names]


@pytest.mark.parametrize("unit", ["oneslot-web.service", "oneslot-worker.service"])
def test_the_units_run_what_the_repository_has(unit):
    text = (DEPLOY / unit).read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    assert settings["User"] == settings["Group"] == "oneslot"
    assert settings["WorkingDirectory"] == "/opt/oneslot/app"
    assert settings["EnvironmentFile"] == "/etc/oneslot/oneslot.env"
    assert settings["ReadWritePaths"] == "/opt/oneslot/app/instance"
    assert int(settings["TimeoutStopSec"]) >= 10
    assert settings["Restart"] in {"on-failure", "always"}
    command = settings["ExecStart"].split()
    assert command[0].startswith("/opt/oneslot/app/.venv/bin/")
    for path in command[1:]:
        if path.startswith("/opt/oneslot/app/"):
            assert (ROOT / path.removeprefix("/opt/oneslot/app/")).exists(), path


def test_the_web_unit_binds_where_nginx_proxies():
    web = (DEPLOY / "oneslot-web.service").read_text()
    site = (DEPLOY / "nginx" / "oneslot.conf").read_text()
    assert "--bind 127.0.0.1:8000" in web
    assert "server 127.0.0.1:8000;" in site
    assert "-c /opt/oneslot/app/gunicorn.conf.py" in web
    assert "include /etc/nginx/snippets/oneslot-proxy.conf;" in site


def test_systemd_accepts_the_units(tmp_path):
    """`systemd-analyze verify` on the units, pointed at this checkout and an existing user (it checks the
    directives and that the commands exist)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    for unit in ("oneslot-web.service", "oneslot-worker.service"):
        text = (DEPLOY / unit).read_text().replace("/opt/oneslot/app/.venv", str(ROOT / ".venv"))
        text = text.replace("/opt/oneslot/app", str(ROOT)).replace("=oneslot\n", "=root\n")
        (tmp_path / unit).write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", "./oneslot-web.service", "./oneslot-worker.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
