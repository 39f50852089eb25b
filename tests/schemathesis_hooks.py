"""Loaded by schemathesis (SCHEMATHESIS_HOOKS) in tests/integration/api/test_api_schema.py: half the days
drawn are at the edges of the calendar (year 1, year 9999), where date arithmetic overflows."""

import schemathesis
from hypothesis import strategies as st

EDGE_DAYS = ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"]

schemathesis.openapi.format(
    "date",
    st.booleans().flatmap(lambda edge: st.sampled_from(EDGE_DAYS) if edge else st.dates().map(lambda d: d.isoformat())),
)
