"""Fixtures for connected calendars: loopback allowed by the outbound policy, the clock pinned, a real
Radicale server (one per module) and a local HTTP server for ICS feeds."""

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import time_machine

from tests.calendar_files import HOST_ZONE, NOW
from tests.radicale import RadicaleServer, radicale_server
from webapp import outbound


@pytest.fixture(autouse=True)
def pinned_clock() -> Iterator[time_machine.Coordinates]:
    """Every test here runs on 1 October 2026, 12:00 UTC (the calendars' events are set around it)."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def loopback_servers(app):
    """The servers here listen on loopback, which the outbound policy refuses unless allowed."""
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = outbound.parse_networks("127.0.0.0/8")


@pytest.fixture(scope="module")
def radicale(tmp_path_factory) -> Iterator[RadicaleServer]:
    """A Radicale server for the module's tests (each test makes its own calendars)."""
    with radicale_server(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture
def host(make_host):
    """A host who does not sign in, in New York."""
    return make_host(name="Sam Rivera", timezone=HOST_ZONE)


@dataclass
class FeedServer:
    """Files served on 127.0.0.1: set `files[path] = bytes`; `requests` lists the paths asked for."""

    port: int
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A plain HTTP server in a thread, answering 404 for paths it has no file for."""
    state = FeedServer(0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state.requests.append(self.path)
            data = state.files.get(self.path)
            if data is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
