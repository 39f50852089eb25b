"""Command-line commands: `flask create-admin`, `flask bootstrap`."""

import secrets
import sys

import click
from flask import current_app

from webapp.auth import services
from webapp.workflows import demo


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("create-admin")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_admin_command(email, password_stdin):
    """Create an admin who can sign in with EMAIL."""
    try:
        user = services.create_admin(email, _read_password(password_stdin))
    except services.AdminError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Admin {user.email} created.")


@click.command("bootstrap")
def bootstrap_command():
    """On an empty database, create a first admin and print its login once."""
    if services.admin_count():
        return
    password = secrets.token_urlsafe(12)
    user = services.create_admin("admin@example.com", password)
    base = current_app.config["BASE_URL"]
    line = "=" * 64
    click.echo(f"\n{line}\n  First admin created. Sign in at {base}/login\n")
    click.echo(f"  Email:    {user.email}\n  Password: {password}\n")
    click.echo(f"  This password is shown only once: change it under Settings.\n{line}\n")
    # A fresh install shows the whole flow at once: the demo calendar, contact and published workflow.
    click.echo(demo.hint(demo.seed()) + "\n")


def init_app(app):
    """Attach the commands to `flask`."""
    for command in (create_admin_command, bootstrap_command):
        app.cli.add_command(command)
