"""Admins: sign-in, passwords, the CLI, and sessions that end when they should."""
