"""Custom values checked at save (webapp/workflows/merge.py: check), without an app."""

import pytest

from webapp.workflows import merge

LINK = {"id": "s-link", "type": "generate_link", "key": "booking_link", "config": {}}


def outputs_of(step) -> dict[str, str]:
    """What the app's step types offer, as far as these tests need: a link step's url."""
    return {"url": "One-Time Link"} if step.get("type") == "generate_link" else {}


def check(source, earlier_steps, **options):
    return merge.check(source, earlier_steps, outputs_of=outputs_of, **options)


@pytest.mark.parametrize(
    "source",
    [
        "",
        "Hi {{ contact.first_name }}",
        '{{ contact.first_name | default("there") | title }}',
        "{% if contact.phone %}Call {{ contact.phone }}{% endif %}",
        "{{ workflow.name }}",
    ],
)
def test_known_values_pass(source):
    assert check(source, []) == []


def test_a_steps_value_needs_that_step_before():
    assert check("{{ steps.booking_link.url }}", [LINK]) == []
    assert check("{{ steps.booking_link.url }}", [], later_steps=[LINK]) == [
        "{{ steps.booking_link.url }} comes from a step that does not run before this one"
    ]
    assert check("{{ steps.booking_link.nope }}", [LINK]) == ["Unknown value {{ steps.booking_link.nope }}"]
    assert check("{{ steps.other.url }}", [LINK]) == ["Unknown value {{ steps.other.url }}"]


def test_calendar_values_need_a_calendar():
    assert check("{{ calendar.name }}", [], calendar=True) == []
    assert check("{{ calendar.name }}", []) == [
        "{{ calendar.name }} needs a Generate One-Time Booking Link step before this one"
    ]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ contact.age }}", "Unknown value {{ contact.age }}"),
        ("{{ contact._secret }}", "{{ contact._secret }} is not allowed"),
        ("{{ contact.first_name | attr('x') }}", "The filter “attr” is not allowed"),
        ("{{ contact.first_name() }}", "is not allowed in custom values"),
        ("{% for x in y %}{% endfor %}", "is not allowed in custom values"),
        ("{{ contact.first_name", "the template has an error on line 1"),
    ],
)
def test_anything_else_is_refused_with_a_message(source, problem):
    [message] = check(source, [], label="Body")
    assert message.startswith("Body: ") and problem in message


def test_each_problem_is_said_once():
    assert check("{{ contact.age }} {{ contact.age }}", []) == ["Unknown value {{ contact.age }}"]


def test_a_template_nested_too_deep_or_too_long_is_refused_before_parsing():
    deep = "{{ " + "(" * (merge.MAX_NESTING + 1) + "1" + ")" * (merge.MAX_NESTING + 1) + " }}"
    long = "{{ " + " ~ ".join(["contact.first_name"] * merge.MAX_TAG_TOKENS) + " }}"
    assert "nested too deeply" in check(deep, [])[0]
    assert "too long" in check(long, [])[0]
