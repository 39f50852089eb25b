"""Workflows: the engine, the step types, triggers, history, test runs, exchange and the editor's pages."""
