"""The relink page (api/relink_page): how the customer relinks, on relink's own page with
Stripe.js (`embedded`) or on Stripe's hosted page (`stripe_hosted`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

RelinkUi = Literal["embedded", "stripe_hosted"]


class PageSettings(BaseSettings):
    relink_ui: RelinkUi = Field(
        default="embedded",
        description="embedded (Stripe.js on relink's page) or stripe_hosted (Stripe's page)",
    )

    @property
    def stripe_hosted(self) -> bool:
        """Whether the page's button redirects to the session's hosted `url` (no Stripe.js)."""
        return self.relink_ui == "stripe_hosted"
