"""The shipped nginx site (deploy/nginx/oneslot.conf, its proxy snippet included as it is) run by Debian's
nginx with a self-signed certificate in front of a real gunicorn with TRUSTED_PROXIES=1, all on loopback.

Through it the app sees https, the public host name and the client's own address: a client connects
from 127.0.0.2 (nginx then talks to gunicorn from 127.0.0.1), and the rate limit counts 127.0.0.2 alone,
whatever X-Forwarded-For it sends. A gunicorn with TRUSTED_PROXIES=0 believes no forwarded header,
not even from 127.0.0.1 (gunicorn's own default would)."""

import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests import nginx as nginx_config
from tests.conftest import database_url, empty_tables, free_port, make_app, wait_until_up
from tests.helpers import ROOT, stop_process
from webapp.extensions import db

pytestmark = pytest.mark.slow

NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
SITE = ROOT / "deploy" / "nginx" / "oneslot.conf"
SNIPPET = ROOT / "deploy" / "nginx" / "oneslot-proxy.conf"
HOST = "book.example.test"
FEED = "/feeds/hosts/no-such-feed.ics"  # public, limited to 60 a minute per client, 404 for this token


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    if not os.access(NGINX, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{NGINX} is missing: scripts/ensure-nginx.sh installs it")
        pytest.skip(f"{NGINX} is missing (scripts/ensure-nginx.sh, as root, installs it)")
    return NGINX


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for HOST and its key, made here with `cryptography`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def substitute(text: str, replacements: dict[str, str]) -> str:
    """Replace each piece of the shipped file, failing if one is no longer there (the test would
    otherwise quietly run something else than what we ship)."""
    for old, new in replacements.items():
        assert old in text, f"{SITE.name} no longer holds {old!r}"
        text = text.replace(old, new)
    return text


def main_config(folder: Path, site: Path) -> Path:
    """nginx's own config around the site: everything under `folder`, in the foreground."""
    return nginx_config.main_config(
        folder,
        f"""    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {folder}/access.log;
    include {site};
""",
        error_level="info",
        connections=64,
    )


def start_gunicorn(folder: Path, env: dict, name: str) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = folder / f"{name}.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [Path(sys.executable).with_name("gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,  # gunicorn.conf.py, as shipped
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_until_up(f"http://127.0.0.1:{port}", server, log)
    return server, port, log


@pytest.fixture(scope="module")
def stack(nginx_binary, tmp_path_factory):
    """gunicorn (TRUSTED_PROXIES=1) behind nginx running the shipped site; yields the ports and logs."""
    folder = tmp_path_factory.mktemp("behind-nginx")
    url = database_url(folder)
    app = make_app(folder, ENV_VARS={"DATABASE_URL": url})
    with app.app_context():
        empty_tables()
        db.engine.dispose()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "behind-nginx-secret-key-0123456789",
        "BASE_URL": f"https://{HOST}",
        "TRUSTED_PROXIES": "1",
        "RATELIMIT_ENABLED": "true",
        "RATELIMIT_STORAGE_URI": "memory://",  # one gunicorn worker: one count
    }
    gunicorn, app_port, gunicorn_log = start_gunicorn(folder, env, "gunicorn")
    cert, key = self_signed(folder)
    http_port, https_port = free_port(), free_port()
    site = folder / "oneslot.conf"
    site.write_text(
        substitute(
            SITE.read_text(),
            {
                "listen 80;": f"listen 127.0.0.1:{http_port};",
                "listen 80 default_server;": f"listen 127.0.0.1:{http_port} default_server;",
                "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
                "listen 443 ssl default_server;": f"listen 127.0.0.1:{https_port} ssl default_server;",
                "listen [::]:80;": "",
                "listen [::]:80 default_server;": "",
                "listen [::]:443 ssl http2;": "",
                "listen [::]:443 ssl default_server;": "",
                "server_name book.example.com;": f"server_name {HOST};",
                "/etc/letsencrypt/live/book.example.com/fullchain.pem": str(cert),
                "/etc/letsencrypt/live/book.example.com/privkey.pem": str(key),
                "/var/www/letsencrypt": str(folder),
                "server 127.0.0.1:8000;": f"server 127.0.0.1:{app_port};",
                "/opt/oneslot/app/static/": f"{ROOT / 'static'}/",
                "/etc/nginx/snippets/oneslot-proxy.conf": str(SNIPPET),
                "/var/log/nginx/oneslot.access.log": str(folder / "oneslot.access.log"),
            },
        )
    )
    config = main_config(folder, site)
    nginx = subprocess.Popen([nginx_binary, "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log")])
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
            break
        except OSError:
            if nginx.poll() is not None or time.monotonic() > deadline:
                stop_process(gunicorn)
                pytest.fail("nginx did not start:\n" + (folder / "error.log").read_text())
            time.sleep(0.1)
    yield {
        "folder": folder,
        "env": env,
        "http": http_port,
        "https": https_port,
        "cert": cert,
        "gunicorn_log": gunicorn_log,
        "nginx_log": folder / "oneslot.access.log",
    }
    stop_process(nginx)
    stop_process(gunicorn)


def https(
    stack, path: str, source: str = "127.0.0.2", headers: dict | None = None, sni: str = HOST, body: bytes | None = None
):
    """GET `path` (POST `body`) over TLS to nginx at 127.0.0.1, from the loopback address `source`, for
    Host HOST; returns (status, headers, body)."""
    context = ssl.create_default_context(cafile=str(stack["cert"]))
    raw = socket.create_connection(("127.0.0.1", stack["https"]), timeout=30, source_address=(source, 0))
    connection = http.client.HTTPSConnection(HOST, stack["https"], context=context, timeout=30)
    connection.sock = context.wrap_socket(raw, server_hostname=sni)
    try:
        method = "GET" if body is None else "POST"
        connection.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def logged(path: Path, needle: str, count: int) -> list[str]:
    """The lines of a log holding `needle`, once there are `count` of them (a server writes its access
    line after the response; give it a few seconds)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in path.read_text().splitlines() if needle in line]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def client(line: str) -> str | None:
    """The client's address in the app's request line ("… from=127.0.0.2", webapp/logs.py)."""
    found = re.search(r" from=(\S+)$", line)
    return found.group(1) if found else None


def test_plain_http_is_redirected_to_https(stack):
    connection = http.client.HTTPConnection("127.0.0.1", stack["http"], timeout=10, source_address=("127.0.0.2", 0))
    connection.request("GET", "/book/abc?lang=fr", headers={"Host": HOST})
    response = connection.getresponse()
    assert response.status == 301
    assert response.headers["Location"] == f"https://{HOST}/book/abc?lang=fr"
    connection.close()
    for path in ("/booking/s3cret-manage/cancel?x=1", "/hooks/7/s3cret-hook"):
        connection = http.client.HTTPConnection("127.0.0.1", stack["http"], timeout=10)
        connection.request("GET", path, headers={"Host": HOST})
        assert connection.getresponse().status == 301
        connection.close()
    # nginx's access log as shipped holds no secret part of a link, nor a query string.
    [book] = logged(stack["nginx_log"], "/book/", 1)
    assert '"GET /book/[redacted] HTTP/1.1" 301' in book and "abc" not in book and "lang" not in book
    [booking] = logged(stack["nginx_log"], "/booking/", 1)
    assert '"GET /booking/[redacted]/cancel HTTP/1.1" 301' in booking
    [hook] = logged(stack["nginx_log"], "/hooks/", 1)
    assert '"GET /hooks/7/[redacted] HTTP/1.1" 301' in hook
    # Mangled spellings too: any case, repeated slashes, dot segments, segments after the token.
    mangled = {
        "/BOOKING//s3cret-upper": "/BOOKING/[redacted]",
        "/booking/./s3cret-dot//cancel": "/booking/[redacted]/cancel",
        "/book/s3cret-more/../s3cret-again/x/": "/book/[redacted]/[redacted]",
        "//Hooks//7/s3cret-slash": "/hooks/7/[redacted]",
    }
    for path in mangled:
        connection = http.client.HTTPConnection("127.0.0.1", stack["http"], timeout=10)
        connection.request("GET", path, headers={"Host": HOST})
        assert connection.getresponse().status == 301
        connection.close()
    for shown in mangled.values():
        assert logged(stack["nginx_log"], f'"GET {shown} HTTP/1.1" 301', 1), shown
    assert "s3cret" not in stack["nginx_log"].read_text()


def test_a_name_that_is_not_ours_gets_no_tls_handshake(stack):
    with pytest.raises(ssl.SSLError):
        https(stack, "/healthz", sni="other.example.test")


def test_the_app_sees_https_and_the_public_host(stack):
    status, headers, body = https(stack, "/api/v1/openapi.json")
    assert status == 200
    # Built by url_for(_external=True) from what the request says: scheme and host as the client used them.
    assert json.loads(body)["servers"][0]["url"] == f"https://{HOST}/api/v1"
    # Sent only when the request is secure (webapp/core/security.py).
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    # An invitee's language cookie is Secure when the request is (webapp/i18n.py).
    status, headers, _ = https(stack, "/book/no-such-link?lang=fr")
    assert status == 404
    [cookie] = [value for name, value in headers.items() if name == "Set-Cookie" and "lang" in value]
    assert "Secure" in cookie


def test_a_body_up_to_the_apps_limit_reaches_the_app(stack):
    """nginx lets a body past 16 MB through, so the app's own limit answers with its own page."""
    form = b"email=" + b"x" * (16 * 1024 * 1024 + 1024)
    status, _, body = https(
        stack, "/login", body=form, headers={"Content-Type": "application/x-www-form-urlencoded"}, source="127.0.0.4"
    )
    assert status == 413
    assert b"What you sent is too large." in body


def test_the_rate_limit_counts_the_clients_address_not_a_forged_one(stack):
    for n in range(60):
        status, _, _ = https(stack, FEED, headers={"X-Forwarded-For": f"198.51.100.{n}"})
        assert status == 404, n
    status, _, _ = https(stack, FEED, headers={"X-Forwarded-For": "198.51.100.200"})
    assert status == 429
    # Another client, even one claiming to be 127.0.0.2, has its own count.
    assert https(stack, FEED, source="127.0.0.3")[0] == 404
    assert https(stack, FEED, source="127.0.0.3", headers={"X-Forwarded-For": "127.0.0.2"})[0] == 404
    # What the app recorded: its request line (webapp/logs.py) writes the request's REMOTE_ADDR after ProxyFix, the
    # client's, although every connection gunicorn accepted came from nginx at 127.0.0.1.
    lines = logged(stack["gunicorn_log"], "/feeds/hosts/", 63)
    assert sum(client(line) == "127.0.0.2" for line in lines) == 61
    assert sum(client(line) == "127.0.0.3" for line in lines) == 2
    assert not any(line.startswith(("127.0.0.1 ", "198.51.100.")) for line in lines)
    # nginx's log: the client's address too, and no token (the shipped log format redacts it).
    nginx_lines = logged(stack["nginx_log"], "/feeds/hosts/", 63)
    assert sum(line.startswith("127.0.0.2 ") for line in nginx_lines) == 61
    assert all('"GET /feeds/hosts/[redacted] HTTP/1.1" ' in line for line in nginx_lines)


def test_static_files_are_served_by_nginx(stack):
    status, headers, body = https(stack, "/static/css/app.css")
    assert status == 200
    assert body == (ROOT / "static" / "css" / "app.css").read_bytes()
    assert headers["Cache-Control"] == "public, max-age=3600"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "/static/" not in stack["gunicorn_log"].read_text()


def test_without_trusted_proxies_no_forwarded_header_is_believed(stack):
    """TRUSTED_PROXIES=0, and a client on the machine itself (127.0.0.1, which gunicorn trusts for
    X-Forwarded-Proto out of the box) talks to gunicorn directly with forged headers."""
    env = {**stack["env"], "TRUSTED_PROXIES": "0"}
    server, port, log = start_gunicorn(stack["folder"], env, "gunicorn-direct")
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "X-Forwarded-Host": "evil.example.test"}
        connection.request("GET", "/api/v1/openapi.json", headers={**forged, "X-Forwarded-For": "198.51.100.9"})
        response = connection.getresponse()
        body = response.read()
        connection.request("GET", "/book/no-such-link?lang=fr", headers=forged)
        invitee = connection.getresponse()
        invitee.read()
        connection.close()
    finally:
        stop_process(server)
    assert response.status == 200
    assert json.loads(body)["servers"][0]["url"] == f"http://127.0.0.1:{port}/api/v1"
    assert "Strict-Transport-Security" not in response.headers
    [cookie] = [value for name, value in invitee.headers.items() if name == "Set-Cookie" and "lang" in value]
    assert "Secure" not in cookie
    [line] = logged(log, "openapi.json", 1)
    assert client(line) == "127.0.0.1"


def test_nginx_accepts_the_shipped_site(nginx_binary, tmp_path):
    """`nginx -t` on deploy/nginx/oneslot.conf as shipped: only the certificate, the snippet's place and
    the folders nginx writes to are this test's."""
    cert, key = self_signed(tmp_path)
    site = tmp_path / "oneslot.conf"
    site.write_text(
        substitute(
            SITE.read_text(),
            {
                "/etc/letsencrypt/live/book.example.com/fullchain.pem": str(cert),
                "/etc/letsencrypt/live/book.example.com/privkey.pem": str(key),
                "/etc/nginx/snippets/oneslot-proxy.conf": str(SNIPPET),
            },
        )
    )
    config = main_config(tmp_path, site)
    result = subprocess.run(
        [nginx_binary, "-t", "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr
