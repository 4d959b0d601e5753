"""`python -m kithkin`: the same as the `kithkin` executable."""

from kithkin.cli.entry import main

main()
