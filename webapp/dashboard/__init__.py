"""The admin home: the funnel of one-time links per workflow, and what needs attention."""
