"""The one place that wires a job's resources: the store, the mail and SMS transports (their secrets from the
environment, or from a Prefect Secret block through the runner), the dispatcher."""

from __future__ import annotations

from collections.abc import Callable

from hazardnet.delivery.dispatch import Dispatcher
from hazardnet.delivery.mail import PermanentMailError, Transport, make_transport
from hazardnet.delivery.sms import PermanentSmsError, SmsTransport, make_sms_transport
from hazardnet.settings import Settings
from hazardnet.store import Store

SecretLookup = Callable[[str], str]  # a Prefect Secret block's value by name; raises KeyError when unknown


def no_secret_blocks(name: str) -> str:
    """Outside a flow there are no Prefect Secret blocks."""
    raise KeyError(name)


def mail_transport(settings: Settings, secret: SecretLookup = no_secret_blocks) -> Transport:
    """The transport for these settings; the SMTP password may come from a Prefect Secret block
    (HAZARDNET_SMTP_PASSWORD_BLOCK)."""
    password = None
    if settings.smtp_host and settings.smtp_password is None and settings.smtp_password_block:
        try:
            password = secret(settings.smtp_password_block)
        except KeyError:
            raise PermanentMailError(
                f"找不到 Prefect Secret 块“{settings.smtp_password_block}”（HAZARDNET_SMTP_PASSWORD_BLOCK）：请用 "
                f"prefect block create secret 创建它，或改设 HAZARDNET_SMTP_PASSWORD。") from None
    return make_transport(settings, password)


def sms_transport(settings: Settings, secret: SecretLookup = no_secret_blocks) -> SmsTransport:
    """The SMS transport for these settings; the Apprise URL (with its secrets) may come from a Prefect Secret
    block (HAZARDNET_SMS_URL_BLOCK)."""
    url = None
    if settings.sms_url is None and settings.sms_url_block:
        try:
            url = secret(settings.sms_url_block)
        except KeyError:
            raise PermanentSmsError(
                f"找不到 Prefect Secret 块“{settings.sms_url_block}”（HAZARDNET_SMS_URL_BLOCK）：请用 "
                f"prefect block create secret 创建它，或改设 HAZARDNET_SMS_URL。") from None
    return make_sms_transport(settings, url)


def dispatcher(settings: Settings, store: Store, secret: SecretLookup = no_secret_blocks, *,
               sms: bool = True) -> Dispatcher:
    """The dispatcher every sending job uses."""
    return Dispatcher(store, settings, mail_transport(settings, secret),
                      sms_transport(settings, secret) if sms else None)
