"""A real CalDAV server for the tests: Radicale (from PyPI) in its own process on 127.0.0.1, storage in
the test's tmp_path, htpasswd authentication. Only loopback traffic: the app under test must be told
OUTBOUND_ALLOWED_NETWORKS=127.0.0.0/8 to reach it.

    with radicale_server(tmp_path) as (url, username, password):
        calendar_url = make_calendar(url, username, password, "Work")

Stopping and starting again on the same `port` and folder keeps the calendars (a server that was down)."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from caldav.davclient import DAVClient

USERNAME, PASSWORD = "sam", "radicale-test-password"


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"radicale exited with {process.returncode}: {process.stderr and process.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"radicale did not listen on 127.0.0.1:{port} within {timeout} s")


@contextmanager
def radicale_server(tmp_path: Path, port: int | None = None) -> Iterator[tuple[str, str, str]]:
    """Run Radicale until the block ends; yields (its URL, a username, that user's password)."""
    port = port or free_port()
    folder = tmp_path / "radicale"
    folder.mkdir(exist_ok=True)
    (folder / "users").write_text(f"{USERNAME}:{PASSWORD}\n")
    config = folder / "config"
    config.write_text(
        "[server]\n"
        f"hosts = 127.0.0.1:{port}\n"
        "[auth]\n"
        "type = htpasswd\n"
        f"htpasswd_filename = {folder / 'users'}\n"
        "htpasswd_encryption = plain\n"
        "[rights]\n"
        "type = owner_only\n"
        "[storage]\n"
        f"filesystem_folder = {folder / 'collections'}\n"
        "[logging]\n"
        "level = warning\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}/", USERNAME, PASSWORD
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def client(url: str, username: str = USERNAME, password: str = PASSWORD) -> DAVClient:
    """A caldav client for the server (for the tests' own reads and setup)."""
    return DAVClient(url=url, username=username, password=password)


def make_calendar(url: str, username: str = USERNAME, password: str = PASSWORD, name: str = "Work") -> str:
    """A new calendar in the user's account; returns its URL."""
    with client(url, username, password) as dav:
        return str(dav.principal().make_calendar(name=name).url)


def events(url: str, calendar_url: str, username: str = USERNAME, password: str = PASSWORD) -> list:
    """Every event in the calendar, as icalendar VEVENT components (the library's parsed objects)."""
    with client(url, username, password) as dav:
        calendar = dav.calendar(url=calendar_url)
        return [item.icalendar_component for item in calendar.events()]
