"""Which event a trigger listens for (webapp/workflows/triggers.py: matches), without an app."""

import pytest

from webapp.workflows.triggers import EVENT_TYPES, matches


def test_a_trigger_hears_only_its_own_event_type():
    for event_type in EVENT_TYPES:
        heard = [t for t in ("contact_created", "link_opened", "link_expired") if matches(t, {}, event_type, {})]
        assert heard == ([event_type] if event_type in ("contact_created", "link_opened", "link_expired") else [])


@pytest.mark.parametrize(
    ("wanted", "added", "heard"),
    [("VIP", "vip", True), (" vip ", "VIP", True), ("vip", "vips", False), ("", "vip", False), (None, "", True)],
)
def test_tag_added_compares_normalised_tags(wanted, added, heard):
    assert matches("tag_added", {"tag": wanted}, "tag_added", {"tag": added}) is heard


def test_booking_event_hears_the_chosen_kinds_only():
    config = {"events": ["made", "cancelled"]}
    assert matches("booking_event", config, "booking_made", {})
    assert matches("booking_event", config, "booking_cancelled", {})
    assert not matches("booking_event", config, "booking_rescheduled", {})
    assert not matches("booking_event", {}, "booking_made", {})  # no kinds chosen: none heard
    assert not matches("booking_event", config, "contact_created", {})


@pytest.mark.parametrize("trigger", ["booking_event", "link_opened", "link_expired"])
def test_a_calendar_trigger_hears_its_calendar_or_any(trigger):
    event = {"booking_event": "booking_made"}.get(trigger, trigger)
    config = {"events": ["made"]}
    assert matches(trigger, config | {"calendar_id": 3}, event, {"calendar_id": 3})
    assert not matches(trigger, config | {"calendar_id": 3}, event, {"calendar_id": 4})
    assert matches(trigger, config | {"calendar_id": None}, event, {"calendar_id": 4})
    assert matches(trigger, config, event, {"calendar_id": 4})
