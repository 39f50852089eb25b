"""The health checks: /healthz (alive: the database answers) and /readyz (ready to do the work)."""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webapp.core import readiness
from webapp.extensions import db

bp = Blueprint("core", __name__)


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 otherwise (for load balancers)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.get("/readyz")
def readyz():
    """200 when the database is reachable and migrated, a worker is alive and the queues keep up; else 503
    with the reasons (webapp/core/readiness.py). Public and never cached, for load balancers and monitors."""
    reasons = readiness.reasons()
    if reasons:
        response = jsonify(status="not ready", reasons=[reason.as_json() for reason in reasons])
        response.status_code = 503
    else:
        response = jsonify(status="ready", reasons=[])
    response.headers["Cache-Control"] = "no-store"
    return response
