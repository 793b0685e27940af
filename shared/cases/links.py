"""Signed relink links: ids only, newest key signs, every key verifies, always a max age."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime

from itsdangerous import (
    BadData,
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_decode, base64_encode

from shared.errors import InvalidRequestError
from shared.settings import Settings, get_settings

SALT = "relink.link.v1"
# payload.timestamp.signature, each unpadded URL-safe base64 (a compressed payload starts
# with a dot).
TOKEN_SHAPE = re.compile(r"\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class LinkError(InvalidRequestError):
    """A link that cannot be used; `expired` tells the two cases apart."""

    def __init__(
        self,
        message: str,
        *,
        expired: bool,
        payload: LinkPayload | None = None,
        signed_at: datetime | None = None,
    ) -> None:
        super().__init__(message, "link_expired" if expired else "link_invalid")
        self.expired = expired
        self.payload = payload  # for an expired link: whose it was (the signature was valid)
        self.signed_at = signed_at


@dataclass(frozen=True)
class LinkPayload:
    case_id: int
    account_id: str
    authorization_id: str
    stripe_account: str = ""  # the connected account the case's objects live on ('' platform)

    def to_json(self) -> dict[str, object]:
        """The signed fields; a platform link leaves `stripe_account` out (the same token as
        before Connect)."""
        data = asdict(self)
        if not self.stripe_account:
            del data["stripe_account"]
        return data


def _serializer(settings: Settings, at: int | None = None) -> URLSafeTimedSerializer:
    # LINK_SIGNING_KEYS lists the newest first; itsdangerous signs with the last key.
    keys = list(reversed(settings.signing_keys()))
    if at is None:
        return URLSafeTimedSerializer(keys, salt=SALT)
    return URLSafeTimedSerializer(keys, salt=SALT, signer=_signer_at(at))


def _signer_at(at: int) -> type[TimestampSigner]:
    class SignerAt(TimestampSigner):
        def get_timestamp(self) -> int:
            return at

    return SignerAt


def sign_link(
    payload: LinkPayload, settings: Settings | None = None, *, at: int | None = None
) -> str:
    """The link's token, signed now or, with `at`, as of that unix time (the same token each
    time: a webhook retry sends the same bytes; the link expires LINK_MAX_AGE after `at`)."""
    return str(_serializer(settings or get_settings(), at).dumps(payload.to_json()))


def read_link(token: str, settings: Settings | None = None) -> LinkPayload:
    """The payload of a valid token; LinkError if tampered or older than LINK_MAX_AGE."""
    return read_link_at(token, settings)[0]


def read_link_at(token: str, settings: Settings | None = None) -> tuple[LinkPayload, datetime]:
    """The payload of a valid token and when it was signed (a revocation is checked against
    it); LinkError if tampered or older than LINK_MAX_AGE."""
    settings = settings or get_settings()
    if not _canonical(token):
        raise LinkError("the link is not valid", expired=False)
    serializer = _serializer(settings)
    try:
        data, signed_at = serializer.loads(
            token, max_age=settings.link_max_age, return_timestamp=True
        )
    except SignatureExpired as exc:
        expired = _payload(serializer.load_payload(exc.payload)) if exc.payload else None
        raise LinkError(
            "the link has expired", expired=True, payload=expired, signed_at=exc.date_signed
        ) from None
    except BadSignature:
        raise LinkError("the link is not valid", expired=False) from None
    payload = _payload(data)
    if payload is None:
        raise LinkError("the link is not valid", expired=False)
    return payload, signed_at


def _canonical(token: str) -> bool:
    """Whether `token` is the one spelling of its bytes. itsdangerous decodes base64 leniently
    (characters outside the alphabet are dropped, a last character's spare bits ignored), so
    `token + "!!"` would verify too: each variant a new page, a new Stripe session."""
    if not TOKEN_SHAPE.fullmatch(token):
        return False
    try:
        return all(
            base64_encode(base64_decode(part)).decode() == part
            for part in token.lstrip(".").split(".")
        )
    except BadData:  # a part of impossible length
        return False


def revoked(signed_at: datetime, revoked_at: datetime | None) -> bool:
    """Whether a link signed at `signed_at` predates its case's revocation (links carry whole
    seconds: one signed in the revocation's own second stays valid)."""
    return revoked_at is not None and signed_at < revoked_at.replace(microsecond=0)


def _payload(data: object) -> LinkPayload | None:
    try:
        return LinkPayload(**data)  # type: ignore[arg-type]
    except TypeError:
        return None


def link_url(
    payload: LinkPayload, settings: Settings | None = None, *, at: int | None = None
) -> str:
    settings = settings or get_settings()
    return f"{settings.public_base_url.rstrip('/')}/relink/{sign_link(payload, settings, at=at)}"
