"""Contacts: the people who receive one-time booking links."""

# The session events that keep search terms current whatever path writes a contact.
from webapp.contacts import index  # noqa: E402, F401
