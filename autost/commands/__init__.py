"""One module per `run.py` subcommand; each has `register(subparsers)` that adds its parser
and sets `func` to a handler taking the parsed arguments and returning an exit status."""
