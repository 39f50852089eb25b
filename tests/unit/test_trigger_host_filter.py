"""A booking trigger's host filter (webapp/workflows/triggers.py: matches), without an app."""

from webapp.workflows.triggers import matches


def test_a_booking_trigger_with_a_host_hears_that_hosts_bookings_only():
    config = {"events": ["made", "cancelled"], "host_id": 7}
    assert matches("booking_event", config, "booking_made", {"host_ids": [7]})
    assert matches("booking_event", config, "booking_cancelled", {"host_ids": [3, 7]})  # collective
    assert not matches("booking_event", config, "booking_made", {"host_ids": [3]})
    assert not matches("booking_event", config, "booking_made", {})  # a booking without hosts
    assert matches("booking_event", {"events": ["made"], "host_id": None}, "booking_made", {"host_ids": [3]})
    assert matches("booking_event", {"events": ["made"]}, "booking_made", {})
