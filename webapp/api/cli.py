"""`flask create-api-key NAME`: make a key from the command line (printed once)."""

import click

from webapp.api import keys


@click.command("create-api-key")
@click.argument("name")
def create_api_key_command(name):
    """Create an API key called NAME and print it; it is shown only this once."""
    try:
        row, key = keys.create_key(name)
    except keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(key)
    click.echo(f"API key {row.prefix}… ({row.name}) created. Store it now: it cannot be shown again.", err=True)


def register(app):
    """Attach the command to `flask`."""
    app.cli.add_command(create_api_key_command)
