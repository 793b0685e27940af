"""SMTP credentials vs the network: they only ever cross TLS (STARTTLS, required, or smtps://);
a relay that does not offer STARTTLS never sees an AUTH; a local sink without credentials
stays plain SMTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import ConfigError, load_settings
from tests.security.smtp_servers import (
    PASSWORD,
    USER,
    Pki,
    a_message,
    smtp_server,
    smtp_url,
    use_settings,
)
from worker.emails.transport import TransportError, deliver


def test_credentials_are_url_decoded_and_sent_only_after_starttls(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_settings(monkeypatch, EMAIL_CA_BUNDLE=str(pki.ca))
    with smtp_server(starttls=pki.server_context()) as (port, seen):
        deliver(a_message(), smtp_url(port), name="relink-outbox-1")
    assert seen.logins == [(USER, PASSWORD)]  # `/`, `+` and `=` decoded
    assert len(seen.messages) == 1
    assert seen.messages[0].rcpt_tos == ["ada@example.com"]


def test_a_relay_without_starttls_never_sees_an_auth(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_settings(monkeypatch, EMAIL_CA_BUNDLE=str(pki.ca))
    with (
        smtp_server(auth=True) as (port, seen),  # offers AUTH over plaintext
        pytest.raises(TransportError) as raised,
    ):
        deliver(a_message(), smtp_url(port), name="relink-outbox-1")
    assert seen.started_auths == 0
    assert seen.logins == []
    assert seen.messages == []
    error = str(raised.value)
    assert "EMAIL_URL" in error
    assert "STARTTLS" in error
    assert PASSWORD not in error
    assert USER not in error


def test_smtps_delivers_over_implicit_tls(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, EMAIL_CA_BUNDLE=str(pki.ca))
    with smtp_server(implicit_tls=pki.server_context()) as (port, seen):
        url = smtp_url(port, scheme="smtps")
        assert load_settings().email_url.startswith("file://")  # the default, unchanged
        use_settings(monkeypatch, EMAIL_URL=url)
        assert load_settings().email_url == url  # smtps:// is a valid EMAIL_URL
        deliver(a_message(), url, name="relink-outbox-1")
    assert seen.logins == [(USER, PASSWORD)]
    assert len(seen.messages) == 1


def test_a_local_sink_without_credentials_stays_plain_smtp(tmp_path: Path) -> None:
    with smtp_server(auth=False) as (port, seen):
        deliver(a_message(), f"smtp://127.0.0.1:{port}", name="relink-outbox-1")
    assert seen.logins == []
    assert len(seen.messages) == 1


def test_without_credentials_starttls_is_used_when_offered(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L10: smtp://host:port never tried STARTTLS, and the link crossed in the clear."""
    use_settings(monkeypatch, EMAIL_CA_BUNDLE=str(pki.ca))
    with smtp_server(starttls=pki.server_context(), auth=False) as (port, seen):
        deliver(a_message(), f"smtp://localhost:{port}", name="relink-outbox-1")  # TLS required
    assert seen.logins == []
    assert len(seen.messages) == 1


def test_without_credentials_an_untrusted_starttls_certificate_stops_the_send(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        smtp_server(starttls=pki.server_context(), auth=False) as (port, seen),
        pytest.raises(TransportError, match="EMAIL_CA_BUNDLE"),
    ):
        deliver(a_message(), f"smtp://localhost:{port}", name="relink-outbox-1")
    assert seen.messages == []


@pytest.mark.parametrize(
    "url", ["smtp://apikey@smtp.example.com:587", "smtp://:secret@smtp.example.com:587"]
)
def test_half_credentials_are_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    use_settings(monkeypatch, EMAIL_URL=url)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "EMAIL_URL" in str(raised.value)
    assert "secret" not in str(raised.value)
