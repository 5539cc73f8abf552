"""The option tables of every command and config section (``autost.options.Option``): each key's
type, default, check and help, written once. The CLI builds its parsers from them, the pipeline
reads its YAML sections with them, and the config dataclasses check themselves with them.

These modules import no torch (the registries they name are read when a parser is built, and
those import no torch either), so ``run.py --help`` answers at once.
"""
