"""Hostile or odd input: no 5xx anywhere, single-line text refused, tokens kept out of logs, secret key rotation."""
