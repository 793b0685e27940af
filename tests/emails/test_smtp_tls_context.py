"""The SMTP TLS context is built once per CA bundle (loading the CAs per session was 9 % of a
burst's worker time), and each bundle keeps its own context."""

from __future__ import annotations

import ssl
from pathlib import Path

from worker.emails.smtp import tls_context


def test_one_context_per_bundle(tmp_path: Path) -> None:
    system = tls_context(None)
    assert tls_context(None) is system
    assert system.verify_mode is ssl.CERT_REQUIRED
    assert system.check_hostname
    bundle = tmp_path / "ca.pem"
    bundle.write_text(_any_ca_pem())
    own = tls_context(bundle)
    assert own is tls_context(bundle)
    assert own is not system
    assert own.get_ca_certs() != system.get_ca_certs()


def _any_ca_pem() -> str:
    """A CA certificate from the system store, as PEM (the test needs one real CA)."""
    der = ssl.create_default_context().get_ca_certs(binary_form=True)[0]
    return ssl.DER_cert_to_PEM_cert(der)
