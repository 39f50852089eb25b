"""The inbound webhook: POST /hooks/<workflow id>/<secret> creates or updates a contact and enrols it.

Only the secret's digest is stored (services.webhook_secret_matches compares in constant time)."""

from flask import Blueprint, abort, jsonify, request
from sqlalchemy.exc import IntegrityError

from webapp.audit import audit
from webapp.contacts import services as contacts
from webapp.contacts.services import TagError
from webapp.extensions import csrf, db
from webapp.workflows.models import Workflow
from webapp.workflows.services import enrol, webhook_secret_matches

bp = Blueprint("hooks", __name__, url_prefix="/hooks")
csrf.exempt(bp)

NAME_FIELDS = ("first_name", "last_name", "phone")


class BadBody(ValueError):
    """A body the webhook cannot use; the message names the problem."""


def _body() -> dict:
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadBody("The body is not a JSON object.")
        return data
    if request.form:
        return {key: request.form.get(key) for key in request.form}
    raise BadBody("Send a JSON object or a form with at least an email.")


def _fields(data: dict) -> tuple[dict, list[str]]:
    """The contact fields and tag names of a body, or BadBody naming the first problem."""
    fields = {}
    for key in ("email", *NAME_FIELDS):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadBody(f"“{key}” must be text.")
        fields[key] = value.strip()
    if error := contacts.email_error(fields.get("email", "")):
        raise BadBody(f"email: {error}")
    for key in NAME_FIELDS:
        limit = contacts.MAX_LENGTHS[key]
        if len(fields.get(key, "")) > limit:
            raise BadBody(f"{key}: longer than {limit} characters.")
        if key in contacts.NAME_FIELDS and (error := contacts.name_error(key, fields.get(key, ""))):
            raise BadBody(f"{key}: {error}")
    if error := contacts.phone_error(fields.get("phone", "")):
        raise BadBody(f"phone: {error}")
    tags = data.get("tags") or []
    if isinstance(tags, str):
        tags = contacts.split_tags(tags)
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise BadBody("“tags” must be a list of text, or one comma-separated text.")
    for tag in tags:
        if error := contacts.tag_error(tag.strip().lower()):
            raise BadBody(f"tags: {error}")
    # Empty optional fields leave what the contact already has.
    return {key: value for key, value in fields.items() if value or key == "email"}, tags


def _upsert(fields: dict, tags: list[str]):
    contact = contacts.find_by_email(fields["email"])
    if contact is None:
        return contacts.new_contact(fields, tags)
    contacts.apply_fields(contact, {key: value for key, value in fields.items() if key != "email"})
    contacts.add_tags(contact, tags)
    return contact


@bp.post("/<int:workflow_id>/<secret>")
def receive(workflow_id, secret):
    """Create or update the contact from the body and enrol it: 202, 400 naming the problem, 404 wrong URL."""
    workflow = db.session.get(Workflow, workflow_id)
    if workflow is None or not webhook_secret_matches(workflow, secret):
        abort(404)
    version = workflow.published_version
    if version is None or version.trigger_type != "webhook":
        abort(404)
    if workflow.status != "published":
        return jsonify(error="This workflow is paused; nothing was changed."), 409
    try:
        fields, tags = _fields(_body())
    except BadBody as exc:
        return jsonify(error=str(exc)), 400
    try:
        contact = _upsert(fields, tags)
        enrolment = enrol(workflow, contact, {"type": "webhook"})
        db.session.commit()
    except IntegrityError:
        # The same email arrived twice at once: the other request created the contact; update it.
        db.session.rollback()
        contact = _upsert(fields, tags)
        enrolment = enrol(workflow, contact, {"type": "webhook"})
        db.session.commit()
    except TagError as exc:
        db.session.rollback()
        return jsonify(error=f"tags: {exc}"), 400
    audit("workflow.webhook", workflow_id=workflow.id, contact_id=contact.id, enrolment_id=enrolment and enrolment.id)
    return jsonify(contact_id=contact.id, enrolment_id=enrolment.id if enrolment else None), 202
