"""PAYMENT_METHOD_SWITCH and DETACH_OLD_PAYMENT_METHOD."""

from __future__ import annotations

import pytest

from shared.settings import ConfigError, load_settings


@pytest.mark.parametrize(
    ("value", "targets"),
    [
        ("", []),
        ("none", []),
        ("customer_default", ["customer_default"]),
        ("subscriptions, customer_default", ["customer_default", "subscriptions"]),
    ],
)
def test_payment_method_switch_values(
    value: str, targets: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMENT_METHOD_SWITCH", value)
    settings = load_settings()
    assert settings.payment_method_switch == targets
    assert settings.switches_payment_method is bool(targets)
    assert settings.switches_subscriptions is ("subscriptions" in targets)
    assert settings.detach_old_payment_method is False


@pytest.mark.parametrize("value", ["subscriptions", "customer_default,everything"])
def test_payment_method_switch_refuses_what_it_cannot_do(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMENT_METHOD_SWITCH", value)
    with pytest.raises(ConfigError, match="PAYMENT_METHOD_SWITCH"):
        load_settings()
