"""Command-line usage mistakes (a missing option, an unknown one, a value that is not a number …) as one line of
Chinese: typer (through its own copy of click) words them in English and the entry point would otherwise
report them as a failed run."""

from __future__ import annotations

import re

try:  # typer ≥ 0.2x ships its own copy of click; older typers raise click's own classes
    from typer._click import exceptions as _typer_click
except ImportError:  # pragma: no cover - depends on the installed typer
    _typer_click = None
import click.exceptions as _click

_FAMILIES = [m for m in (_typer_click, _click) if m is not None]
CLICK_ERRORS: tuple[type[Exception], ...] = tuple(m.ClickException for m in _FAMILIES)


def _is(exc: Exception, name: str) -> bool:
    return any(isinstance(exc, getattr(m, name)) for m in _FAMILIES if hasattr(m, name))


def _hint(exc: Exception) -> str:
    hint = getattr(exc, "param_hint", None)
    if hint is None and getattr(exc, "param", None) is not None:
        param = exc.param
        if getattr(param, "param_type_name", "") == "argument" and getattr(param, "metavar", None):
            return str(param.metavar)  # its name in the help (台账文件), not the Python one (file)
        opts = [o for o in getattr(param, "opts", []) if o.startswith("--")] or list(getattr(param, "opts", []))
        hint = opts[0] if opts else (getattr(param, "human_readable_name", None) or param.name)
    if isinstance(hint, (list, tuple)):
        hint = " / ".join(str(h) for h in hint)
    return str(hint or "").strip("'\"") or "参数"


def _kind(exc: Exception) -> str:
    """What the option's value should look like, from its declared type."""
    param = getattr(exc, "param", None)
    annotation = getattr(param, "type", None)
    name = (getattr(annotation, "name", None) or getattr(param, "param_type_name", "") or "").lower()
    message = str(getattr(exc, "message", "")).lower()
    # a range (typer's min=/max=): on the option itself (typer's pydantic coercion) or on click's IntRange
    low = getattr(param, "min", None) if getattr(param, "min", None) is not None else getattr(annotation, "min", None)
    high = getattr(param, "max", None) if getattr(param, "max", None) is not None else getattr(annotation, "max", None)
    if low is not None or high is not None:
        described = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        what = "整数" if "integer" in name or described is int else "数字"
        if low is not None and high is not None:
            return f"应为 {low}–{high} 之间的{what}"
        return f"应为不小于 {low} 的{what}" if low is not None else f"应为不大于 {high} 的{what}"
    if "integer" in name or "int" == name or "valid integer" in message:
        return "应为整数"
    if "float" in name or "valid number" in message:
        return "应为数字"
    return "不正确"


def usage_message(exc: Exception) -> str:
    """The Chinese sentence for a usage mistake raised by typer/click."""
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "hazardnet"
    see = f"用法见：{path} --help"
    message = str(getattr(exc, "message", "") or "")
    if _is(exc, "MissingParameter"):
        return f"缺少参数 {_hint(exc)}。{see}"
    if _is(exc, "BadParameter"):
        return f"参数 {_hint(exc)} 的值{_kind(exc)}。{see}"
    if _is(exc, "NoSuchOption"):
        name = getattr(exc, "option_name", "") or ""
        possible = sorted(getattr(exc, "possibilities", None) or [])
        guess = f"（是否要写 {'、'.join(possible)}？）" if possible else ""
        return f"没有选项 {name}{guess}。{see}"
    if _is(exc, "BadOptionUsage"):
        name = getattr(exc, "option_name", "") or ""
        if "requires" in message and "argument" in message:
            return f"选项 {name} 后面需要写一个值。{see}"
        return f"选项 {name} 的用法不正确。{see}"
    found = re.match(r"No such command '(.*)'", message)
    if found:
        return f"没有命令“{found.group(1)}”。可用的命令见：hazardnet --help"
    found = re.match(r"Got unexpected extra arguments? \((.*)\)", message)
    if found:
        return f"多余的参数：{found.group(1)}。{see}"
    return f"命令用法不正确。{see}"


def is_no_args_help(exc: Exception) -> bool:
    return _is(exc, "NoArgsIsHelpError")
