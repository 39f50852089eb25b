"""Contacts: the pages, CSV import and search."""
