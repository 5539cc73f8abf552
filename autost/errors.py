"""Errors that the CLI reports as one line and exit status 2."""


class UsageError(Exception):
    """Bad input from the user (arguments, files, data)."""
