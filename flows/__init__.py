"""Prefect flows: thin sequences of engine calls, with retries at I/O boundaries and artifacts for the UI."""
