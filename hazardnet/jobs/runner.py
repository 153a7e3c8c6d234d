"""How a job's steps run. A job (ingest, bulletin, warnings, …) is one function that lists its steps over a
`Runner`; the engine's `PlainRunner` makes plain calls (tests, the bench, scripts), and `flows.runner.PrefectRunner`
makes each step a Prefect task run (one per workbook or per recipient) for the flows production runs.

One retry policy for I/O: a step marked `io=True` is tried again on a temporary error (`TemporaryMailError`,
which the SMS errors subclass) after each delay of `settings.mail_retry_delays`; after the last delay the error
goes to the step's `on_error` (a failed delivery record, say) or up to the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from hazardnet.delivery.mail import TemporaryMailError

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item of a fan-out

log = logging.getLogger("hazardnet")


@dataclass(frozen=True)
class RetryPolicy:
    """Delays (seconds) between the attempts of an I/O step; one retry per delay."""

    delays: tuple[float, ...] = ()

    @classmethod
    def of(cls, settings) -> RetryPolicy:
        """The policy of these settings (HAZARDNET_MAIL_RETRY_DELAYS="10,60,300"; tests use 0)."""
        return cls(tuple(settings.mail_retry_delays))

    @staticmethod
    def retries_on(exc: BaseException) -> bool:
        """Whether `exc` is worth another attempt (a temporary SMTP or SMS gateway error)."""
        return isinstance(exc, TemporaryMailError)


class Runner(Protocol):
    """What a job needs from whoever runs it."""

    policy: RetryPolicy

    def step(self, name: str, fn: Callable[..., T], *args: Any, io: bool = False,
             on_error: Callable[[BaseException], T] | None = None) -> T:
        """Run `fn(*args)` as one named step; an `io` step retries temporary errors with the policy."""

    def each(self, name: str, fn: Callable[[I], T], items: Sequence[I], *, label: Callable[[I], str],
             io: bool = False, on_error: Callable[[I, BaseException], T] | None = None,
             in_order: Callable[[I], Hashable] | None = None, threads: int = 4) -> list[T]:
        """`fn(item)` for every item, concurrently, results in the items' order: one step per item, named
        `label(item)`. Items with the same `in_order(item)` key run one after the other, in their order."""

    def progress(self, event: str, **data: Any) -> None:
        """Tell a front end (a progress bar) how the job advances ("total", n=…; "advance", label=…)."""

    def info(self, message: str, *args: Any) -> None:
        """A line for the run's log (English, no mobile numbers or addresses)."""

    def secret(self, name: str) -> str:
        """The value of a named secret (a Prefect Secret block); KeyError when there is none."""


def call_with_retries(fn: Callable[..., T], args: Sequence[Any], policy: RetryPolicy) -> T:
    """`fn(*args)`, tried again after each of the policy's delays while it raises a temporary error."""
    for delay in (*policy.delays, None):
        try:
            return fn(*args)
        except Exception as exc:
            if delay is None or not policy.retries_on(exc):
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _handled(call: Callable[[], T], on_error: Callable[[BaseException], T] | None) -> T:
    if on_error is None:
        return call()
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - the job decides what a failed step means (a failed record)
        return on_error(exc)


class PlainRunner:
    """Plain calls: a step is a function call, a fan-out a thread pool."""

    def __init__(self, policy: RetryPolicy | None = None, *,
                 on_progress: Callable[..., None] | None = None):
        self.policy = policy or RetryPolicy()
        self._on_progress = on_progress

    def step(self, name, fn, *args, io=False, on_error=None):
        policy = self.policy if io else RetryPolicy()
        return _handled(lambda: call_with_retries(fn, args, policy), on_error)

    def each(self, name, fn, items, *, label, io=False, on_error=None, in_order=None, threads=4):
        items = list(items)
        policy = self.policy if io else RetryPolicy()

        def one(item):
            handler = (lambda exc: on_error(item, exc)) if on_error else None
            return _handled(lambda: call_with_retries(fn, (item,), policy), handler)

        chains = chained(items, in_order)
        if len(chains) <= 1 or threads <= 1:
            return [one(item) for item in items]
        results: dict[int, Any] = {}

        def run_chain(chain: list[int]) -> None:
            for i in chain:
                results[i] = one(items[i])

        with ThreadPoolExecutor(max_workers=min(threads, len(chains))) as pool:
            for f in [pool.submit(run_chain, c) for c in chains]:
                f.result()
        return [results[i] for i in range(len(items))]

    def progress(self, event, **data):
        if self._on_progress is not None:
            self._on_progress(event, **data)

    def info(self, message, *args):
        log.info(message, *args)

    def secret(self, name):
        raise KeyError(name)  # outside a flow there are no Prefect Secret blocks


def chained(items: Sequence[Any], in_order: Callable[[Any], Hashable] | None) -> list[list[int]]:
    """Indexes of `items` grouped into chains that must run in order (each item alone without `in_order`)."""
    if in_order is None:
        return [[i] for i in range(len(items))]
    chains: dict[Hashable, list[int]] = {}
    for i, item in enumerate(items):
        chains.setdefault(in_order(item), []).append(i)
    return list(chains.values())
