"""A tiny progress channel: long work emits events, a front end (the CLI's progress bar) may listen."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

_listeners: list[Callable[..., None]] = []


def emit(event: str, **data: Any) -> None:
    """Tell every listener that `event` happened (e.g. "total", n=12; "advance", label="格尔木市")."""
    for fn in list(_listeners):
        try:
            fn(event, **data)
        except Exception:  # noqa: BLE001 - a broken display must never break the work
            pass


@contextmanager
def listening(fn: Callable[..., None]):
    """Register `fn` for the duration of a with-block."""
    _listeners.append(fn)
    try:
        yield
    finally:
        _listeners.remove(fn)
