"""Export and import pages, "New workflow → from a template", and `flask workflows export|import`."""

import sys

import click
from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from webapp.calendars.models import Calendar
from webapp.extensions import db
from webapp.workflows import exchange, starters
from webapp.workflows.models import Workflow

bp = Blueprint("exchange", __name__, url_prefix="/workflows")


class Form(FlaskForm):
    """CSRFProtect checks every POST; several template forms share one page."""

    class Meta:
        csrf = False


class ImportForm(Form):
    file = FileField(
        "Workflow file (.json)",
        [FileRequired("Choose a workflow file (.json) to import.")],
        render_kw={"accept": ".json,application/json"},
    )


class TemplateForm(Form):
    calendar = SelectField("Calendar", [DataRequired("Choose the calendar the links book on.")], choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        calendars = db.session.scalars(
            select(Calendar).where(Calendar.archived_at.is_(None)).order_by(Calendar.name)
        ).all()
        self.calendar.choices = [SelectChoice("", "Choose a calendar…")] + [
            SelectChoice(c.slug, c.name) for c in calendars
        ]
        if len(calendars) == 1 and kwargs.get("formdata", True) is None:  # shown, not submitted
            self.calendar.data = calendars[0].slug  # the only calendar: nothing else to choose


@bp.get("/<int:workflow_id>/export", endpoint="export")
def export_workflow(workflow_id):
    """The workflow's draft as a .json download (no secrets; calendars by slug)."""
    workflow = db.session.get(Workflow, workflow_id) or abort(404)
    headers = {"Content-Disposition": f'attachment; filename="{exchange.filename(workflow)}"'}
    return Response(exchange.dumps(exchange.export_workflow(workflow)), mimetype="application/json", headers=headers)


@bp.route("/import", methods=["GET", "POST"], endpoint="import")
def import_workflow():
    """Upload a workflow file: a new draft opens in the editor, or every problem is listed here."""
    form = ImportForm()
    errors, name = [], ""
    if form.validate_on_submit():
        upload = form.file.data
        name = upload.filename or "the file"
        try:
            workflow = exchange.import_workflow(upload.stream.read(exchange.MAX_BYTES + 1), source=name)
        except exchange.ImportRefused as exc:
            errors = exc.errors
        else:
            flash(f"Imported “{workflow.name}” from {name} as a draft. Check it, then publish.", "success")
            return redirect(url_for("workflows.edit", workflow_id=workflow.id), 303)
    status = 422 if errors or form.errors else 200
    return render_template("workflows/import.html", form=form, errors=errors, filename=name), status


@bp.get("/templates", endpoint="templates")
def list_templates():
    """The templates, each with its outline and, when it needs one, a calendar to choose."""
    return render_template("workflows/templates.html", **_templates_page())


def _templates_page(slug: str = "", form=None, errors=()) -> dict:
    """Every template with a calendar form (the submitted one for `slug`) and its messages."""
    templates = starters.all_templates()
    # One form per card, its fields prefixed with the template's slug: ids stay unique on the page.
    forms = {t.slug: TemplateForm(formdata=None, prefix=t.slug) for t in templates if t.needs_calendar}
    if form is not None:
        forms[slug] = form
    return {"templates": templates, "forms": forms, "errors": {slug: list(errors)}, "chosen": slug}


@bp.post("/templates/<slug>", endpoint="use")
def use_template(slug):
    """A new draft from a template (through the importer), opened in the editor."""
    template = starters.get(slug) or abort(404)
    form = TemplateForm(prefix=slug)
    errors: list[str] = []
    if not template.needs_calendar or form.validate():
        try:
            workflow = starters.create_from(template, form.calendar.data if template.needs_calendar else "")
        except exchange.ImportRefused as exc:
            errors = exc.errors
        else:
            flash(f"Created “{workflow.name}” from the template, as a draft. Check it, then publish.", "success")
            return redirect(url_for("workflows.edit", workflow_id=workflow.id), 303)
    return render_template("workflows/templates.html", **_templates_page(slug, form, errors)), 422


# --- command line ----------------------------------------------------------------------------------

cli = click.Group("workflows", help="Export and import workflows as JSON files.")


@cli.command("export")
@click.argument("workflow_id", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE, not stdout.")
def export_command(workflow_id, output):
    """Print workflow WORKFLOW_ID's draft as JSON (or write it to -o FILE)."""
    workflow = db.session.get(Workflow, workflow_id)
    if workflow is None:
        raise click.ClickException(f"There is no workflow {workflow_id}.")
    text = exchange.dumps(exchange.export_workflow(workflow))
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"Exported “{workflow.name}” to {output}.", err=True)
    else:
        click.echo(text, nl=False)


@cli.command("import")
@click.argument("file", type=click.File("rb"))
def import_command(file):
    """Create a draft workflow from FILE (a workflow export); prints its id and name."""
    try:
        workflow = exchange.import_workflow(file.read(exchange.MAX_BYTES + 1), source=file.name)
    except exchange.ImportRefused as exc:
        click.echo(f"{file.name}: not imported, {len(exc.errors)} problem(s):", err=True)
        for message in exc.errors:
            click.echo(f"  - {message}", err=True)
        sys.exit(1)
    click.echo(f"{workflow.id}\t{workflow.name}")


def init_app(app) -> None:
    """The pages and the `flask workflows` commands."""
    app.register_blueprint(bp)
    app.cli.add_command(cli)
