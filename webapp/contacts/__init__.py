"""Contacts: the people who receive one-time booking links."""
