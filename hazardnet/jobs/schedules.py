"""The deployments `hazardnet serve` runs (flows/deployments.py builds them, prefect.yaml repeats them for
workers), by name, for its help (their times are read in the served home's configured time zone, Asia/Shanghai by
default). Kept apart from the flows so that the help names them without importing Prefect;
tests/test_operations.py checks this list against the deployments really built."""

from __future__ import annotations

# deployment name -> a condition people should know of ("" when it always runs on its schedule)
SERVED_DEPLOYMENTS: dict[str, str] = {
    "收件箱轮询": "",
    "邮箱轮询": "仅在配置收件邮箱时",
    "月度通报": "",
    "季度汇总": "",
    "每日风险预警": "",
    "每日督办": "",
    "每日复查提醒": "",
    "每月整改通知书": "",
    "每日客户档案检查": "",
    "电网风险预警": "不定时，在界面中手动运行",
}


def served_deployments_zh() -> str:
    """The deployments as one Chinese list: 收件箱轮询、邮箱轮询（仅在配置收件邮箱时）、…"""
    return "、".join(f"{name}（{note}）" if note else name for name, note in SERVED_DEPLOYMENTS.items())
