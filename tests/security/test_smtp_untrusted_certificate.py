"""SMTP TLS vs a man in the middle: an untrusted certificate or one for another host name
stops the send before AUTH; EMAIL_CA_BUNDLE trusts a private relay's CA."""

from __future__ import annotations

from contextlib import AbstractContextManager

import pytest

from tests.security.smtp_servers import (
    PASSWORD,
    Pki,
    Seen,
    a_message,
    smtp_server,
    smtp_url,
    use_settings,
)
from worker.emails.transport import TransportError, deliver

MODES = ["smtp", "smtps"]  # STARTTLS on a submission port, implicit TLS


def server(
    pki: Pki, scheme: str, *, other_name: bool = False
) -> AbstractContextManager[tuple[int, Seen]]:
    context = pki.server_context(other_name=other_name)
    if scheme == "smtps":
        return smtp_server(implicit_tls=context)
    return smtp_server(starttls=context)


@pytest.mark.parametrize("scheme", MODES)
def test_an_untrusted_certificate_stops_the_send_before_auth(pki: Pki, scheme: str) -> None:
    with server(pki, scheme) as (port, seen), pytest.raises(TransportError) as raised:
        deliver(a_message(), smtp_url(port, scheme=scheme), name="relink-outbox-1")
    assert seen.logins == []
    assert seen.messages == []
    error = str(raised.value)
    assert "certificate verify failed" in error
    assert "EMAIL_CA_BUNDLE" in error
    assert PASSWORD not in error


@pytest.mark.parametrize("scheme", MODES)
def test_email_ca_bundle_trusts_a_private_relay(
    pki: Pki, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_settings(monkeypatch, EMAIL_CA_BUNDLE=str(pki.ca))
    with server(pki, scheme) as (port, seen):
        deliver(a_message(), smtp_url(port, scheme=scheme), name="relink-outbox-1")
    assert len(seen.logins) == 1
    assert len(seen.messages) == 1


@pytest.mark.parametrize("scheme", MODES)
def test_a_trusted_certificate_for_another_host_is_refused(
    pki: Pki, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_settings(monkeypatch, EMAIL_CA_BUNDLE=str(pki.ca))
    with (
        server(pki, scheme, other_name=True) as (port, seen),
        pytest.raises(TransportError) as raised,
    ):
        deliver(a_message(), smtp_url(port, scheme=scheme), name="relink-outbox-1")
    assert seen.logins == []
    assert seen.messages == []
    assert "Hostname mismatch" in str(raised.value)
