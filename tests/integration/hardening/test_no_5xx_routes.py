"""No input gets a 5xx: random strings, numbers, dates and ids at every route of the app.

The routes come from app.url_map, so a new route is covered the day it is added. Each route is
called with its own methods (and GET), signed in and not, with its path variables, query arguments
and form fields drawn from: the ids and tokens of real objects (tests/world.py), numbers up to far
beyond any database integer, dates and instants from year 1 to 9999, and any text. Field names are
collected from the code (every request.args/form/values read), from every WTForms class, and from
the forms and links of every page. The app's catch-all error handler turns an exception into a 500
page, which is what the test looks for; the exception's traceback is in the failure message.
"""

import logging
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import wtforms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import world
from tests.conftest import PASSWORD, empty_tables, make_app
from tests.helpers import ROOT
from webapp.extensions import db

EXAMPLES = 30

# --- what to send --------------------------------------------------------------------------------

BIG_NUMBERS = [2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**20, 10**100]
EDGE_TEXTS = [
    "",
    "0",
    "-1",
    "9999-12",
    "0001-01",
    "9999-12-31",
    "0001-01-01",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-14:00",
    "1e309",
    "NaN",
    "{{ " + "(" * 3000 + " }}",
    "{% if 1 %}" * 500,
    "a\r\nb",
    "\x00",
]
years = st.integers(1, 9999)
dates = st.dates().map(lambda d: d.isoformat())
months = st.builds(lambda y, m: f"{y:04d}-{m:02d}", years, st.integers(1, 12))
instants = st.builds(
    lambda d, zone: d.isoformat() + zone, st.datetimes(), st.sampled_from(["Z", "+00:00", "-12:00", ""])
)
numbers = st.one_of(st.integers(-(10**6), 10**6), st.sampled_from(BIG_NUMBERS)).map(str)


def values(world_: world.World):
    """Any value a field might be given."""
    known = [str(i) for ids in world_.ids.values() for i in ids] + [s for ss in world_.strings.values() for s in ss]
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(EDGE_TEXTS),
        numbers,
        dates,
        months,
        instants,
        st.text(max_size=40),
    )


def path_value(world_: world.World, name: str, converter: str):
    """A path variable: a real object's id or token, another number, or any text."""
    real = world_.ids.get(name) or world_.strings.get(name) or []
    others = numbers if converter == "IntegerConverter" else st.text(min_size=1, max_size=30)
    if real:
        return st.one_of(st.sampled_from([str(v) for v in real]), others, st.sampled_from(BIG_NUMBERS).map(str))
    return others


# --- field names -----------------------------------------------------------------------------------

READ = re.compile(r"""(?:request\.(?:args|form|values)|\bargs|\bdata)\.get(?:list)?\(\s*["']([\w.-]+)["']""")


def names_in_code() -> set[str]:
    """Every name a view reads from the query string or the form."""
    return {name for path in (ROOT / "webapp").rglob("*.py") for name in READ.findall(path.read_text())}


def names_in_forms() -> set[str]:
    """Every field name of every WTForms class (a FieldList's rows as name-0, and its subfields)."""
    import webapp  # noqa: F401  (every form class is imported by create_app)

    found, todo = set(), [wtforms.Form]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        for name, _field in getattr(cls, "_unbound_fields", None) or []:
            found.update({name, f"{name}-0", f"{name}-0-start", f"{name}-0-end"})
    return found


class _Forms(HTMLParser):
    """The forms of a page (action, method, fields with their first values) and the query names of its links."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.forms: list[tuple[str, str, dict[str, str]]] = []
        self.links: list[str] = []
        self._form: dict[str, str] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._form = {}
            self.forms.append((attrs.get("action") or self.url, attrs.get("method", "get").upper(), self._form))
        name = attrs.get("name")
        if tag in ("input", "textarea", "button") and name and self._form is not None:
            if attrs.get("type") not in ("checkbox", "radio", "submit") or "checked" in attrs:
                self._form.setdefault(name, attrs.get("value", ""))
        elif tag == "select" and name and self._form is not None:
            self._select = name
        elif tag == "option" and self._select and self._form is not None:
            self._form.setdefault(self._select, attrs.get("value", ""))
        for attr in ("href", "hx-get", "hx-post", "formaction"):
            if attrs.get(attr):
                self.links.append(attrs[attr])

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


class Inputs:
    """Per route (rule, method): the filled-in forms that post to it and the names its links and forms use."""

    def __init__(self, app):
        self.adapter = app.url_map.bind("localhost")
        self.forms: dict[tuple[str, str], list[tuple[str, dict[str, str]]]] = {}
        self.names: dict[str, set[str]] = {}

    def _rule(self, url: str, method: str) -> str | None:
        try:
            rule, _args = self.adapter.match(urlsplit(url).path, method=method, return_rule=True)
        except Exception:  # not ours (an outside link), a redirect or a 404/405: nothing to learn
            return None
        return rule.rule

    def read(self, url: str, html: str) -> None:
        page = _Forms(url)
        page.feed(html)
        for action, method, fields in page.forms:
            if rule := self._rule(action, method):
                self.forms.setdefault((rule, method), []).append((action, fields))
                self.names.setdefault(rule, set()).update(fields)
                self.names[rule].update(key for key, _ in parse_qsl(urlsplit(action).query))
        for link in page.links:
            for method in ("GET", "POST"):
                if rule := self._rule(link, method):
                    self.names.setdefault(rule, set()).update(key for key, _ in parse_qsl(urlsplit(link).query))


# --- the app, its routes and the requests ------------------------------------------------------------


class Errors(logging.Handler):
    """The tracebacks the app logged (webapp/core/errors.py logs each unexpected exception)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(self.format(record))


def routes(app) -> list[tuple[str, str]]:
    """(rule, method) for every rule and method of the app; GET too, to see the 405 answered."""
    found = set()
    for rule in app.url_map.iter_rules():
        for method in (rule.methods - {"HEAD", "OPTIONS"}) | {"GET"}:
            found.add((rule.rule, method))
    return sorted(found)


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    """The app with one of everything, admin clients signed in and not, and every field name."""
    app = make_app(tmp_path_factory.mktemp("fuzz"))
    errors = Errors()
    app.logger.addHandler(errors)
    with app.app_context():
        empty_tables()
        from webapp.auth.services import create_admin

        create_admin("admin@example.com", PASSWORD)
        made = world.build(app)
        signed_in = app.test_client()
        assert signed_in.post("/login", data={"email": "admin@example.com", "password": PASSWORD}).status_code == 303
        inputs = _read_pages(app, signed_in, made)
        names = names_in_code() | names_in_forms() | {name for found in inputs.names.values() for name in found}
        yield app, made, signed_in, app.test_client(), sorted(names), inputs, errors
        db.session.remove()
    app.logger.removeHandler(errors)


def _read_pages(app, client, made) -> Inputs:
    """The forms and links of every page a GET route shows with real ids."""
    inputs = Inputs(app)
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        real = {name: made.ids.get(name) or made.strings.get(name) or [] for name in rule.arguments}
        if not all(real.values()):
            continue
        for i in range(max((len(values) for values in real.values()), default=1)):
            url = _fill(rule.rule, {name: values[min(i, len(values) - 1)] for name, values in real.items()})
            inputs.read(url, client.get(url).text)
    return inputs


def _fill(rule: str, args: dict) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: quote(str(args[m.group(1)]), safe=""), rule)


def _rule(app, text: str):
    return next(rule for rule in app.url_map.iter_rules() if rule.rule == text)


ROUTES = routes(make_app(Path(tempfile.mkdtemp(prefix="oneslot-routes-"))))


@pytest.mark.parametrize(("rule_text", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_no_input_gets_a_5xx(fuzz, rule_text, method):
    app, made, signed_in, anonymous, names, inputs, errors = fuzz
    rule = _rule(app, rule_text)
    converters = {name: type(conv).__name__ for name, conv in rule._converters.items()}
    # Mostly the names this route's own forms and links use, filled in as its pages fill them.
    own = sorted(inputs.names.get(rule_text, ()))
    field_names = st.one_of(st.sampled_from(own), st.sampled_from(names)) if own else st.sampled_from(names)
    # Half the time, one of the forms a page shows for this route, at its own address (a step's card).
    forms = inputs.forms.get((rule_text, method), [])
    page_form = st.one_of(st.none(), st.sampled_from(forms)) if forms else st.none()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same inputs on every run: CI stays stable
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data):
        form = data.draw(page_form, label="page form")
        if form is None:
            args = {name: data.draw(path_value(made, name, conv), label=name) for name, conv in converters.items()}
            url, fields = _fill(rule_text, args), {}
        else:
            url, fields = form[0], dict(form[1])
        fields.update(data.draw(st.dictionaries(field_names, values(made), max_size=4), label="changed"))
        client = signed_in if data.draw(st.booleans(), label="signed in") else anonymous
        headers = {"HX-Request": "true"} if data.draw(st.booleans(), label="htmx") else {}
        if rule_text.startswith("/api/") and data.draw(st.booleans(), label="api key"):
            headers["Authorization"] = f"Bearer {made.api_key}"
        errors.records.clear()
        if method == "GET":
            response = client.open(url, method=method, query_string=fields, headers=headers)
        elif rule_text.startswith("/api/"):
            response = client.open(url, method=method, json=fields, headers=headers)
        else:
            response = client.open(url, method=method, data=fields, headers=headers)
        # /readyz answers 503 by design while the installation is not ready (this world has no worker
        # and no migration history); an exception would still be a 500.
        not_ready = rule_text == "/readyz" and response.status_code == 503 and response.json["status"] == "not ready"
        assert response.status_code < 500 or not_ready, (
            f"{method} {url} {fields}: {response.status_code}\n" + "\n".join(errors.records)
        )

    check()
