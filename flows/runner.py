"""Prefect's runner for the engine's jobs: each step a task run (named as the UI shows it), each item of a
fan-out its own task run, I/O steps retried by Prefect with the job's one retry policy."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait

from flows import progress
from flows.redaction import redact
from hazardnet.jobs.runner import RetryPolicy, chained


def _retry_condition(task_, task_run, state) -> bool:
    """Retry only what the policy calls temporary; any other failure ends the task run at once. Prefect asks only
    while retries are left: a retry is told on the progress channel ("retrying"), so the console can say why it
    waits (the policy's delays run to minutes)."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - the failed state's exception is what we look at
        if not RetryPolicy.retries_on(exc):
            return False
        delays = list(task_.retry_delay_seconds or [0])
        attempt = max(int(getattr(task_run, "run_count", 1) or 1), 1)  # the attempt that just failed
        reason = redact(getattr(exc, "reason", None) or str(exc))  # the console prints it: a deferred address masked
        progress.emit("retrying", step=task_.name, reason=reason,
                      delay=delays[min(attempt - 1, len(delays) - 1)], attempt=attempt, retries=task_.retries)
        return True
    return False


class PrefectRunner:
    """Runs a job's steps as Prefect task runs inside the current flow run."""

    def __init__(self, policy: RetryPolicy | None = None):
        self.policy = policy or RetryPolicy()

    def _task(self, name: str, fn: Callable, io: bool, run_name: str | None = None):
        options: dict[str, Any] = {"name": name, "cache_policy": NO_CACHE}
        if io and self.policy.delays:
            options.update(retries=len(self.policy.delays), retry_delay_seconds=list(self.policy.delays),
                           retry_condition_fn=_retry_condition)
        if run_name:
            options["task_run_name"] = run_name
        return task(**options)(fn)

    def step(self, name, fn, *args, io=False, on_error=None):
        def run(args: tuple):
            return fn(*args)

        run.__doc__ = fn.__doc__
        # the run named as the step (读取通讯录), not Prefect's 读取通讯录-365; braces are a format string's
        t = self._task(name, run, io, run_name=name.replace("{", "{{").replace("}", "}}"))
        if on_error is None:
            return t(args)
        state = t(args, return_state=True)
        try:
            return state.result()
        except Exception as exc:  # noqa: BLE001 - the job decides what a failed step means
            return on_error(exc)

    def each(self, name, fn, items, *, label, io=False, on_error=None, in_order=None, threads=4):
        def run(item: Any, label: str):
            return fn(item)

        run.__doc__ = fn.__doc__
        t = self._task(name, run, io, run_name="{label}")
        items = list(items)
        futures: list[Any] = [None] * len(items)
        for chain in chained(items, in_order):
            previous = None
            for i in chain:
                previous = t.submit(items[i], label(items[i]), wait_for=[previous] if previous else None)
                futures[i] = previous
        wait(futures)
        results = []
        for item, future in zip(items, futures):
            if on_error is None:
                results.append(future.result())
                continue
            try:
                results.append(future.result())
            except Exception as exc:  # noqa: BLE001
                results.append(on_error(item, exc))
        return results

    def progress(self, event, **data):
        progress.emit(event, **data)

    def info(self, message, *args):
        get_run_logger().info(message, *args)

    def secret(self, name):
        from prefect.blocks.system import Secret

        try:
            return str(Secret.load(name).get())
        except ValueError:  # Prefect's answer for a block name it does not know
            raise KeyError(name) from None
