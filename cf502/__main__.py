"""`python -m cf502` is the `cf502` command."""

from cf502.cli import entry

entry()
