"""The admin home and the health check."""

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webapp.dashboard import queries as dashboard
from webapp.extensions import db

bp = Blueprint("core", __name__)


@bp.get("/")
def home():
    """The admin home: the funnel of one-time links over the last 30 days, and what needs attention."""
    return render_template(
        "dashboard/home.html",
        dash=dashboard.build(),
        stages=dashboard.STAGES,
        window_days=dashboard.WINDOW_DAYS,
        renewal_hours=dashboard.renewal_hours,
    )


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 otherwise (for load balancers)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
