"""Helpers that publish run summaries as Prefect artifacts (keys: lowercase letters, digits, dashes)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from flows.redaction import redact


def _cell(v: Any) -> Any:
    """Artifact-safe value: dates as text, no NaN/None (they break rendering)."""
    if v is None:
        return ""
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return ""
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, str):
        return redact(v)
    if isinstance(v, (int, float)):
        return v
    return redact(str(v))


# Every artifact is read by whoever opens the Prefect UI: mobile numbers and email addresses are masked
# (139****0001, ***@example.cn) in every cell, text and link text; a recipient is named by its unit.
def publish_table(key: str, rows: Iterable[dict], description: str) -> None:
    rows = [{k: _cell(v) for k, v in r.items()} for r in rows]
    create_table_artifact(key=key, table=rows or [{"说明": "无"}], description=redact(description))


def publish_markdown(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(key=key, markdown=redact(markdown), description=redact(description))


def publish_link(key: str, path: str, text: str, description: str) -> None:
    create_link_artifact(key=key, link=f"file://{path}", link_text=redact(text), description=redact(description))
