"""Errors that the CLI reports as one line and exit status 2."""


class UsageError(Exception):
    """Bad input from the user (arguments, files, data)."""


class BadInput(UsageError, ValueError):
    """A bad option value or file content (``autost.validate``): also a ``ValueError``, which the
    architecture and search-space readers have always raised."""
