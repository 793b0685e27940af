"""Branding (the relink page, the emails, the ACH mandate), template overrides and the
customers' default language."""

from __future__ import annotations

import re

from pydantic import DirectoryPath, Field, field_validator
from pydantic_settings import BaseSettings

from shared.branding import Brand
from shared.i18n import SOURCE_LOCALE, SUPPORTED_LOCALES
from shared.urls import checked_web_url

EMAIL_ADDRESS = re.compile(r"[^@\s<>\"'(),;:\\\[\]]+@[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.[a-z]{2,}")
COLOR = re.compile(r"#[0-9a-f]{6}")


class BrandingSettings(BaseSettings):
    merchant_name: str | None = Field(default=None, max_length=100)
    support_email: str | None = None
    support_url: str | None = None
    brand_logo_url: str | None = None
    brand_color: str | None = Field(default=None, description="#rrggbb")
    templates_dir: DirectoryPath | None = Field(
        default=None,
        description="overrides: [<locale>/]relink_page/ and [<locale>/]emails/ over the built-ins",
    )
    default_locale: str = Field(
        default=SOURCE_LOCALE, description="the customer's language when nothing names one"
    )

    @field_validator(
        "merchant_name",
        "support_email",
        "support_url",
        "brand_logo_url",
        "brand_color",
        "templates_dir",
        mode="before",
    )
    @classmethod
    def _brand_unset_when_empty(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("merchant_name")
    @classmethod
    def _brand_merchant_name(cls, value: str | None) -> str | None:
        if value is not None and any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise ValueError("must be one line of text")
        return value

    @field_validator("support_email")
    @classmethod
    def _brand_support_email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL_ADDRESS.fullmatch(value.lower()):
            raise ValueError("must be a plain email address, such as help@example.com")
        return value

    @field_validator("support_url", "brand_logo_url")
    @classmethod
    def _brand_urls(cls, value: str | None) -> str | None:
        return None if value is None else checked_web_url(value)

    @field_validator("brand_color")
    @classmethod
    def _brand_color(cls, value: str | None) -> str | None:
        if value is not None and not COLOR.fullmatch(value.lower()):
            raise ValueError("must be a colour as #rrggbb, such as #0a5cff")
        return None if value is None else value.lower()

    @field_validator("default_locale")
    @classmethod
    def _brand_default_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @property
    def brand(self) -> Brand:
        return Brand(
            name=self.merchant_name,
            support_email=self.support_email,
            support_url=self.support_url,
            logo_url=self.brand_logo_url,
            color=self.brand_color,
        )
