"""The `hazardnet` command line: typer commands, the demo and its sample data, the progress display."""
