"""What went wrong, in one Chinese sentence: a Prefect server that refuses us or cannot be reached, a file or
folder a run could not use (shared by the entry point and the commands that report several parts' failures)."""

from __future__ import annotations


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


def server_problem(exc: BaseException) -> str | None:
    """The Chinese sentence for a Prefect server that refuses us or cannot be reached (None: another problem)."""
    import os

    import httpx

    url = os.environ.get("PREFECT_API_URL") or "（临时服务器）"
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in (401, 403):
        return (f"Prefect 服务器 {url} 拒绝访问（身份验证失败，HTTP {exc.response.status_code}）：请设置 "
                "PREFECT_API_AUTH_STRING，或用 HAZARDNET_API_AUTH_FILE 指定存放身份验证字符串的文件。")
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return f"无法连接 Prefect 服务器 {url}：请确认服务器已启动、PREFECT_API_URL 正确。"
    return temporary_server_problem(exc)


def temporary_server_problem(exc: BaseException) -> str | None:
    """The Chinese sentence for Prefect's temporary server (a command with no PREFECT_API_URL) that did not come up:
    Prefect raises a RuntimeError carrying the server's whole output, which is no message for a clerk."""
    import os
    import re

    found = in_chain(exc, RuntimeError)
    text = str(found or "")
    if "ephemeral Prefect API server" not in text:
        return None
    use_server = "或启动常驻服务器（hazardnet server）并设置 PREFECT_API_URL。"
    exited = re.search(r"exited with code (-?\d+)", text)
    if exited:
        return f"Prefect 临时服务器未能启动（其进程已退出，代码 {exited.group(1)}）：请查看运行日志后重试，{use_server}"
    wait = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or "20"
    return (f"Prefect 临时服务器未能在 {wait} 秒内启动（本机可能过于繁忙）：请稍后重试，或设置 "
            f"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS 延长等待，{use_server}")
