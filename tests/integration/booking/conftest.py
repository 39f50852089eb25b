"""Fixtures of the booking tests."""

import threading

import pytest
from werkzeug.serving import make_server


@pytest.fixture
def served(app):
    """The test app on a real threaded server (CSRF off: the threads post directly)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
