"""The JSON API: its endpoints, its keys, and its OpenAPI document checked on a live server."""
