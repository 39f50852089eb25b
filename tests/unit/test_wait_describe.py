"""The Wait step's one-line summary says "1 day", not "1 days" (admin pages, English)."""

import pytest

from webapp.workflows.actions.wait import STEP


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"mode": "duration", "amount": 1, "unit": "days"}, "Wait 1 day"),
        ({"mode": "duration", "amount": 2, "unit": "days"}, "Wait 2 days"),
        ({"mode": "duration", "amount": 1, "unit": "hours"}, "Wait 1 hour"),
        ({"mode": "duration", "amount": 1, "unit": "minutes"}, "Wait 1 minute"),
        ({"mode": "duration", "amount": 90, "unit": "minutes"}, "Wait 90 minutes"),
        (
            {"mode": "before_booking", "amount": 1, "unit": "hours", "link_step": "booking_link"},
            "Wait until 1 hour before the booking made with “booking_link”",
        ),
        (
            {"mode": "until_booked", "link_step": "booking_link", "max_days": 1},
            "Wait until “booking_link” is booked, at most 1 day",
        ),
        (
            {"mode": "until_booked", "link_step": "booking_link", "max_days": 2},
            "Wait until “booking_link” is booked, at most 2 days",
        ),
    ],
)
def test_wait_summary_agrees_with_its_number(config, expected):
    assert STEP.describe(config) == expected
