#!/usr/bin/env python3
"""AutoST launcher: `python run.py --help` lists the subcommands."""
import sys

from autost.cli import main

if __name__ == "__main__":
    sys.exit(main())
