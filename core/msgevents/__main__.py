"""``python -m msgevents``: the command line."""

from msgevents.cli import main

main()
