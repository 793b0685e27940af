"""Replaying the page's POSTs (the back button, a browser re-sending a form, a script) must not
spend Stripe objects or reopen a closed case: /setup reuses the attempt's SetupIntent, a
finished step answers from what was recorded, and a case that is no longer open refuses
/session, /complete, /setup and /setup/complete without calling Stripe.

One exception, on purpose: the customer's own attempt, opened while the case was open and not
finished yet, may still finish after the case resolved — its relink is usually what resolved
it (Stripe reactivates the authorization, the worker closes the case within seconds), and a
new account linked by it still has to be saved as the payment method.

Measured before the fix: 6 replays of /setup created 6 SetupIntents, one after the case was
resolved."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shared.db import session_scope, utcnow
from shared.models import CaseState, RelinkCase
from sim.testing import SimServer
from tests.relink_page.pages import attempts, complete, data_attr, press_button, snapshot
from tests.relink_page.world import World

REPLAYS = 6


def link_new_account(client: TestClient, world: World, sim: SimServer) -> str:
    """no_account, then a new savings account: the second session's id (`new_account`)."""
    first, _ = press_button(client, world)
    sim.client.complete_session(first, "no_account")
    complete(client, world, first)
    second, _ = press_button(client, world)
    sim.client.complete_session(
        second, "new_account", new_accounts=[{"subcategory": "savings", "last4": "1111"}]
    )
    offer = complete(client, world, second)
    assert "Name of the account holder" in offer.text
    return second


def close_case(world: World, state: str) -> None:
    with session_scope() as db:
        case = db.get(RelinkCase, world.case_id)
        assert case is not None
        case.state = state
        case.resolved_at = utcnow()


def setup_intent_creates(sim: SimServer) -> int:
    return sum(1 for r in sim.client.requests("/v1/setup_intents") if r["method"] == "POST")


def test_six_replays_of_setup_create_one_setup_intent(
    client: TestClient, world: World, sim: SimServer
) -> None:
    session_id = link_new_account(client, world, sim)
    form = {"session_id": session_id, "name": "Ada Lovelace"}
    answers = [client.post(f"/relink/{world.token()}/setup", data=form) for _ in range(5)]
    close_case(world, CaseState.RESOLVED)  # the worker saw the authorization reactivate
    answers.append(client.post(f"/relink/{world.token()}/setup", data=form))
    created = setup_intent_creates(sim)
    print(f"{REPLAYS} replays of /setup: {created} SetupIntents created")
    assert [answer.status_code for answer in answers] == [200] * REPLAYS
    assert created == 1
    assert len(sim.state.setup_intents) == 1
    (intent,) = sim.state.setup_intents.values()
    assert {data_attr(a.text, 'name="setup_intent" value') for a in answers} == {intent.id}
    assert {data_attr(a.text, "data-setup-secret") for a in answers} == {intent.client_secret}
    assert attempts(world.case_id)[1].setup_intent_id == intent.id


def test_an_unrepairable_case_refuses_every_step_without_calling_stripe(
    client: TestClient, world: World, sim: SimServer
) -> None:
    session_id = link_new_account(client, world, sim)
    setup = client.post(
        f"/relink/{world.token()}/setup", data={"session_id": session_id, "name": "Ada"}
    )
    setup_intent = data_attr(setup.text, 'name="setup_intent" value')
    close_case(world, CaseState.UNREPAIRABLE)
    sim.client.clear_requests()
    before = snapshot()
    token = world.token()
    answers = [
        client.post(f"/relink/{token}/session"),
        client.post(f"/relink/{token}/complete", data={"session_id": session_id}),
        client.post(f"/relink/{token}/setup", data={"session_id": session_id, "name": "Eve"}),
        client.post(f"/relink/{token}/setup/complete", data={"setup_intent": setup_intent}),
    ]
    for answer in answers:
        assert "Please set up a new payment method" in answer.text
    assert sim.client.requests("/v1/") == []
    assert snapshot() == before


def test_replayed_completions_of_a_resolved_case_call_stripe_for_nothing(
    client: TestClient, world: World, sim: SimServer, published: list[object]
) -> None:
    session_id, _ = press_button(client, world)
    sim.client.complete_session(session_id, "success")
    assert "Your bank is reconnected" in complete(client, world, session_id).text
    close_case(world, CaseState.RESOLVED)
    sim.client.clear_requests()
    before = snapshot()
    for _ in range(REPLAYS):
        assert "Your bank is reconnected" in complete(client, world, session_id).text
    assert "Your bank is reconnected" in client.post(f"/relink/{world.token()}/session").text
    assert sim.client.requests("/v1/") == []
    assert snapshot() == before
    assert len(published) == 1  # the first completion's reconcile only


def test_the_customers_own_attempt_still_finishes_after_its_relink_resolved_the_case(
    client: TestClient, world: World, sim: SimServer
) -> None:
    session_id, _ = press_button(client, world)
    sim.client.complete_session(session_id, "success")
    close_case(world, CaseState.RESOLVED)  # the reactivated events beat the browser's POST
    assert "Your bank is reconnected" in complete(client, world, session_id).text
    assert attempts(world.case_id)[0].result == "account"
