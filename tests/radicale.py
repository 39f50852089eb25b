"""A real CalDAV server for the tests: Radicale (PyPI `radicale`) in a subprocess on 127.0.0.1, storage in a
temporary folder, htpasswd (plain) authentication.

    with radicale_server(tmp_path) as server:
        url = server.make_calendar("Work")
        server.put_event(url, ICS_TEXT)
        server.events(url)  # what is in it now

`server.url`, `server.user`, `server.password` are what a connection is made with; `server.stop()` ends
the process early (a failing server)."""

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import caldav

USER = "ada"
PASSWORD = "radicale-test-password-Z9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RadicaleServer:
    """A running Radicale: its address, a user's login, and helpers to fill it with calendars and events."""

    url: str
    user: str
    password: str
    process: subprocess.Popen = field(repr=False)

    def client(self) -> caldav.DAVClient:
        return caldav.DAVClient(url=self.url, username=self.user, password=self.password, enable_rfc6764=False)

    def make_calendar(self, name: str) -> str:
        """A new calendar of the user; returns its URL."""
        with self.client() as client:
            calendar = client.principal().make_calendar(name=name, cal_id=uuid.uuid4().hex[:12])
            return str(calendar.url)

    def put_event(self, calendar_url: str, ics: str) -> None:
        """Store one VCALENDAR (one event, with its overrides) in the calendar."""
        with self.client() as client:
            client.calendar(url=calendar_url).save_event(ics)

    def events(self, calendar_url: str) -> list:
        """Every event in the calendar, as icalendar VEVENT components."""
        with self.client() as client:
            return [item.icalendar_component for item in client.calendar(url=calendar_url).events()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@contextmanager
def radicale_server(folder: Path, port: int | None = None) -> Iterator[RadicaleServer]:
    """Start Radicale with its storage and config in `folder` (on `port`, default a free one); stops it on exit.

    Started again on the same folder and port, it serves the same calendars (a server that was down)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    (folder / "users").write_text(f"{USER}:{PASSWORD}\n")
    config = folder / "config"
    config.write_text(
        "[server]\n"
        f"hosts = 127.0.0.1:{port}\n"
        "[auth]\n"
        "type = htpasswd\n"
        f"htpasswd_filename = {folder / 'users'}\n"
        "htpasswd_encryption = plain\n"
        "delay = 0\n"  # no pause after a failed login: the tests log in wrongly on purpose
        "[rights]\n"
        "type = owner_only\n"
        "[storage]\n"
        f"filesystem_folder = {folder / 'collections'}\n"
        "[logging]\n"
        "level = warning\n"
    )
    log = (folder / "radicale.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    server = RadicaleServer(f"http://127.0.0.1:{port}/", USER, PASSWORD, process)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Radicale exited: {(folder / 'radicale.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("Radicale did not start within 20 s") from None
                time.sleep(0.1)
        yield server
    finally:
        server.stop()
        log.close()
