"""Contacts: the people who receive one-time booking links."""

from webapp.contacts.views import bp

__all__ = ["bp"]
