"""`python -m hazardnet` runs the CLI."""

from hazardnet.cli.main import main

main()
