"""Errors a user can cause and fix: the CLI prints their message in one line, without a traceback."""


class UserError(Exception):
    """A mistake in the user's input (config, data, paths); the message says what and how to fix it."""
