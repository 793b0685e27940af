"""The customer's billing in the simulator, and the relink page's no_account path driven to
a saved PaymentMethod."""

from __future__ import annotations

from typing import Any

import requests
from fastapi.testclient import TestClient

from sim.testing import SimServer
from tests.relink_page.pages import complete, data_attr, press_button, time_at_the_bank
from tests.relink_page.world import World


def save_new_payment_method(client: TestClient, world: World, sim: SimServer) -> str:
    """The no_account path on the relink page, to the end: a relink that finds no account,
    a new account linked, its SetupIntent confirmed (Stripe.js) and saved. The new
    PaymentMethod's id."""
    first, _ = press_button(client, world)
    sim.client.complete_session(first, "no_account")
    assert complete(client, world, first).status_code == 200
    second, _ = press_button(client, world)
    time_at_the_bank()
    sim.client.complete_session(
        second, "new_account", new_accounts=[{"subcategory": "savings", "last4": "1111"}]
    )
    complete(client, world, second)
    confirm = client.post(
        f"/relink/{world.token()}/setup", data={"session_id": second, "name": "Ada Lovelace"}
    )
    setup_intent = data_attr(confirm.text, 'name="setup_intent" value')
    secret = data_attr(confirm.text, "data-setup-secret")
    confirmed: dict[str, Any] = requests.post(
        f"{sim.base_url}/_sim/stripejs/confirm_setup", json={"client_secret": secret}, timeout=5
    ).json()
    saved = client.post(
        f"/relink/{world.token()}/setup/complete", data={"setup_intent": setup_intent}
    )
    assert "Your new bank account is saved" in saved.text
    return str(confirmed["setupIntent"]["payment_method"])


def billing_world(sim: SimServer, world: World) -> dict[str, str]:
    """The broken account's PaymentMethod (the customer's default) on four subscriptions
    (active, trialing, past_due, canceled), and the sibling account's on one active."""
    old = sim.client.create_payment_method(world.accounts[0], world.customer)["id"]
    other = sim.client.create_payment_method(world.accounts[1], world.customer)["id"]
    subs = {
        status: sim.client.create_subscription(world.customer, old, status)["id"]
        for status in ("active", "trialing", "past_due", "canceled")
    }
    subs["other_sub"] = sim.client.create_subscription(world.customer, other)["id"]
    with_default = sim.state.customers[world.customer]
    with_default.default_payment_method = old
    return {"old": old, "other_pm": other, **subs}
