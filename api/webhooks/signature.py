"""Stripe-Signature verification over the raw body, with every configured secret.

The SDK's `WebhookSignature.verify_header` does the constant-time comparison and the too-old
check; relink adds the too-new check the SDK leaves out.
"""

from __future__ import annotations

import time

import stripe

from shared.errors import AuthenticationError, UnavailableError


class SignatureRefused(AuthenticationError):
    """A Stripe-Signature header that is missing, malformed or does not verify: a 400, as
    the endpoint has always answered (Stripe retries any non-2xx alike)."""

    http_status = 400


# The SDK's messages, mapped to the name of the check that failed.
_SDK_CHECKS = (
    ("Unable to extract", "malformed_signature_header"),
    ("No signatures found with expected scheme", "no_v1_signature"),
    ("No signatures found matching", "signature_mismatch"),
    ("Timestamp outside the tolerance zone", "timestamp_too_old"),
)


def _check_name(error: stripe.SignatureVerificationError) -> str:
    message = str(error.user_message or error)
    return next((name for prefix, name in _SDK_CHECKS if message.startswith(prefix)), "signature")


MAX_HEADER_BYTES = 4096
MAX_V1_SIGNATURES = 16


def signed_timestamp(header: str) -> int:
    """The header's one `t=`, read as the SDK reads it (`split("=", 2)`, first item named `t`),
    after the size caps and before any HMAC: a header whose `t` the SDK and relink could read
    differently (two of them, or not an integer) is refused here."""
    if len(header) > MAX_HEADER_BYTES:
        raise SignatureRefused(
            f"Stripe-Signature exceeds {MAX_HEADER_BYTES} bytes", "signature_header_too_large"
        )
    if not header.isascii():  # Stripe's never is; the SDK's compare_digest raises on it
        raise SignatureRefused(
            "the Stripe-Signature header is not ASCII", "malformed_signature_header"
        )
    items = [item.split("=", 2) for item in header.split(",")]
    if sum(1 for item in items if item[0] == "v1") > MAX_V1_SIGNATURES:
        raise SignatureRefused(
            f"more than {MAX_V1_SIGNATURES} v1 signatures", "too_many_signatures"
        )
    timestamps = [item[1] if len(item) > 1 else "" for item in items if item[0] == "t"]
    if len(timestamps) != 1 or not timestamps[0].isascii() or not timestamps[0].isdigit():
        raise SignatureRefused(
            "the Stripe-Signature header needs one integer t", "malformed_signature_header"
        )
    return int(timestamps[0])


def verify_signature(payload: str, header: str | None, secrets: list[str], tolerance: int) -> str:
    """The secret that verifies the header (its timestamp not ahead); SignatureRefused if
    none, UnavailableError (503: Stripe retries) while no secret is configured."""
    if not secrets:
        raise UnavailableError("STRIPE_WEBHOOK_SECRETS is not configured", "no_webhook_secret")
    if not header:
        raise SignatureRefused("the Stripe-Signature header is missing", "missing_signature_header")
    timestamp = signed_timestamp(header)
    failure = "signature_mismatch"
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=tolerance)
        except stripe.SignatureVerificationError as error:
            failure = _check_name(error)
            if failure == "signature_mismatch":
                continue  # maybe signed with another (rotated) secret
            break
        else:
            if timestamp > time.time() + tolerance:
                raise SignatureRefused("the signature's timestamp is ahead", "timestamp_in_future")
            return secret
    messages = {
        "malformed_signature_header": "the Stripe-Signature header cannot be parsed",
        "no_v1_signature": "the Stripe-Signature header has no v1 signature",
        "signature_mismatch": "no v1 signature matches the body with any configured secret",
        "timestamp_too_old": f"the signature's timestamp is more than {tolerance}s old",
    }
    raise SignatureRefused(messages.get(failure, "the signature does not verify"), failure)
