"""Stripe-Signature verification over the raw body, with every configured secret.

The SDK's `WebhookSignature.verify_header` does the constant-time comparison and the too-old
check; relink adds the too-new check the SDK leaves out.
"""

from __future__ import annotations

import time

import stripe

from api.errors import Rejected

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


def _timestamp(header: str) -> int:
    """The `t=` of a header the SDK has already parsed and verified."""
    items = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    return int(items["t"])


def verify_signature(payload: str, header: str | None, secrets: list[str], tolerance: int) -> None:
    """Raise Rejected unless one secret verifies the header and its timestamp is not ahead."""
    if not secrets:
        raise Rejected(503, "no_webhook_secret", "STRIPE_WEBHOOK_SECRETS is not configured")
    if not header:
        raise Rejected(400, "missing_signature_header", "the Stripe-Signature header is missing")
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
            if _timestamp(header) > time.time() + tolerance:
                raise Rejected(400, "timestamp_in_future", "the signature's timestamp is ahead")
            return
    messages = {
        "malformed_signature_header": "the Stripe-Signature header cannot be parsed",
        "no_v1_signature": "the Stripe-Signature header has no v1 signature",
        "signature_mismatch": "no v1 signature matches the body with any configured secret",
        "timestamp_too_old": f"the signature's timestamp is more than {tolerance}s old",
    }
    raise Rejected(400, failure, messages.get(failure, "the signature does not verify"))
