"""Custom values in step templates ({{ contact.first_name }}, {{ steps.booking_link.url }}): check and render.

Templates are checked when the workflow is saved or published: only the known values, each one from
a step BEFORE the one using it, a few harmless filters and {% if %}. They render in Jinja's
sandbox over plain dicts, so even a template that slipped past the check reaches no Python object.

Jinja parses and compiles recursively, so a template nested thousands deep would exhaust Python's
stack: before parsing, its tokens are counted (MAX_TAG_TOKENS per tag, MAX_NESTING deep), which
refuses such a template at save with a message, and renders a stored one as a step error.
"""

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping

from jinja2 import TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape
from sqlalchemy import select

from webapp import i18n
from webapp.booking.models import Booking, OneTimeLink
from webapp.extensions import db

CONTACT_VALUES = {
    "first_name": "First name",
    "last_name": "Last name",
    "name": "Full name",
    "email": "Email",
    "phone": "Phone",
}
CALENDAR_VALUES = {"name": "Calendar name", "duration": "Meeting length (minutes)"}
# The booking (of the enrolment's link, or the one that triggered it), written for the invitee: in
# their language and time zone (booking_values()). Empty until there is a booking.
BOOKING_VALUES = {
    "start_local": "Booking: date and time",
    "start_date": "Booking: date",
    "start_time": "Booking: start time",
    "end_time": "Booking: end time",
    "timezone": "Booking: time zone",
}
# Whom the booking is with: {{ booking.host.name }}, {{ booking.host.email }} (the first host of a
# collective booking; empty for a booking without hosts).
HOST_VALUES = {"name": "Booking: host's name", "email": "Booking: host's email"}
WORKFLOW_VALUES = {"name": "Workflow name"}
FILTERS = {"default", "upper", "lower", "title", "capitalize", "trim", "escape", "e"}
# Node types a custom-value template may use; anything else (calls, loops, macros, imports…) is refused.
ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.If,
    nodes.Compare,
    nodes.Operand,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Concat,
    nodes.CondExpr,
    nodes.Filter,
    nodes.Test,
    nodes.Keyword,
)
ENV = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
# Far beyond any real custom value ({{ contact.first_name | default("there") | title }} is 12 tokens),
# far below what exhausts the parser's recursion or Python's limit of nested blocks in compiled code.
MAX_TAG_TOKENS = 100  # tokens inside one {{ … }} or {% … %}
MAX_NESTING = 10  # brackets and {% if %}-like blocks inside one another
BLOCK_TAGS = {"if", "for", "macro", "call", "filter", "block", "with", "autoescape", "trans", "raw"}
OPENING = {"(", "[", "{"}
CLOSING = {")", "]", "}"}
MARKER_OR_URL = re.compile(r"(⟦[a-z]+:\d+:[0-9a-f]{32}⟧|https?://[^\s<>\"']+)")


def _path(node: nodes.Node) -> list[str] | None:
    """['steps', 'booking_link', 'url'] for steps.booking_link.url or steps['booking_link'].url; None otherwise."""
    parts = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            parts.append(node.name)
            return parts[::-1]
        else:
            return None


def _show(node: nodes.Node, source: str) -> str:
    path = _path(node)
    if path:
        return "{{ " + ".".join(path) + " }}"
    line = source.splitlines()[node.lineno - 1] if node.lineno and source.splitlines() else source
    return line.strip()[:80]


def too_complex(source: str) -> str | None:
    """Why a template is too long-winded or deeply nested to parse safely; None when it is not.

    Reads Jinja's lexer, which is iterative, so any input is measured without recursion. Syntax
    errors are left to the parser, which reports them with their line.
    """
    depth = tokens = 0
    in_tag = first_word = False
    try:
        for lineno, kind, value in ENV.lex(source):
            if kind in ("variable_begin", "block_begin"):
                in_tag, first_word, tokens = True, kind == "block_begin", 0
            elif kind in ("variable_end", "block_end"):
                in_tag = False
            elif in_tag and kind != "whitespace":
                tokens += 1
                if first_word and kind == "name":
                    depth += 1 if value in BLOCK_TAGS else -1 if value.startswith("end") else 0
                first_word = False
                # Never below 0: a stray closer must not buy room for deeper nesting after it.
                depth = max(0, depth + (1 if value in OPENING else -1 if value in CLOSING else 0))
                if tokens > MAX_TAG_TOKENS:
                    return f"the expression on line {lineno} is too long (at most {MAX_TAG_TOKENS} parts)"
                if depth > MAX_NESTING:
                    return (
                        f"line {lineno} is nested too deeply (at most {MAX_NESTING} brackets or "
                        "{% if %} blocks inside one another)"
                    )
    except TemplateSyntaxError:
        return None
    return None


def check(
    source: str,
    earlier_steps: Iterable[Mapping],
    *,
    later_steps: Iterable[Mapping] = (),
    calendar: bool = False,
    label: str = "",
    outputs_of: Callable[[Mapping], Mapping[str, str]],
) -> list[str]:
    """Why a template cannot be saved, one message per problem naming the value; [] when it is fine.

    earlier_steps: the steps before this one (their values may be used); later_steps: this one and
    those after (named in the message when used too early); calendar: whether {{ calendar.* }} exists;
    outputs_of (required, so no caller forgets it and refuses every step value): the fields a step's
    output offers, actions.outputs_of in the app; this module knows no step type.
    """
    where = f"{label}: " if label else ""
    if problem := too_complex(source or ""):
        return [where + problem]
    try:
        tree = ENV.parse(source or "")
    except TemplateSyntaxError as exc:
        return [f"{where}the template has an error on line {exc.lineno}: {exc.message}"]
    earlier = {step.get("key"): step for step in earlier_steps if step.get("key")}
    later = {step.get("key") for step in later_steps if step.get("key")}
    problems: list[str] = []

    def value_problem(path: list[str]) -> str | None:
        shown = "{{ " + ".".join(path) + " }}"
        if any(part.startswith("_") for part in path):
            return f"{shown} is not allowed"
        root, rest = path[0], path[1:]
        if root == "contact" and len(rest) == 1 and rest[0] in CONTACT_VALUES:
            return None
        if root == "workflow" and len(rest) == 1 and rest[0] in WORKFLOW_VALUES:
            return None
        if root == "calendar" and len(rest) == 1 and rest[0] in CALENDAR_VALUES:
            return None if calendar else f"{shown} needs a Generate One-Time Booking Link step before this one"
        is_host_value = len(rest) == 2 and rest[0] == "host" and rest[1] in HOST_VALUES
        if root == "booking" and ((len(rest) == 1 and rest[0] in BOOKING_VALUES) or is_host_value):
            # Wherever a calendar is known a booking can be: its values are empty until it is made.
            return None if calendar else f"{shown} needs a Generate One-Time Booking Link step before this one"
        if root == "steps" and len(rest) == 2:
            key, field = rest
            if key in earlier:
                if field in outputs_of(earlier[key]):
                    return None
                return f"Unknown value {shown}"
            if key in later:
                return f"{shown} comes from a step that does not run before this one"
        return f"Unknown value {shown}"

    def visit(node: nodes.Node) -> None:
        if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
            path = _path(node)
            if path is None or (isinstance(node, nodes.Name) and node.ctx != "load"):
                problems.append(f"{_show(node, source)} is not allowed")
            elif problem := value_problem(path):
                problems.append(problem)
            return
        if not isinstance(node, ALLOWED_NODES):
            problems.append(f"“{_show(node, source)}” is not allowed in custom values")
            return
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            problems.append(f"The filter “{node.name}” is not allowed")
        if isinstance(node, nodes.Filter | nodes.Test) and (node.dyn_args or node.dyn_kwargs):
            problems.append(f"“{_show(node, source)}” is not allowed in custom values")
        for child in node.iter_child_nodes():
            visit(child)

    visit(tree)
    return [where + message for message in dict.fromkeys(problems)]


@functools.lru_cache(maxsize=256)
def _compiled(source: str, env: ImmutableSandboxedEnvironment = ENV):
    # A workflow's few templates render for every contact: compile each once. One saved before the
    # limits existed fails as the step's error, with the reason, instead of exhausting the stack.
    if problem := too_complex(source):
        raise TemplateError(f"The template cannot be used: {problem}.")
    return env.from_string(source)


def render(source: str, values: Mapping) -> str:
    """The template with its values, as plain text (the sandbox refuses anything unsafe)."""
    return _compiled(source or "").render(**values)


def _json_text(value) -> str:
    # Inside a JSON string: quotes, backslashes and line breaks escaped; markers (⟦book:1:…⟧) kept as they are.
    return json.dumps("" if value is None else str(value), ensure_ascii=False)[1:-1]


JSON_ENV = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=True, finalize=_json_text)


def render_json(source: str, values: Mapping) -> str:
    """A JSON template with its values, each one escaped for the inside of a JSON string ("{{ contact.name }}")."""
    return _compiled(source or "", JSON_ENV).render(**values)


def text_to_html(text: str) -> Markup:
    """The HTML version of a text body: everything escaped, paragraphs and line breaks kept, links clickable."""

    def paragraph(block: str) -> str:
        pieces = []
        for piece in MARKER_OR_URL.split(block):
            if MARKER_OR_URL.fullmatch(piece):
                href = escape(piece)
                pieces.append(f'<a href="{href}" style="color:#0172ad;">{href}</a>')
            else:
                pieces.append(str(escape(piece)).replace("\n", "<br>\n"))
        return '<p style="margin:0 0 16px;">' + "".join(pieces) + "</p>"

    blocks = [block.strip("\n") for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if block.strip()]
    return Markup("\n".join(paragraph(block) for block in blocks))


def contact_values(contact) -> dict:
    """A contact as the plain dict templates see."""
    return {
        "first_name": contact.first_name or "",
        "last_name": contact.last_name or "",
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone or "",
    }


def calendar_values(calendar) -> dict:
    """A calendar as the plain dict templates see."""
    return {"name": calendar.name, "duration": calendar.duration} if calendar else {}


class LazyValues(Mapping):
    """A template's dict whose values are computed on first use: most steps never read them."""

    def __init__(self, load: Callable[[], Mapping]):
        self._load = load
        self._values: Mapping | None = None

    def _data(self) -> Mapping:
        if self._values is None:
            self._values = self._load()
        return self._values

    def __getitem__(self, key):
        return self._data()[key]

    def __iter__(self):
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())


def booking_of(enrolment, outputs: Mapping[str, Mapping]) -> Booking | None:
    """The booking a template's {{ booking.* }} speaks of: the one that triggered the enrolment, else the
    latest made with a link an earlier step generated (None before it is booked)."""
    booking_id = (enrolment.event or {}).get("booking_id")
    if booking_id:
        return db.session.get(Booking, booking_id)
    link_ids = [output["link_id"] for output in outputs.values() if isinstance(output.get("link_id"), int)]
    if not link_ids:
        return None
    query = (
        select(Booking)
        .join(OneTimeLink, OneTimeLink.booking_id == Booking.id)
        .where(OneTimeLink.id.in_(link_ids))
        .order_by(Booking.id.desc())
        .limit(1)
    )
    return db.session.scalars(query).first()


def booking_values(booking) -> dict:
    """A booking as templates see it, written for the invitee: in the booking's locale (English when
    unknown) and zone, 12- or 24-hour as that locale writes times. Empty strings without a booking."""
    if booking is None:
        return {**dict.fromkeys(BOOKING_VALUES, ""), "host": dict.fromkeys(HOST_VALUES, "")}
    host = booking.host
    with i18n.mail_locale(booking.locale):
        return {
            "host": {"name": host.name, "email": host.email} if host else dict.fromkeys(HOST_VALUES, ""),
            "start_local": i18n.format_datetime(booking.start_at, booking.timezone),
            "start_date": i18n.format_date(booking.start_at, booking.timezone),
            "start_time": i18n.format_time(booking.start_at, booking.timezone),
            "end_time": i18n.format_time(booking.end_at, booking.timezone),
            "timezone": booking.timezone.replace("_", " "),
        }


def has_calendar(steps_before: Iterable[Mapping], trigger_type: str = "") -> bool:
    """{{ calendar.* }} exists after a link step, or when a booking or link event started the enrolment."""
    if trigger_type in ("booking_event", "link_opened", "link_expired"):  # services.CALENDAR_TRIGGERS
        return True
    return any(step.get("type") == "generate_link" for step in steps_before)
