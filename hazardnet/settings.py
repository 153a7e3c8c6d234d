"""One settings object: environment variables prefixed HAZARDNET_, an optional hazardnet.toml in the
home folder, and defaults that run with no configuration at all."""

from __future__ import annotations

import datetime as dt
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from schemas.vocab import DEFAULT_COUNTIES, DEFAULT_SEVERITIES, PREFECTURE

CONFIG_FILE = "hazardnet.toml"


class SettingsError(ValueError):
    """A setting that cannot be used (hazardnet.toml or a HAZARDNET_ variable): one Chinese sentence naming it."""

DEFAULT_MAIL_RETRY_DELAYS = (10.0, 60.0, 300.0)  # seconds between attempts on a temporary SMTP error
_home_hint: str | None = None  # the home passed to load_settings, so its hazardnet.toml is read


class _TomlSource(PydanticBaseSettingsSource):
    """Reads `hazardnet.toml` from the home folder (HAZARDNET_HOME or the current directory)."""

    def get_field_value(self, field, field_name):  # pragma: no cover - required by the ABC
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        home = Path(_home_hint or os.environ.get("HAZARDNET_HOME") or ".")
        path = home / CONFIG_FILE
        if not path.is_file():
            return {}
        try:
            with path.open("rb") as fh:
                values = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"配置文件“{path}”格式有误（{_where(str(exc))}），请按 README 的 Configuration 一节改正。") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"无法读取配置文件“{path}”（{type(exc).__name__}）。") from None
        unknown = sorted(k for k in values if k not in self.settings_cls.model_fields or k == "home")
        if unknown:
            raise SettingsError(f"配置文件“{path}”中有未知的设置项：{'、'.join(unknown)}（可用的设置项见 README 的 "
                                "Configuration 一节）。")
        return values


def _where(message: str) -> str:
    """Where tomllib found the mistake, in Chinese ("… (at line 3, column 7)")."""
    import re

    found = re.search(r"at line (\d+), column (\d+)", message)
    if found:
        return f"第 {found.group(1)} 行第 {found.group(2)} 列"
    return "文件末尾" if "end of document" in message else "无法解析"


class Settings(BaseSettings):
    """Everything configurable. Counties and vocabularies are data, not code."""

    model_config = SettingsConfigDict(env_prefix="HAZARDNET_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.cwd())
    db_url: str | None = None  # default: sqlite:///<home>/hazardnet.db
    prefecture: str = PREFECTURE
    company: str = "国网海西供电公司"
    counties: list[str] = Field(default_factory=lambda: list(DEFAULT_COUNTIES), min_length=1)
    severities: list[str] = Field(default_factory=lambda: list(DEFAULT_SEVERITIES), min_length=1)
    timezone: str = "Asia/Shanghai"

    # intake
    settle_seconds: float = Field(2.0, ge=0)  # a file whose size/mtime changed this recently is still being written
    settle_wait_seconds: float = Field(60.0, ge=0)  # how long an ingest run waits for such files before leaving them for later
    max_file_mb: int = Field(100, ge=0)  # 0: every file is refused as too big
    max_uncompressed_mb: int = Field(1024, ge=1)
    max_compression_ratio: int = Field(200, ge=1)
    max_cells: int = Field(20_000_000, ge=1)  # a sheet claiming more cells than this is rejected before parsing
    max_rows: int = Field(200_000, ge=1)  # a sheet with more rows is no county register: rejected before its cells are read
    # address-space cap of the child process that parses a workbook (beyond what it holds once started: a cap of a
    # few MB refused every register as damaged)
    parse_memory_mb: int = Field(2048, ge=128)
    parse_timeout_s: float = Field(300.0, gt=0)
    workers: int = Field(default_factory=lambda: max(1, min(2, os.cpu_count() or 1)), ge=1)
    # photos (隐患照片) read from a register: more are left out with a warning, the register is accepted
    max_photos: int = 1000  # pictures per file
    max_photo_mb: int = 20  # one picture, as stored in the file
    max_photos_total_mb: int = 200  # all pictures of one file
    max_photo_pixels: int = 50_000_000  # width × height: a bigger picture is a decompression bomb

    # the recipient directory (通讯录): decides who receives every customer's hazards, so it is read only from a
    # place the counties do not write (never inbox/); default <home>/config/通讯录.xlsx
    directory_path: Path | None = None

    # mail
    smtp_host: str | None = None
    smtp_port: int | None = Field(None, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_block: str | None = None  # name of a Prefect Secret block holding the password
    smtp_security: Literal["ssl", "starttls", "none"] = "starttls"
    smtp_timeout_s: float = 30.0
    # PEM file of the CA that signed the server's certificate (an internal CA); None: the system's CA store.
    # The certificate is verified for "ssl" and "starttls" either way.
    smtp_ca_file: Path | None = None
    # seconds between attempts on a temporary SMTP error, one retry per entry: env "10,60,300" (or a JSON list)
    mail_retry_delays: Annotated[list[Annotated[float, Field(ge=0)]], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_MAIL_RETRY_DELAYS))
    mail_from: str = "yongdian-anquan@haixi.example.cn"
    mail_from_name: str = "国网海西供电公司营销部"

    # mail intake (hazardnet mail-intake): an IMAP mailbox as a second inbox. The password never appears in a
    # log, an artifact or an error: SecretStr, or the name of a Prefect Secret block holding it.
    imap_host: str | None = None
    imap_port: int | None = Field(None, ge=1, le=65535)  # default: 993 for ssl, 143 otherwise
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_password_block: str | None = None
    imap_folder: str = "INBOX"
    imap_security: Literal["ssl", "starttls", "none"] = "ssl"
    imap_ca_file: Path | None = None  # as smtp_ca_file
    imap_timeout_s: float = 60.0
    imap_quarantine_folder: str = "Quarantine"  # where mail from senders outside the directory is moved
    mail_max_attachment_mb: int = 20  # one attachment
    mail_max_attachments: int = 10  # workbooks in one message
    mail_max_total_mb: int = 40  # all attachments of one message
    # the mail server's verdict a sender must have, from its Authentication-Results header: e.g. "dmarc", or
    # "spf,dkim" (each must be "pass"); empty: the directory check alone. mail_auth_server: the authserv-id the
    # header must carry (the site's own server; a header added by anyone else is ignored)
    mail_require_auth: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mail_auth_server: str | None = None

    # SMS: one Apprise URL with {mobile} for the recipient's number (json://…?:mobile={mobile}, smpp://…/{mobile});
    # unset: text files under outbox/sms/. The URL holds secrets: SecretStr, never logged.
    sms_url: SecretStr | None = None
    sms_url_block: str | None = None  # name of a Prefect Secret block holding the URL
    sms_signature: str = "【海西供电】"  # put before every text message

    # from found to closed (rules.py): a hazard found this many days ago without 告知日期 is listed for its county
    # supply company (未书面告知); one 已整改 this many days without a passing re-inspection earns a reminder
    notice_days: int = 7
    reinspection_days: int = 10
    # supervision (hazardnet.jobs.supervision): reminders before a deadline and the ladder after it
    reminder_days: Annotated[list[Annotated[int, Field(ge=1)]], NoDecode] = Field(
        default_factory=lambda: [10, 3])  # days before 整改期限 a customer is reminded (env "10,3")
    supervision_county_days: int = 30  # overdue this long: 县级督办 (a 重大 hazard: as soon as it is overdue)
    supervision_prefecture_days: int = 90  # overdue this long: 州级挂牌督办
    supervision_major_prefecture_days: int = 30  # a 重大 hazard overdue this long: 州级挂牌督办
    supervision_term_days: int = 15  # the 督办期限 a letter suggests: this many days after the letter
    # the customer-file checks (一户一档): a CSV table replacing the packaged schemas/customer_checks.csv
    customer_checks: Path | None = None
    drill_reminder_days: int = 30  # a customer's drill reminder goes out this many days before its year runs out

    # paper copies (纸质版 PDF, by LibreOffice headless): the deployments write them when paper_copies is on
    paper_copies: bool = False
    soffice: str | None = None  # the LibreOffice executable; None: soffice (or libreoffice) on PATH
    paper_timeout_s: float = 180.0  # one workbook's conversion

    @field_validator("counties", "severities")
    @classmethod
    def _distinct_names(cls, value: list[str]) -> list[str]:
        """Counties and severities are names: none blank, none twice (a county listed twice was counted twice in
        the quarterly overview)."""
        names = [str(v).strip() for v in value]
        if any(not n for n in names):
            raise ValueError("不能有空白的名称")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"“{'、'.join(twice)}”重复出现")
        return names

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        """An IANA zone name every clock of the system can use (today's report date, the times shown)."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("不是已知的时区名称，例如 Asia/Shanghai") from None
        return value.strip()

    @field_validator("mail_retry_delays", mode="before")
    @classmethod
    def _comma_separated_delays(cls, value: Any) -> Any:
        """Text from the environment: "10,60,300" (a full-width comma too) or a JSON list ("[]": no retries);
        an empty variable keeps the default."""
        if isinstance(value, str):
            if not value.strip():
                return list(DEFAULT_MAIL_RETRY_DELAYS)
            if value.strip().startswith("["):
                return json.loads(value)
            return [x.strip() for x in value.replace("，", ",").split(",") if x.strip()]
        return value

    @field_validator("mail_require_auth", mode="before")
    @classmethod
    def _comma_separated_methods(cls, value: Any) -> Any:
        """Text from the environment: "dmarc" or "spf,dkim" (lower-cased)."""
        if isinstance(value, str):
            value = value.replace("，", ",").split(",")
        return [str(v).strip().lower() for v in value or () if str(v).strip()]
    @field_validator("reminder_days", mode="before")
    @classmethod
    def _comma_separated_days(cls, value: Any) -> Any:
        """Text from the environment: "10,3" (a full-width comma too) or a JSON list."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [x.strip() for x in value.replace("，", ",").split(",") if x.strip()]
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, env_settings, _TomlSource(settings_cls), file_secret_settings)

    # ---- derived paths -------------------------------------------------------------------
    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def outbox(self) -> Path:
        return self.home / "outbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def directory_file(self) -> Path:
        return self.directory_path or self.home / "config" / "通讯录.xlsx"

    @property
    def consolidated_path(self) -> Path:
        return self.outbox / f"{self.prefecture}电力安全隐患台账（汇总）.xlsx"

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        from urllib.parse import quote  # a home path with "?", "#" or "%" must stay a path, not a URL query

        # quoted as SQLAlchemy's URL.create renders it (and as publish.fingerprint unquotes it), without importing
        # SQLAlchemy: the "nothing new" answer of `hazardnet ingest` imports neither it nor pandas
        return f"sqlite:///{quote(str((self.home / 'hazardnet.db').resolve()), safe='/')}"


def load_settings(home: Path | str | None = None, **overrides: Any) -> Settings:
    """Settings for `home` (default: HAZARDNET_HOME or the current directory)."""
    global _home_hint
    if home is not None:
        overrides["home"] = Path(home)
        _home_hint = str(home)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None
    finally:
        _home_hint = None


def home_problem(home: Path | str) -> str | None:
    """Why `home` cannot be a working folder, as the sentence that starts the refusal (工作目录“…”不存在。), or None.
    Only the intake commands set a new home up; anything else given a home that is not there would start an empty
    store and empty outputs in it (a mistyped --home, a Run form's 工作目录)."""
    path = Path(home)
    if not path.exists():
        return f"工作目录“{path}”不存在。"
    if not path.is_dir():
        return f"工作目录“{path}”不是文件夹。"
    return None


def load_home_settings(home: Path | str | None = None) -> Settings:
    """`load_settings` for a flow run: SettingsError naming the home when it does not exist or is no folder (one
    Chinese sentence, the run's Failed state), before anything is written there."""
    settings = load_settings(home)
    problem = home_problem(settings.home)
    if problem:
        raise SettingsError(problem + "请在“工作目录”中填写含 inbox/ 的工作目录（部署已填好，一般不用改）。")
    return settings


_KINDS = {
    "int_parsing": "应为整数", "int_from_float": "应为整数", "float_parsing": "应为数字", "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表，例如 [\"德令哈市\", \"格尔木市\"]", "string_type": "应为文字", "too_short": "不能为空",
    "greater_than_equal": "不能小于 {ge}", "greater_than": "应大于 {gt}", "less_than_equal": "不能大于 {le}",
    "literal_error": "应为以下之一：{expected}", "json_invalid": "不是有效的列表", "path_type": "应为文件路径",
}


def _explain(exc: ValidationError) -> str:
    """One Chinese sentence per unusable setting, naming both places it may come from; never the value itself
    (it may be a password or an SMS gateway URL)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error.get("loc") else "?"
        ctx = error.get("ctx") or {}
        kind = _KINDS.get(error["type"])
        if kind is None:
            reason = ctx.get("error")
            kind = str(reason) if isinstance(reason, ValueError) and not str(reason).isascii() else "不正确"
        if "expected" in ctx:
            ctx = {**ctx, "expected": str(ctx["expected"]).replace(" or ", "、").replace(", ", "、")}
        parts.append(f"设置项 {field}（{CONFIG_FILE} 中的 {field} 或环境变量 HAZARDNET_{field.upper()}）的值"
                     + kind.format(**{k: v for k, v in ctx.items() if isinstance(v, (int, float, str))}))
    return "；".join(parts) + "。"


def today(settings: Settings) -> dt.date:
    """The report date when none is given: today in the configured time zone (settings.timezone, default
    Asia/Shanghai)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(settings.timezone)).date()


def report_date(as_of: str | None, settings: Settings) -> dt.date:
    """A flow's `as_of` as a command or a deployment's Run form gives it (YYYY-MM-DD; blank: today in the configured
    time zone); ValueError with the CLI's Chinese sentence otherwise (the Run form's reader sees it as the run's
    Failed state)."""
    if as_of is None or not str(as_of).strip():
        return today(settings)
    return parse_date(str(as_of).strip())


def parse_date(value: str) -> dt.date:
    """A date as a person writes it for a command or a Run form (YYYY-MM-DD); ValueError with the Chinese sentence
    the command line and the run's Failed state both show."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"日期“{value}”格式不正确，请写成 YYYY-MM-DD，例如 2026-11-15。") from None


def local_time(when: dt.datetime | None, timezone: str) -> str | None:
    """A stored time (naive UTC: the ledger's, the store's) as a person reads it, on the wall clock of `timezone`
    (settings.timezone): 2026-12-07T17:43:15 → "2026-12-08 01:43" in Asia/Shanghai."""
    if when is None:
        return None
    from zoneinfo import ZoneInfo

    return when.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
