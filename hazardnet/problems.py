"""What went wrong, in one Chinese sentence, wherever it is said: a file or folder a run could not use, and whether
an exception already is a sentence for the person who started the run (the command line's last line, a failed run's
message in the Prefect UI: flows/failure_messages.py). Cross-cutting: imports nothing of the project."""

from __future__ import annotations

import re


def in_chain(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """`exc` or the exception it was raised from / during, if one is a `kind` (a flow may wrap what it raised)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


_ERRNO_REASONS = {
    "ENOENT": "不存在", "EACCES": "没有访问权限", "EPERM": "没有访问权限", "EROFS": "位于只读的磁盘上，无法写入",
    "ENAMETOOLONG": "名称过长", "EISDIR": "是一个文件夹，而不是文件", "ENOTDIR": "路径中有一段不是文件夹",
    "EEXIST": "已存在", "ENOSPC": "所在磁盘已满", "EDQUOT": "所在磁盘已超出配额",
}


def file_problem(exc: BaseException) -> str | None:
    """The Chinese sentence for a file or folder the run could not use (None: another problem)."""
    import errno

    found = in_chain(exc, OSError)
    if found is None or not getattr(found, "filename", None):
        return None
    reason = _ERRNO_REASONS.get(errno.errorcode.get(found.errno or 0, ""), f"无法使用（{found.strerror or found}）")
    return f"文件或文件夹“{found.filename}”{reason}。"


# packages whose exception classes carry a Chinese sentence by contract (MailError.reason, IntakeError,
# SettingsError, PaperUnavailable, flows.mailing.Undelivered …)
OUR_PACKAGES = ("hazardnet", "flows", "schemas")

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LETTER = re.compile(r"[^\W\d_]")  # a letter of any script (a Chinese character is one)
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|‘[^’]*’")


def sentence_for_person(exc: BaseException) -> str | None:
    """The Chinese sentence `exc` already is for the person who started the run (None: a fault of the system).

    Ours: an exception of this project's own classes whose message has Chinese in it (they are raised with a
    sentence for the operator, which may begin with a setting's name: `HAZARDNET_SMTP_CA_FILE 指定的 CA 证书文件 …
    不存在。`); a plain ValueError or RuntimeError whose message begins in Chinese (`settings.parse_date`,
    `flows.mailing.delivery_failure` …), not one of Python's or a library's own messages that merely quote a
    Chinese value (`invalid literal for int() with base 10: '格尔木'`); no KeyError, TypeError … (programming faults,
    whatever they quote); and a file or folder the run could not use, named as the command line names it
    (`文件或文件夹“…”不存在。`, hazardnet.cli.problems.file_problem)."""
    text = str(exc)
    kind = type(exc)
    if kind.__module__.split(".")[0] in OUR_PACKAGES:
        return text if CJK.search(text) else None
    if kind in (ValueError, RuntimeError):
        return text if _written_in_chinese(text) else None
    if isinstance(exc, OSError) and getattr(exc, "filename", None):
        return file_problem(exc)  # the command line's sentence for it, word for word
    return None


def _written_in_chinese(text: str) -> bool:
    """Its first word is Chinese: the first letter outside quotes, after any digits and punctuation, is a Chinese
    character (`2 个收件人未能送达——…`, `“Gem”不是已配置的县(市)`; not `'格尔木' is not a valid County`)."""
    first = LETTER.search(QUOTED.sub(" ", text))
    return first is not None and CJK.match(first.group()) is not None
