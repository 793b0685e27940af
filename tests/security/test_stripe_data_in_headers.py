"""L7: Stripe data that becomes an email header. A Customer's email of two addresses made two
SMTP recipients of the link; CR/LF in an institution's name raised in the Subject, and the row
was re-claimed every five minutes until it failed."""

from __future__ import annotations

import pytest
import stripe

from shared import stripe_client
from sim.testing import SimServer
from worker.emails.message import build_message
from worker.emails.render import EmailContent


def test_a_customer_email_of_two_addresses_is_no_address(sim: SimServer) -> None:
    client = stripe_client.make_stripe_client()
    for hostile in (
        "victim@example.com, attacker@evil.example",
        "victim@example.com\r\nBcc: attacker@evil.example",
        "Victim <attacker@evil.example>",
    ):
        customer = sim.client.create_customer(hostile)["id"]
        assert stripe_client.retrieve_holder(client, "customer", customer).email is None, hostile
    plain = sim.client.create_customer("ada.o'brien+bank@mail.example.co.uk")["id"]
    assert (
        stripe_client.retrieve_holder(client, "customer", plain).email
        == "ada.o'brien+bank@mail.example.co.uk"
    )


def test_a_line_break_in_the_subject_is_folded_into_spaces() -> None:
    content = EmailContent(
        locale="en",
        subject="Reconnect your First\r\nBcc: x@evil.example\u2028Bank account",
        text="t",
        html="<p>h</p>",
    )
    message = build_message(
        content, sender="relink@example.com", recipient="ada@example.com", outbox_id=1
    )
    assert message["Subject"] == "Reconnect your First Bcc: x@evil.example Bank account"
    assert message["Bcc"] is None
    assert message.as_bytes().count(b"\nBcc:") == 0


def test_an_authorization_id_stays_one_path_segment(sim: SimServer) -> None:
    """I5: an id from an event was put in the path unencoded (`../accounts/fca_x` walked)."""
    client = stripe_client.make_stripe_client()
    sim.client.clear_requests()
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.retrieve_authorization(client, "../accounts/fca_x?expand[]=y")
    [request] = sim.client.requests("/v1/")
    # unencoded, `..` walked to /v1/financial_connections/accounts/fca_x: the id stays whole
    assert request["path"].startswith("/v1/financial_connections/authorizations/../accounts")
