"""A failed run's state message in the Prefect UI: our Chinese sentence alone, masked of mobiles and addresses.

When a flow or task run raises, Prefect writes "Flow run encountered an exception: <Type>: <message>" (a task run:
"Task run encountered an exception <Type>: <message>") as the run's state message: the line the prefecture's
staff read on the run's page and in the run list. Two things are wrong with it for them:

- the English prefix and the exception's type in front of a sentence written for them (a Run form's date that
  does not parse, a directory with no usable address, a recipient who could not be reached …). A run that failed
  on such a condition now states the sentence alone: `日期“2026/11/15”格式不正确，请写成 YYYY-MM-DD，例如 2026-11-15。`
- nothing tells them when it is not their input but a fault of the system (a programming error, a database that
  went away). Such a failure keeps Prefect's type and message, after `PROGRAM_FAULT`, which says so in Chinese.

Which exception is "already a sentence for a person" is decided by `sentence_for_person`. Either way the message
is masked with the same `redact` as the log lines (`flows.redaction`): a state message is no log record, so
`RedactingFilter` never sees it.

Prefect 3.9 has no setting for this message: `exception_to_failed_state` (asynchronous, `prefect.states`) and
`exception_to_failed_state_sync` (`prefect._internal.states`) build it as the engine's prefix + `format_exception`,
and the flow and task engines import both by name. `install` rebinds those names to wrappers that let Prefect
build the state (result record and all) and then reword its message; only the message of a run that raised in its
own code is touched (the engines' "… encountered an exception" prefix), any other failure Prefect builds this way
(a parameter validation, a worker's submission) keeps Prefect's message. `format_exception` itself is replaced by
a masking one, for the crashed states' messages, which keep Prefect's wording. `tests/test_failure_messages.py`
pins the names and the prefixes, and reads real runs' messages back from the server.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import prefect._internal.states as internal_states
import prefect.flow_engine as flow_engine
import prefect.states as states
import prefect.task_engine as task_engine

from flows.redaction import redact
from hazardnet.runtime import sentence_for_person

# What a person reads in front of the type and message of an error that is not theirs to fix: not a mistake in
# what they filled in, and someone who looks after the system must look at it (and needs the type to do so).
PROGRAM_FAULT = "系统内部错误（并非所填内容有误），请联系系统管理员："

# The messages the flow and task engines pass for an exception raised in the run's own code (Prefect 3.9,
# flow_engine / task_engine `handle_exception`).
ENGINE_MESSAGES = ("Flow run encountered an exception:", "Task run encountered an exception")

_prefect_format_exception = states.format_exception
_prefect_to_failed_state = states.exception_to_failed_state
_prefect_to_failed_state_sync = internal_states.exception_to_failed_state_sync


def format_exception_redacted(exc: BaseException, tb: TracebackType | None = None) -> str:
    """Prefect's `format_exception`, with mobiles and email addresses masked."""
    return redact(_prefect_format_exception(exc, tb))


def failure_message(exc: BaseException) -> str:
    """The state message of a run that raised `exc`: the sentence alone if it is one for a person, else
    `PROGRAM_FAULT` and Prefect's "<Type>: <message>"; masked either way."""
    sentence = sentence_for_person(exc)
    if sentence is not None:
        return redact(sentence)
    return PROGRAM_FAULT + format_exception_redacted(exc)


def _reworded(state: Any, exc: BaseException | None, message: str) -> Any:
    """`state` with `failure_message(exc)` as its message when Prefect built it for an exception of the run's code."""
    if exc is not None and message in ENGINE_MESSAGES:
        state.message = failure_message(exc)
    return state


async def exception_to_failed_state(exc: BaseException | None = None, *args: Any, **kwargs: Any) -> Any:
    """Prefect's `exception_to_failed_state`, its message reworded (`failure_message`)."""
    state = await _prefect_to_failed_state(exc, *args, **kwargs)
    return _reworded(state, exc, kwargs.get("message", ""))


def exception_to_failed_state_sync(exc: BaseException | None = None, *args: Any, **kwargs: Any) -> Any:
    """Prefect's `exception_to_failed_state_sync`, its message reworded (`failure_message`)."""
    state = _prefect_to_failed_state_sync(exc, *args, **kwargs)
    return _reworded(state, exc, kwargs.get("message", ""))


def install() -> None:
    """Make every failed or crashed run of this process state a masked message, a failed one in our words
    (idempotent)."""
    for module in (states, internal_states):
        module.format_exception = format_exception_redacted
    for module in (states, flow_engine, task_engine):
        module.exception_to_failed_state = exception_to_failed_state
    for module in (internal_states, task_engine):
        module.exception_to_failed_state_sync = exception_to_failed_state_sync
