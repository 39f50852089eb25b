"""Fixtures of the workflow tests."""

import pytest

from webapp.workflows import services


@pytest.fixture
def workflow(app):
    """A new draft workflow, started by hand, with no steps: what the editor opens on."""
    return services.create_workflow("Send a link", "manual")
