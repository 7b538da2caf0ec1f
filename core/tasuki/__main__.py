"""``python -m tasuki`` (and ``torchrun -m tasuki``) runs the CLI."""

from tasuki.cli import main

main()
