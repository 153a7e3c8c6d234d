"""A failed run's state message — what the Prefect UI shows on the run's page, no log line — masks mobile
numbers and email addresses as the log lines do (flows.failure_messages)."""

from __future__ import annotations

import asyncio

import pytest

SECRET_MOBILE, SECRET_MAIL = "13912345678", "zhang.san@example.com"


def test_every_flow_of_the_package_masks_failure_messages():
    import prefect._internal.states as internal_states
    import prefect.states as states

    import flows  # noqa: F401 - installs it
    from flows.failure_messages import format_exception_redacted

    # the synchronous engines format through prefect._internal.states, the asynchronous ones through
    # prefect.states: if a Prefect upgrade moves the name, this fails
    assert states.format_exception is format_exception_redacted
    assert internal_states.format_exception is format_exception_redacted
    assert "format_exception(exc)" in __import__("inspect").getsource(internal_states.exception_to_failed_state_sync)


def test_the_masked_message_keeps_the_rest():
    from flows.failure_messages import format_exception_redacted

    text = format_exception_redacted(ValueError(f"收件人 {SECRET_MOBILE}、{SECRET_MAIL} 拒收"))
    assert text == "ValueError: 收件人 139****5678、***@example.com 拒收"


def test_a_failed_flow_and_task_run_state_no_mobile_or_address(prefect_harness):
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    import flows  # noqa: F401

    @task(name="发送")
    def send() -> None:
        raise ValueError(f"收件人 {SECRET_MOBILE} / {SECRET_MAIL} 拒收")

    @flow(name="失败信息检查")
    def run() -> None:
        send()

    state = run(return_state=True)
    assert state.is_failed()

    async def read():
        async with get_client() as client:
            for _ in range(300):  # a task run's states reach the server as events, recorded a moment later
                flow_run = await client.read_flow_run(state.state_details.flow_run_id)
                task_runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
                if task_runs and all(t.state is not None and t.state.is_failed() for t in task_runs):
                    break
                await asyncio.sleep(0.1)
            return flow_run, task_runs

    flow_run, task_runs = asyncio.run(read())
    messages = [flow_run.state.message] + [t.state.message for t in task_runs]
    assert len(messages) == 2 and all(messages), messages
    for message in messages:
        assert SECRET_MOBILE not in message and SECRET_MAIL not in message, message
        assert "ValueError" in message and "139****5678" in message and "***@example.com" in message, message
