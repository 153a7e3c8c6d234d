"""`hazardnet server`: the Prefect server with the project's server settings, wherever it is started, and
never open to the network without a password.

Prefect 3.9's basic authentication: the server refuses every API request (but its health probe) whose
`Authorization: Basic …` header does not carry `PREFECT_SERVER_API_AUTH_STRING`; clients and workers send
`PREFECT_API_AUTH_STRING`. The UI is static files: it asks for the string in the browser and every figure it
shows comes from the API. With authentication on, the server's CSRF protection is switched on as well (state
changes from a browser need a token from the server; Prefect's client fetches it itself).
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hazardnet.cli.app import UserError, app, out
from hazardnet.cli.prefect_env import CHECKOUT, prefect_toml_environment  # noqa: F401 - tests import it here too

SERVER_AUTH_ENV = "PREFECT_SERVER_API_AUTH_STRING"
CLIENT_AUTH_ENV = "PREFECT_API_AUTH_STRING"
AUTH_FILE_ENV = "HAZARDNET_API_AUTH_FILE"  # a file holding the auth string (user:password), readable by its owner


def auth_string_from_file(path: str | Path) -> str:
    """The auth string kept in `path` (first line, surrounding blanks ignored); a user error when unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip().splitlines()
    except OSError as exc:
        raise UserError(f"无法读取身份验证文件“{path}”：{exc.strerror or type(exc).__name__}。") from None
    if not text or not text[0].strip():
        raise UserError(f"身份验证文件“{path}”是空的；请写入“用户名:口令”一行。")
    user, colon, password = text[0].strip().partition(":")
    if not (colon and user.strip() and password.strip()):  # never echo the line: it may be the password
        raise UserError(f"身份验证文件“{path}”的第一行不是“用户名:口令”的形式（用户名和口令之间用英文冒号隔开）。")
    return text[0].strip()


def client_credential_from_file() -> None:
    """Every `hazardnet` command: when PREFECT_API_AUTH_STRING is unset and HAZARDNET_API_AUTH_FILE names a file,
    the client's credential comes from that file (into this process's environment, so the flows and any process
    they start send it too). Never printed."""
    path = os.environ.get(AUTH_FILE_ENV)
    if path and not os.environ.get(CLIENT_AUTH_ENV):
        os.environ[CLIENT_AUTH_ENV] = auth_string_from_file(path)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def server_environment(host: str, auth_file: Path | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment `prefect server start` runs in: the project's prefect.toml (an operator's own PREFECT_…
    variables still win), the auth string from `auth_file` when given, CSRF protection with authentication.
    Refuses (UserError) to listen beyond loopback without an auth string."""
    env = dict(os.environ if base is None else base)
    for key, value in prefect_toml_environment().items():
        env.setdefault(key, value)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(CHECKOUT / "flows" / "logging.yml"))
    file = auth_file or (Path(env[AUTH_FILE_ENV]) if env.get(AUTH_FILE_ENV) else None)
    if file is not None and not env.get(SERVER_AUTH_ENV):
        env[SERVER_AUTH_ENV] = auth_string_from_file(file)
    if env.get(SERVER_AUTH_ENV):
        env.setdefault("PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED", "true")
        env.setdefault(CLIENT_AUTH_ENV, env[SERVER_AUTH_ENV])  # the server's own services call its API
    elif not is_loopback(host):
        raise UserError(f"拒绝在 {host} 上无身份验证地开放 Prefect 服务器：请先设置 {SERVER_AUTH_ENV}"
                        f"（或用 --auth-file / {AUTH_FILE_ENV} 指定存放“用户名:口令”的文件），或只监听 127.0.0.1。")
    return env


@app.command()
def server(
    host: Annotated[str, typer.Option("--host", help="监听地址；127.0.0.1 以外的地址必须设置身份验证。")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="端口（1–65535）。")] = 4200,
    auth_file: Annotated[Optional[Path], typer.Option(
        "--auth-file", help=f"存放身份验证字符串（用户名:口令）的文件，默认 {SERVER_AUTH_ENV} 或 {AUTH_FILE_ENV}。")] = None,
) -> None:
    """启动 Prefect 服务器（界面与 API），使用本项目的服务器设置；对外监听时必须启用身份验证。"""
    env = server_environment(host, auth_file)
    auth = "已启用身份验证" if env.get(SERVER_AUTH_ENV) else "未启用身份验证，仅本机可访问"
    shown = f"[{host}]" if ":" in host else host
    out.print(f"Prefect 服务器：http://{shown}:{port}（{auth}）；客户端设置 PREFECT_API_URL=http://{shown}:{port}/api")
    sys.stdout.flush()
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    os.execve(sys.executable, argv, env)
