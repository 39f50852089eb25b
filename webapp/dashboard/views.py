"""The admin home page."""

from flask import Blueprint, render_template

from webapp.dashboard import queries

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def home():
    """The admin home: the funnel of one-time links over the last 30 days, and what needs attention."""
    return render_template(
        "dashboard/home.html",
        dash=queries.build(),
        stages=queries.STAGES,
        window_days=queries.WINDOW_DAYS,
        renewal_hours=queries.renewal_hours,
    )
