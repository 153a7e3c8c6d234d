"""Prefect flows: thin sequences of engine calls, with retries at I/O boundaries and artifacts for the UI."""

from flows import failure_messages as _failure_messages
from flows import heartbeat as _heartbeat
from flows import parameters as _parameters
from flows import temporary_server as _temporary_server

_heartbeat.install()  # any flow of this package ends without Prefect's one-second heartbeat wait
_parameters.install()  # and sends plain parameters without importing FastAPI
_failure_messages.install()  # a failed run's state message is our Chinese sentence, masked as its log lines
_temporary_server.install()  # a temporary server is stopped only once it has recorded every task run sent to it
