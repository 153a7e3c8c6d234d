"""Every kind of message the code writes to the delivery ledger has its Chinese word (delivery.ledger.KIND_ZH),
which the hazard file (一患一档) shows instead of the code's value.

The kinds are read from the source (ast): the first argument (or `kind=`) of every `Dispatch(…)`, `.claim(…)` and
`deliver_items(…)` call, a string or a module-level name resolved by importing the module. A call whose kind is a
local name must be listed in PASSED_ON with the kinds that reach it, so a new call site cannot slip by."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALLS = {"Dispatch", "claim", "deliver_items"}


def _passed_on() -> dict[tuple[str, str], set[str]]:
    """(module, local name) -> the kinds it carries, for calls that hand a kind on rather than name it."""
    from hazardnet.publish import drill_reminders, reminders

    return {
        ("hazardnet.delivery.dispatch", "d.kind"): set(),  # a Dispatch's own kind: its construction is checked
        ("hazardnet.delivery.ledger", "kind"): set(),  # deliver_items(kind=…): called by the dispatcher only
        ("hazardnet.delivery.sms", "kind"): set(),  # the SMS side of the dispatcher
        ("hazardnet.jobs.reminders", "kind"): set(reminders.KIND_ZH),  # REINSPECTION, UNNOTIFIED
        ("hazardnet.jobs.customer_checks", "kind"): {drill_reminders.KIND},  # reminder_dispatches' kind
    }


def _kind_arg(call: ast.Call) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == "kind":
            return kw.value
    return call.args[0] if call.args else None


def ledger_kinds_in_the_code() -> tuple[set[str], list[tuple[str, str]]]:
    """(every kind the code writes to the ledger, call sites whose kind could not be told)."""
    passed_on = _passed_on()
    kinds: set[str] = set()
    unknown: list[tuple[str, str]] = []
    for path in sorted([*(ROOT / "hazardnet").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]):
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name not in CALLS or (arg := _kind_arg(node)) is None:
                continue
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                kinds.add(arg.value)
                continue
            text = ast.unparse(arg)
            value = getattr(importlib.import_module(module_name), text, None) if isinstance(arg, ast.Name) else None
            if isinstance(value, str):
                kinds.add(value)
            elif (module_name, text) in passed_on:
                kinds |= passed_on[(module_name, text)]
            else:
                unknown.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return kinds, unknown


def test_every_ledger_kind_in_the_code_has_its_chinese_word():
    from hazardnet.delivery.ledger import KIND_ZH

    kinds, unknown = ledger_kinds_in_the_code()
    assert not unknown, f"ledger kinds this test cannot tell (add them to _passed_on): {unknown}"
    # the kinds of every job: the enumeration found them all, not just some
    assert {"warning", "reminder", "supervision", "notice", "reinspection", "unnotified", "bulletin", "quarterly",
            "grid", "drill", "rejection", "directory", "mail_check", "mail_reply", "mail_verdict",
            "mail_quarantine"} <= kinds
    missing = sorted(k for k in kinds if not KIND_ZH.get(k))
    assert not missing, f"ledger kinds without a Chinese word in delivery.ledger.KIND_ZH: {missing}"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in KIND_ZH[k]) for k in kinds)
