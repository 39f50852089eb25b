"""Migrations against the models and old rows."""
