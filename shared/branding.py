"""The merchant's branding (MERCHANT_NAME, SUPPORT_EMAIL, SUPPORT_URL, BRAND_LOGO_URL,
BRAND_COLOR) as the page and email templates read it, and the one template loader both
renderers use: TEMPLATES_DIR/<locale>/<group>/ first, TEMPLATES_DIR/<group>/ second, the
package's built-in templates last."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, PackageLoader

INK = "#1a1f36"  # the page's text colour (relink.css --ink)
WHITE = "#ffffff"


@dataclass(frozen=True)
class SupportContact:
    href: str  # mailto:… or the support page
    label: str


@dataclass(frozen=True)
class Brand:
    """What templates get as `brand`; every field None when not configured (the templates
    then read as relink's own: "us", "our", no logo, relink's colours)."""

    name: str | None = None
    support_email: str | None = None
    support_url: str | None = None
    logo_url: str | None = None
    color: str | None = None  # #rrggbb, validated: it reaches CSS

    @property
    def possessive(self) -> str | None:
        """`Acme's` (or `Widgets'`), as Stripe's mandate wording names the business."""
        if self.name is None:
            return None
        return self.name + ("'" if self.name.endswith("s") else "'s")

    @property
    def contacts(self) -> list[SupportContact]:
        """Where the customer can reach the merchant: the email first, then the page."""
        found: list[SupportContact] = []
        if self.support_email:
            found.append(SupportContact(f"mailto:{self.support_email}", self.support_email))
        if self.support_url:
            found.append(SupportContact(self.support_url, self.support_url))
        return found

    @property
    def on_color(self) -> str:
        """Text on the brand colour: white or ink, whichever contrasts more (WCAG)."""
        if self.color is None:
            return WHITE
        brand = _luminance(self.color)
        with_white = 1.05 / (brand + 0.05)
        with_ink = (brand + 0.05) / (_luminance(INK) + 0.05)
        return WHITE if with_white >= with_ink else INK


def _luminance(color: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def template_loader(
    package: str, group: str, templates_dir: Path | None, locale: str
) -> BaseLoader:
    """`package`'s templates/, behind TEMPLATES_DIR/`locale`/`group`/ and then
    TEMPLATES_DIR/`group`/ when TEMPLATES_DIR is set: a file there replaces the built-in of
    the same name (the locale's first), any other name falls back."""
    builtin = PackageLoader(package, "templates")
    if templates_dir is None:
        return builtin
    overrides = [templates_dir / locale / group, templates_dir / group]
    return ChoiceLoader([FileSystemLoader(overrides), builtin])
