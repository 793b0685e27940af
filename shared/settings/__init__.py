"""One typed settings object, read from the environment (names as in DESIGN.md and the
table of docs/configuration.md), assembled from one section per domain: add a setting to its
domain's section, or a new section here. Validator names must differ across sections: one
of the same name in a later base would silently replace the other."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings.branding import BrandingSettings
from shared.settings.cases import CaseSettings
from shared.settings.connect import ConnectSettings
from shared.settings.core import VAR_DIR, ConfigError
from shared.settings.emails import EmailSettings
from shared.settings.page import PageSettings
from shared.settings.payments import PaymentSettings
from shared.settings.platform import Delivery, PlatformSettings
from shared.settings.rate_limits import LimitSettings
from shared.urls import masked_url

__all__ = ["VAR_DIR", "ConfigError", "Delivery", "Settings", "get_settings", "load_settings"]


class Settings(
    LimitSettings,
    EmailSettings,
    CaseSettings,
    PlatformSettings,
    BrandingSettings,
    PaymentSettings,
    PageSettings,
    ConnectSettings,
):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    @model_validator(mode="after")
    def _live_links_over_https(self) -> Settings:
        """Platform webhooks carry live relink links: in live mode only over https (or to
        this host)."""
        url = self.platform_webhook_url
        if self.livemode and url and url.startswith("http://") and not _loopback(url):
            raise ValueError("PLATFORM_WEBHOOK_URL must be https:// with a live STRIPE_API_KEY")
        return self

    def __repr_args__(self) -> Any:  # URLs shown without credentials; SecretStr hides the rest
        return [(k, masked_url(v) if isinstance(v, str) else v) for k, v in super().__repr_args__()]


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or (_is_ip(host) and ip_address(host).is_loopback)


def _is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def load_settings() -> Settings:
    """Read and validate the environment, raising ConfigError that names each bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [  # a check across variables (no loc) names them in its message
            f"{str(err['loc'][0]).upper()}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors(include_input=False)
        ]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
