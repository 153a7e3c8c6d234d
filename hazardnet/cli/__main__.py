"""`python -m hazardnet.cli` runs the CLI (as `python -m hazardnet` does)."""

from hazardnet.cli.main import main

main()
