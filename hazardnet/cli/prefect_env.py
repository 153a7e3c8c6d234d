"""The project's Prefect settings (`prefect.toml` in the checkout) for every `hazardnet` command, wherever it runs.

Prefect reads ./prefect.toml only in the folder a process starts in. An operator runs `hazardnet` from the folder of
their data, not from the checkout: there Prefect's defaults applied — its temporary server had 20 s to come up (a busy
two-core machine failed with "Timed out while attempting to connect to ephemeral Prefect API server") and recorded
every task run's events one transaction at a time (it fell behind and cancelled its last writes at exit). So every
command takes prefect.toml's values as PREFECT_… environment defaults: variables an operator set still win, and a
folder with a prefect.toml of its own keeps it (Prefect ranks variables above the file)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
PREFECT_TOML = CHECKOUT / "prefect.toml"


def prefect_toml_environment(path: Path = PREFECT_TOML) -> dict[str, str]:
    """The project's `prefect.toml` as PREFECT_… environment variables (Prefect reads ./prefect.toml only in
    the folder it is started in; variables apply wherever). Empty when the file is not there."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    env: dict[str, str] = {}

    def walk(prefix: list[str], node: dict) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk([*prefix, key], value)
            else:
                text = ("true" if value else "false") if isinstance(value, bool) else str(value)
                env["_".join(["PREFECT", *prefix, key]).upper()] = text
    walk([], data)
    return env


def use_project_prefect_settings(cwd: Path | None = None) -> None:
    """Put prefect.toml's values into this process's environment as defaults (its children inherit them), unless the
    current folder has a prefect.toml of its own."""
    if ((cwd or Path.cwd()) / "prefect.toml").is_file():
        return
    for key, value in prefect_toml_environment().items():
        os.environ.setdefault(key, value)
