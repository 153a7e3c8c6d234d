"""`python -m hazardnet` runs the CLI."""

from hazardnet.cli import main

main()
