"""The workflow pages: the list, and the one-page editor (trigger, steps, settings, publish)."""

import re
from collections.abc import Mapping
from types import SimpleNamespace

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select

from webapp import htmx, params
from webapp.calendars.models import Calendar
from webapp.contacts.models import Contact, Tag
from webapp.extensions import db
from webapp.text import one_line
from webapp.workflows import actions, editing, forms, merge, program, services, test_run_views
from webapp.workflows.models import Workflow

bp = Blueprint("workflows", __name__, url_prefix="/workflows")
# Fragments: one card, or one card plus the header (status, "unpublished changes") out of band.
# What the preview shows for {{ booking.* }}: each contact's own booking, written for them.
PREVIEW_BOOKING = {
    "start_local": "(the booking's date and time, in the invitee's language and zone)",
    "start_date": "(the booking's date)",
    "start_time": "(its start time)",
    "end_time": "(its end time)",
    "timezone": "(the invitee's time zone)",
}
TRIGGER, STEP, SETTINGS = "workflows/_trigger.html", "workflows/_step.html", "workflows/_settings.html"
WITH_HEAD = "workflows/_with_head.html"
# A step's signing secret is shown in full once: on the next render after it was made (HTMX or not).
REVEAL = "workflows_reveal_secret"


def _get(workflow_id: int) -> Workflow:
    return db.session.get(Workflow, workflow_id) or abort(404)


def _step(workflow: Workflow, step_id: str) -> Mapping:
    return program.find(workflow.steps or [], step_id) or abort(404)


def _has_history() -> bool:
    """The enrolment history pages are another feature: link to them only when they exist."""
    return "enrolments.list" in current_app.view_functions


def _back(workflow: Workflow, anchor: str = ""):
    return url_for("workflows.edit", workflow_id=workflow.id) + (f"#{anchor}" if anchor else "")


def _webhook_url(workflow: Workflow, secret: str | None = None) -> str:
    """The inbound webhook URL with its secret, or masked (••••••••) when the secret is not at hand."""
    path = url_for("hooks.receive", workflow_id=workflow.id, secret=secret or "-")
    if secret is None:
        path = path[:-1] + "••••••••"
    return current_app.config["BASE_URL"].rstrip("/") + path


BRANCH_LABELS = {"yes": "If yes", "no": "Else"}
# The card forms with edits not saved yet: structural requests (add, move, delete, publish…) carry
# them (hx-include), and the editor comes back with those cards as they were typed (views._unsaved).
# (#keep-unsaved, an empty element of the page, keeps the selector from ever matching nothing.)
KEEP_UNSAVED = ".card.is-dirty form.card-form, #keep-unsaved"
STEP_FIELD = re.compile(r"^s([0-9a-f]+)-")


def _card(workflow, step, items, index, number, errors, drafts, saved, confirm):
    """One step's card (see _cards)."""
    steps = workflow.steps or []
    kind = actions.get(step.get("type", ""))
    form = drafts.get(step["id"]) or forms.step_form(step)
    earlier = program.before(steps, step["id"]) or []
    if form is not None:
        form.offer(earlier)
    problems = errors.get(step["id"], {})
    return SimpleNamespace(
        id=step["id"],
        step=step,
        number=number,
        first=index == 0,
        last=index == len(items) - 1,
        label=kind.LABEL if kind else step.get("type"),
        category=kind.CATEGORY if kind else "",
        summary=kind.describe(step.get("config") or {}) if kind else "",
        # A step with a sealed secret (a webhook): a hint that it is set, and the secret itself only on
        # the one render that shows it (see REVEAL).
        secret_hint=kind.secret_hint(step.get("config") or {}) if kind else "",
        reveal=(lambda: kind.reveal(step.get("config") or {})) if kind else None,
        form=form,
        loose=forms.show_errors(form, problems),
        invalid=bool(problems),
        values=actions.available(earlier, workflow.trigger_type) if form is not None and form.cv_fields else [],
        link_fields=list(_link_fields(form)) if form is not None else [],
        saved=saved == step["id"],
        dirty=step["id"] in drafts,
        confirm_delete=confirm == step["id"],
        branches=[],
    )


def _cards(workflow, errors, drafts=None, saved=None, confirm=None):
    """The step cards as a tree: each card has its form (a draft's for the ids in `drafts`), messages,
    custom values, and for an if/else its branches [(name, label, cards)], numbered "3", "3.yes.1"."""
    drafts = drafts or {}

    def build(items, prefix):
        cards = []
        for index, step in enumerate(items):
            number = f"{prefix}{index + 1}"
            card = _card(workflow, step, items, index, number, errors, drafts, saved, confirm)
            card.branches = [
                (name, BRANCH_LABELS[name], build(arm, f"{number}.{name}."))
                for name, arm in program.branches(step).items()
            ]
            cards.append(card)
        return cards

    return build(list(workflow.steps or []), "")


def _flat(cards):
    """Every card of the tree, in order."""
    for card in cards:
        yield card
        for _name, _label, inner in card.branches:
            yield from _flat(inner)


def _link_fields(form):
    """The form's own link-step select, refreshed out of band when a link step is saved. (A condition's
    is not: its rows change as the admin adds and removes them, so its id may not be on the page.)"""
    return (field for field in form if field.short_name == "link_step")


def _drafts(workflow, data) -> dict:
    """The submitted (unsaved) form of every step whose fields are in the request, by step id."""
    ids = {match[1] for name in data if (match := STEP_FIELD.match(name))}
    drafts = {}
    for step_id in ids:
        step = program.find(workflow.steps or [], step_id)
        if step is not None and (form := forms.step_form(step, data)) is not None:
            drafts[step_id] = form
    return drafts


def _unsaved(workflow) -> dict:
    """What a structural request carried of the cards not saved yet (steps, trigger, settings): overrides
    for _render, so the editor comes back with those edits still there and still marked unsaved."""
    data = request.values
    kept: dict[str, object] = {"drafts": _drafts(workflow, data)}
    if "trigger_type" in data:
        kept.update(trigger_form=forms.TriggerForm(formdata=data), trigger_dirty=True)
    if "sender_name" in data:
        kept.update(settings_form=forms.SettingsForm(formdata=data), settings_dirty=True)
    return kept


def _render(workflow, fragment="workflows/_editor.html", status=200, errors=None, **overrides):
    """The editor page, or one of its fragments for HTMX; `overrides` replace parts of the context."""
    errors = errors or {}
    trigger_form = overrides.pop("trigger_form", None) or forms.TriggerForm(formdata=None).load(workflow)
    forms.show_errors(trigger_form, errors.get("trigger", {}))
    cards = _cards(
        workflow, errors, overrides.pop("drafts", None), overrides.pop("saved", None), overrides.pop("confirm", None)
    )
    context = {
        "workflow": workflow,
        "errors": errors,
        "trigger_form": trigger_form,
        "trigger_invalid": bool(errors.get("trigger")),
        "settings_form": overrides.pop("settings_form", None) or forms.SettingsForm(formdata=None, obj=workflow),
        "cards": cards,
        "all_cards": list(_flat(cards)),
        "keep_unsaved": KEEP_UNSAVED,
        "categories": actions.by_category(),
        # Only the secret's digest is stored: the full URL exists only in the answer that made it.
        "webhook_url": _webhook_url(workflow),
        "tags": db.session.scalars(select(Tag.name).order_by(Tag.name).limit(500)).all(),
        "contacts": db.session.scalars(select(Contact).order_by(Contact.id.desc()).limit(100)).all(),
        "has_history": _has_history(),
        "name_form": forms.NameForm(formdata=None, obj=workflow),
        "test_form": test_run_views.blank_form(workflow),  # the "Test with a contact" panel below the editor
        "reveal_secret": session.pop(REVEAL, None),
        **overrides,
    }
    response = htmx.render("workflows/edit.html", fragment, status=status, **context)
    if context["reveal_secret"] or context.get("new_webhook_url"):
        # The one answer that holds a secret in clear: no cache or back-button copy keeps it.
        response.headers["Cache-Control"] = "no-store"
    return response


def _done(workflow, message, anchor="", fragment="workflows/_editor.html", **overrides):
    """After a change: the fragment for HTMX (and "form-saved"), a 303 back to the editor otherwise."""
    if not htmx.is_htmx():
        flash(message, "success")
        return redirect(_back(workflow, anchor), 303)
    return htmx.trigger(_render(workflow, fragment, flash_message=message, **overrides), "form-saved")


# --- the list --------------------------------------------------------------------------------------


@bp.get("/", endpoint="list")
def list_workflows():
    """Every workflow with its trigger, status and enrolment counts."""
    workflows = db.session.scalars(select(Workflow).order_by(Workflow.name, Workflow.id)).all()
    names = dict(db.session.execute(select(Calendar.id, Calendar.name)).tuples().all())
    return render_template(
        "workflows/list.html",
        workflows=workflows,
        counts=editing.counts(w.id for w in workflows),
        triggers={w.id: services.describe_trigger(w.trigger_type, w.trigger_config or {}, names) for w in workflows},
        has_history=_has_history(),
    )


@bp.route("/new", methods=["GET", "POST"])
def create():
    """Name a new workflow; the editor opens next."""
    form = forms.NameForm()
    if form.validate_on_submit():
        workflow = services.create_workflow(form.name.data)
        flash(f"Workflow “{workflow.name}” created. Choose its trigger, then add steps.", "success")
        return htmx.redirect_to(url_for("workflows.edit", workflow_id=workflow.id))
    return render_template("workflows/new.html", form=form), 422 if form.errors else 200


@bp.post("/<int:workflow_id>/rename")
def rename(workflow_id):
    """A new name for the workflow."""
    workflow = _get(workflow_id)
    form = forms.NameForm()
    if not form.validate():
        return _render(workflow, status=422, name_form=form, **_unsaved(workflow))
    editing.rename(workflow, form.name.data)
    return _done(workflow, "Renamed.", **_unsaved(workflow))


@bp.post("/<int:workflow_id>/duplicate")
def duplicate(workflow_id):
    """A draft copy, opened in the editor."""
    copy = editing.duplicate(_get(workflow_id))
    flash(f"Duplicated as “{copy.name}”, a draft.", "success")
    return htmx.redirect_to(url_for("workflows.edit", workflow_id=copy.id))


@bp.route("/<int:workflow_id>/delete", methods=["GET", "POST"])
def delete(workflow_id):
    """Confirm, then delete the workflow and its history."""
    workflow = _get(workflow_id)
    if request.method == "GET":
        count = editing.counts([workflow.id])[workflow.id]
        return render_template("workflows/delete.html", workflow=workflow, count=count)
    name = workflow.name
    editing.delete_workflow(workflow)
    flash(f"“{name}” was deleted.", "success")
    return htmx.redirect_to(url_for("workflows.list"))


# --- the editor ------------------------------------------------------------------------------------


@bp.get("/<int:workflow_id>")
def edit(workflow_id):
    """The editor: trigger on top, then the steps, then the settings."""
    return _render(_get(workflow_id))


@bp.post("/<int:workflow_id>/trigger")
def trigger(workflow_id):
    """Choose the trigger (action=switch only shows the new type's fields) and save it."""
    workflow = _get(workflow_id)
    form = forms.TriggerForm()
    if request.form.get("action") == "switch":
        return _render(workflow, TRIGGER, trigger_form=form, trigger_dirty=True)
    if errors := editing.set_trigger(workflow, form.trigger_type.data, form.config()):
        return _render(workflow, TRIGGER, 422, {"trigger": errors}, trigger_form=form)
    if secret := services.ensure_webhook_secret(workflow):
        message = "Trigger saved. Copy the webhook URL now: it is shown only this once."
        return _show_webhook_url(workflow, secret, message, WITH_HEAD, part=TRIGGER, trigger_saved=True)
    return _done(workflow, "Trigger saved.", "trigger", WITH_HEAD, part=TRIGGER, trigger_saved=True)


def _show_webhook_url(workflow, secret, message, fragment=TRIGGER, **overrides):
    """The answer that shows a new inbound webhook URL, once. Not Post/Redirect/Get: carrying the
    secret to a GET would put it in the session cookie (as for API keys)."""
    url = _webhook_url(workflow, secret)
    if not htmx.is_htmx():
        flash(message, "success")
        return _render(workflow, new_webhook_url=url, **overrides)
    return htmx.trigger(
        _render(workflow, fragment, flash_message=message, new_webhook_url=url, **overrides), "form-saved"
    )


@bp.post("/<int:workflow_id>/webhook-secret")
def regenerate(workflow_id):
    """A new webhook URL, shown once; the old one stops working."""
    workflow = _get(workflow_id)
    had_one = bool(workflow.webhook_digest)
    secret = services.regenerate_secret(workflow)
    message = "New webhook URL made: copy it now." + (" The old one no longer works." if had_one else "")
    return _show_webhook_url(workflow, secret, message, replaced_webhook_url=had_one)


@bp.post("/<int:workflow_id>/steps")
def add(workflow_id):
    """Add a step of the chosen type at a position of the top list, or of an if/else step's branch
    (parent: its id; branch: yes or no). The new card's first field gets the focus."""
    workflow = _get(workflow_id)
    step_type = request.form.get("type", "")
    if actions.get(step_type) is None:
        abort(400)
    parent = request.form.get("parent") or None
    try:
        step = editing.add_step(
            workflow, step_type, request.form.get("at", type=int), parent, request.form.get("branch", "yes")
        )
    except ValueError:
        abort(400)
    if "secret" in step["config"]:
        session[REVEAL] = step["id"]
    message = f"Added “{actions.get(step_type).LABEL}”."
    return _done(workflow, message, f"step-{step['id']}", focus=step["id"], new_step=step["id"], **_unsaved(workflow))


@bp.post("/<int:workflow_id>/steps/<step_id>")
def save(workflow_id, step_id):
    """Save one card; the message goes beside its field (422) and nothing is saved while one is wrong."""
    workflow = _get(workflow_id)
    step = _step(workflow, step_id)
    form = forms.step_form(step, request.form)
    if form is None:
        abort(400)
    if form.edit(request.form.get("action")):  # "add condition" and the like: the card changes, unsaved
        return _render(workflow, WITH_HEAD, part=STEP, drafts={step_id: form}, step_id=step_id)
    errors = editing.save_step(workflow, step_id, forms.step_key(form, step), form.config())
    if errors:
        return _render(workflow, WITH_HEAD, 422, {step_id: errors}, part=STEP, drafts={step_id: form}, step_id=step_id)
    # The later cards' custom values and link-step lists follow the saved step (its key may be new).
    anchor = f"step-{step_id}"
    return _done(workflow, "Step saved.", anchor, WITH_HEAD, part=STEP, saved=step_id, step_id=step_id, refresh=True)


@bp.post("/<int:workflow_id>/steps/<step_id>/secret")
def step_secret(workflow_id, step_id):
    """A new signing secret for a step (a webhook), shown once; the card keeps its unsaved edits."""
    workflow = _get(workflow_id)
    step = _step(workflow, step_id)
    if "secret" not in (step.get("config") or {}):
        abort(400)
    editing.regenerate_step_secret(workflow, step_id)
    session[REVEAL] = step_id
    form = forms.step_form(step, request.form) if any(k.startswith(f"s{step_id}-") for k in request.form) else None
    message = "New signing secret made: copy it now. Publish again for contacts who enter from now on to use it."
    overrides = {"drafts": {step_id: form}} if form else {}
    return _done(workflow, message, f"step-{step_id}", WITH_HEAD, part=STEP, step_id=step_id, **overrides)


@bp.post("/<int:workflow_id>/steps/<step_id>/move")
def move(workflow_id, step_id):
    """Move a step up or down by one."""
    workflow = _get(workflow_id)
    _step(workflow, step_id)
    direction = "up" if request.form.get("direction") == "up" else "down"
    editing.move_step(workflow, step_id, direction)
    message = f"Step moved {direction}."
    return _done(workflow, message, f"step-{step_id}", focus=step_id, focus_button=direction, **_unsaved(workflow))


@bp.route("/<int:workflow_id>/steps/<step_id>/delete", methods=["GET", "POST"])
def remove(workflow_id, step_id):
    """Confirm (on the card, or a page without JavaScript), then delete the step."""
    workflow = _get(workflow_id)
    step = _step(workflow, step_id)
    if request.method == "GET":  # the card asks; what was typed in it stays (hx-include)
        return _render(workflow, WITH_HEAD, part=STEP, step_id=step_id, confirm=step_id, **_unsaved(workflow))
    editing.delete_step(workflow, step_id)
    label = actions.get(step["type"]).LABEL if actions.get(step["type"]) else step["type"]
    return _done(workflow, f"Deleted “{label}”.", "steps", **_unsaved(workflow))


@bp.get("/<int:workflow_id>/steps/<step_id>")
def card(workflow_id, step_id):
    """One card again ("Keep it" after asking to delete), with what was typed in it (hx-include)."""
    workflow = _get(workflow_id)
    _step(workflow, step_id)
    if not htmx.is_htmx():
        return redirect(_back(workflow, f"step-{step_id}"), 303)
    return _render(workflow, WITH_HEAD, part=STEP, step_id=step_id, **_unsaved(workflow))


@bp.get("/<int:workflow_id>/steps/<step_id>/preview")
def preview(workflow_id, step_id):
    """The email as the chosen contact would read it, from the card's current (unsaved) text."""
    workflow = _get(workflow_id)
    step = _step(workflow, step_id)
    form = forms.step_form(step, request.args) if any(k.startswith(f"s{step_id}-") for k in request.args) else None
    form = form or forms.step_form(step)
    contact = db.session.get(Contact, request.args.get("contact_id", type=params.db_id) or 0)
    result = _preview(workflow, step, form.config() if form else {}, contact)
    return htmx.render(
        "workflows/preview.html", "workflows/_preview.html", workflow=workflow, step=step, contact=contact, **result
    )


def _preview(workflow, step, config, contact) -> dict:
    """Subject and body rendered with the contact's values; example values for links (made per contact)."""
    if contact is None:
        return {"problems": ["Choose a contact to preview the email for."]}
    earlier = program.before(workflow.steps or [], step["id"]) or []
    later = [step, *program.after(workflow.steps or [], step["id"])]
    problems = [
        *merge.check(
            config.get("subject", ""),
            earlier,
            later_steps=later,
            calendar=merge.has_calendar(earlier, workflow.trigger_type),
            label="Subject",
            outputs_of=actions.outputs_of,
        ),
        *merge.check(
            config.get("body", ""),
            earlier,
            later_steps=later,
            calendar=merge.has_calendar(earlier, workflow.trigger_type),
            label="Message",
            outputs_of=actions.outputs_of,
        ),
    ]
    if problems:
        return {"problems": problems}
    base = current_app.config["BASE_URL"].rstrip("/")
    steps, calendar = {}, None
    for earlier_step in earlier:
        if earlier_step.get("type") == "generate_link":
            calendar = db.session.get(Calendar, (earlier_step.get("config") or {}).get("calendar_id") or 0)
            steps[earlier_step.get("key")] = {
                "url": f"{base}/book/…(a new one-time link for each contact)",
                "calendar_name": calendar.name if calendar else "",
                "expires_at": "(set when the link is made)",
            }
    values = {
        "contact": merge.contact_values(contact),
        "calendar": merge.calendar_values(calendar),
        "booking": PREVIEW_BOOKING,
        "steps": steps,
        "workflow": {"name": workflow.name, "sender_name": workflow.sender_name or ""},
    }
    subject = one_line(merge.render(config.get("subject", ""), values))
    return {"problems": [], "subject": subject, "body": merge.render(config.get("body", ""), values)}


@bp.post("/<int:workflow_id>/settings")
def settings(workflow_id):
    """Re-entry and sender name."""
    workflow = _get(workflow_id)
    form = forms.SettingsForm()
    if not form.validate():
        return _render(workflow, SETTINGS, 422, settings_form=form)
    editing.save_settings(workflow, form.allow_reentry.data, form.sender_name.data or "")
    return _done(workflow, "Settings saved.", "settings", WITH_HEAD, part=SETTINGS, settings_saved=True)


@bp.post("/<int:workflow_id>/publish")
def publish(workflow_id):
    """Check the whole workflow and freeze it as the next version; problems are shown on their cards."""
    workflow = _get(workflow_id)
    try:
        version = services.publish(workflow)
    except services.WorkflowInvalid as exc:
        count = sum(len(fields) for fields in exc.errors.values())
        message = f"Not published: {count} problem{'s' if count != 1 else ''} to fix, shown below."
        return _render(workflow, status=422, errors=exc.errors, error_message=message, **_unsaved(workflow))
    message = f"Published version {version.number}. Contacts who enter now run it."
    return _done(workflow, message, **_unsaved(workflow))


@bp.post("/<int:workflow_id>/pause")
def pause(workflow_id):
    """Stop enrolling; contacts already in wait."""
    workflow = _get(workflow_id)
    if workflow.status != "published":
        abort(409)
    services.pause(workflow)
    message = "Paused: nobody new enters, and contacts already in wait until you resume."
    return _done(workflow, message, **_unsaved(workflow))


@bp.post("/<int:workflow_id>/resume")
def resume(workflow_id):
    """Enrol again; waiting contacts continue."""
    workflow = _get(workflow_id)
    if workflow.status != "paused":
        abort(409)
    services.resume(workflow)
    return _done(workflow, "Resumed.", **_unsaved(workflow))
