"""Whether the consolidated register is up to date, told without reading a hazard row.

Kept apart from `consolidated_register` (which needs pandas and xlsxwriter) so that `hazardnet ingest`
can tell "nothing new" in a fraction of a second: this module needs only the store and the settings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from .settings import Settings
from .store import Store

_CODE_DIGEST: str | None = None


def _code_digest() -> str:
    """The source of everything that shapes the workbook: a new layout means a new workbook. The files
    are found without importing them (importing xlsxwriter and pandas would cost more than the check)."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        from importlib.metadata import version
        from importlib.util import find_spec

        h = hashlib.sha256(version("xlsxwriter").encode())
        for module in ("hazardnet.consolidated_register", "hazardnet.fast_table", "hazardnet.workbook_style",
                       "hazardnet.store", "schemas.headers", "schemas.vocab"):
            h.update(Path(find_spec(module).origin).read_bytes())
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def inputs_fingerprint(store: Store, settings: Settings, as_of: dt.date) -> str:
    """What the consolidated register for `as_of` is made of: the accepted submissions up to that day
    (stored hazard rows never change), the date, the title and county order, and the code. Equal
    fingerprints mean an equal workbook, without reading a single hazard row."""
    basis = {"as_of": as_of.isoformat(), "prefecture": settings.prefecture, "counties": list(settings.counties),
             "submissions": store.accepted_through(as_of), "code": _code_digest()}
    return hashlib.sha256(json.dumps(basis, ensure_ascii=False).encode()).hexdigest()
