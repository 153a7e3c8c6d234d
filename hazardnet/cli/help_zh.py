"""`hazardnet --help` in Chinese: the words typer itself writes around our help texts.

typer (0.29, with its own copy of click) prints "Usage:", "[OPTIONS]", "COMMAND [ARGS]...", the panel titles
Arguments / Options / Commands, "[default: …]", "[required]", "Show this message and exit." and type labels such as
<str> and <bool>. The app asks for Chinese explicitly: its group and every command are `ChineseGroup` /
`ChineseCommand` (`ChineseTyper` makes that the default for `@app.command`). The panel titles and bracketed notes are
module constants of `typer.rich_utils` read while the help is rendered; they are set just before rendering, so that
nothing changes for a command that is only run. tests/test_readme_and_cli.py pins the result for the installed
typer: if a typer upgrade renames any of these, that test fails instead of English coming back silently.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

USAGE_PREFIX = "用法："
OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]…"
HELP_OPTION_TEXT = "显示本帮助并退出。"

# typer.rich_utils constant -> its Chinese wording
RICH_WORDS = {
    "ARGUMENTS_PANEL_TITLE": "参数",
    "OPTIONS_PANEL_TITLE": "选项",
    "COMMANDS_PANEL_TITLE": "命令",
    "ERRORS_PANEL_TITLE": "错误",
    "DEFAULT_STRING": "[默认：{}]",
    "ENVVAR_STRING": "[环境变量：{}]",
    "REQUIRED_LONG_STRING": "[必填]",
    "DEPRECATED_STRING": "（已停用）",
    "ABORTED_TEXT": "已中止。",
    "RICH_HELP": "用法见：{command_path} {help_option}",
}

# the type column: typer's label -> ours ("" for a flag: it takes no value)
TYPE_LABELS = {
    "<bool>": "",
    "<str>": "<文本>",
    "<path>": "<路径>",
    "<int>": "<整数>",
    "<int range>": "<整数>",
    "<float>": "<数字>",
    "<float range>": "<数字>",
    "<list[str]>": "<文本，可写多次>",
}


def _chinese_words(ctx: Any, command: Any) -> None:
    from typer import rich_utils

    for name, words in RICH_WORDS.items():
        if hasattr(rich_utils, name):
            setattr(rich_utils, name, words)
    if not getattr(rich_utils.highlighter, "folds", False):
        rich_utils.highlighter = _folding_highlighter_class()()
    for param in command.get_params(ctx):
        label = TYPE_LABELS.get(str(param.display_type_rich(ctx=ctx)))
        if label is None:
            continue
        # this help's own parameter objects: typer builds them anew for every invocation
        if isinstance(param, TyperArgument):  # its metavar is its name in the usage line: only the type column
            param.display_type_rich = lambda ctx, _label=label: _label
        elif param.metavar is None:
            param.metavar = label


def _folding_highlighter_class() -> type:
    from rich.text import Text
    from typer.rich_utils import OptionHighlighter

    class FoldingHighlighter(OptionHighlighter):
        """typer's highlighter, with our usage prefix, folding long lines of Chinese instead of cutting them: rich
        breaks lines only at spaces, and a table cell (the help of an option or a command) crops a longer run with
        "…" — the end of a Chinese sentence, where its number or condition usually is, was lost."""

        highlights = [*OptionHighlighter.highlights, rf"(?P<usage>{USAGE_PREFIX})"]
        folds = True

        def highlight(self, text: Text) -> None:
            super().highlight(text)
            text.overflow = "fold"

    return FoldingHighlighter


class _ChineseHelp:
    def format_usage(self, ctx: Any, formatter: Any) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix=USAGE_PREFIX)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION_TEXT
        return option

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _chinese_words(ctx, self)
        return super().format_help(ctx, formatter)


class ChineseCommand(_ChineseHelp, TyperCommand):
    """A command whose help is worded in Chinese throughout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options_metavar = OPTIONS_METAVAR


class ChineseGroup(_ChineseHelp, TyperGroup):
    """The `hazardnet` group: its help and its list of commands in Chinese."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options_metavar = OPTIONS_METAVAR
        self.subcommand_metavar = SUBCOMMAND_METAVAR


class ChineseTyper(typer.Typer):
    """A typer app whose group and commands are `ChineseGroup` / `ChineseCommand` unless a command names its own."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", ChineseGroup)
        super().__init__(**kwargs)

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or ChineseCommand, **kwargs)
