"""What went wrong, in one Chinese sentence: a Prefect server that refuses us or cannot be reached, a file or
folder a run could not use (shared by the entry point and the commands that report several parts' failures)."""

from __future__ import annotations

from hazardnet.runtime import file_problem, in_chain  # noqa: F401 - the entry point's, and shared with the flows


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
