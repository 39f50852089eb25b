"""The JSON API against its OpenAPI document (/api/v1/openapi.json), on a live server.

schemathesis (its CLI, as an API's users would run it) reads the document from the running server,
generates valid and invalid requests for every operation, and checks every answer: no 5xx, the
status code, content type, headers and body as documented, invalid input refused, the key required.
"""

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests import world
from tests.conftest import empty_tables, make_app
from tests.helpers import ROOT
from webapp.extensions import db

ST = Path(sys.executable).with_name("st")
# Every check that applies to this API. Left out: positive_data_acceptance (a document cannot say
# which emails, zones or slugs exist, so valid-looking data is rightly refused with 422), and
# object_level_authorization (every key sees everything: there are no users to keep apart).
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "unsupported_method",
        "allow_header_conformance",
        "use_after_free",
        "ensure_resource_availability",
        "ignored_auth",
    ]
)


@pytest.fixture
def live_api(tmp_path):
    """The app with one of everything and an API key, served on a loopback port."""
    app = make_app(tmp_path)
    with app.app_context():
        empty_tables()
        made = world.build(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", made.api_key
    server.shutdown()
    with app.app_context():
        db.session.remove()


@pytest.mark.slow
def test_every_answer_matches_the_openapi_document(live_api, tmp_path):
    base, key = live_api
    command = [
        ST,
        "run",
        f"{base}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        CHECKS,
        "--max-examples",
        "25",
        "--seed",
        "12",
        "--generation-deterministic",  # the same requests on every run (and no example database): CI stays stable
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--output-truncate",
        "false",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout, result.stdout[-5000:]


def test_the_document_describes_every_api_route_and_no_other(app, client):
    document = client.get("/api/v1/openapi.json").json  # no key needed
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": "http://localhost/api/v1"}]
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert served == documented
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["summary"] and ({"200", "201"} & set(operation["responses"])), (method, path)
            if path != "/openapi.json":
                assert "401" in operation["responses"], (method, path)
