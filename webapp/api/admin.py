"""Settings › API keys: list, create (the key is shown once) and revoke."""

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from webapp.api import keys
from webapp.api.models import ApiKey
from webapp.extensions import db

bp = Blueprint("apikeys", __name__, url_prefix="/settings/api-keys")


class ApiKeyForm(FlaskForm):
    name = StringField(
        "Name",
        [DataRequired("Give the key a name, e.g. the system that will use it."), Length(max=keys.NAME_MAX)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"placeholder": "e.g. CRM sync", "autocomplete": "off"},
    )


def _get(key_id: int) -> ApiKey:
    return db.session.get(ApiKey, key_id) or abort(404)


def _page(form: ApiKeyForm, status: int = 200, new_key: str | None = None, created: ApiKey | None = None):
    html = render_template("apikeys/list.html", form=form, api_keys=keys.all_keys(), new_key=new_key, created=created)
    response = make_response(html, status)
    if new_key:
        # The one page that holds a key: no cache, no back-button copy keeps it.
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def list():
    """Every key with its prefix, dates and status, and the form for a new one."""
    return _page(ApiKeyForm())


@bp.post("/")
def create():
    """Make a key and show it in this answer, once."""
    # Not Post/Redirect/Get: carrying the key to a GET would put it in the session cookie.
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    row, key = keys.create_key(form.name.data)
    return _page(ApiKeyForm(formdata=None), 201, new_key=key, created=row)


@bp.route("/<int:key_id>/revoke", methods=["GET", "POST"])
def revoke(key_id):
    """Confirm, then revoke a key: requests that send it get 401 from then on."""
    row = _get(key_id)
    if request.method == "GET":
        return render_template("apikeys/revoke.html", api_key=row)
    if keys.revoke(row):
        flash(f"The key “{row.name}” ({row.prefix}…) is revoked.", "success")
    else:
        flash(f"The key “{row.name}” was already revoked.", "info")
    return redirect(url_for("apikeys.list"), 303)
