"""A flow run's parameters sent as they are when they are plain JSON already, without importing FastAPI.

Prefect 3.9 turns every flow run's parameters into JSON with `fastapi.encoders.jsonable_encoder`
(`Flow.serialize_parameters`), so the first flow run of a process imports FastAPI and its OpenAPI models:
≈0.13–0.2 CPU s of a 2.5 s empty ingest on the 2-core test machine (bench/README.md, "Session 8"). This
project's flows take strings (a home folder, a date written YYYY-MM-DD), numbers and flags, which
`jsonable_encoder` returns unchanged; for those the parameters are copied as they are (tuples as lists, as
`jsonable_encoder` writes them). Any other value — a date object, a model, a path — and the parameters of a
bound method go through Prefect's own `serialize_parameters`, FastAPI and all.
"""

from __future__ import annotations

from typing import Any

from prefect.flows import Flow

_prefect_serialize = Flow.serialize_parameters
_SCALARS = (str, int, float, bool, type(None))
_DEPTH = 8  # deeper containers go to Prefect's encoder (no recursion limit to think about here)


def _plain(value: Any, depth: int = 0) -> bool:
    """True when `value` is JSON as it stands: exact built-in types only (an Enum or str subclass is not)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth >= _DEPTH:
        return False
    if kind in (list, tuple):
        return all(_plain(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    return False


def _copy(value: Any) -> Any:
    if type(value) in (list, tuple):
        return [_copy(v) for v in value]
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    return value


def serialize_plain_parameters(self: Flow, parameters: dict[str, Any]) -> dict[str, Any]:
    """`Flow.serialize_parameters`, without FastAPI when every parameter is plain JSON."""
    if self.ismethod or self.isclassmethod or not all(_plain(v) for v in parameters.values()):
        return _prefect_serialize(self, parameters)
    return {key: _copy(value) for key, value in parameters.items()}


def install() -> None:
    """Make every flow of this process serialize plain parameters without FastAPI (idempotent)."""
    Flow.serialize_parameters = serialize_plain_parameters
