"""`python -m cf502` is the `cf502` command."""

from cf502.entry import main

main()
