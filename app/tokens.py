"""Access tokens (JWT, HS256) and CSRF tokens bound to the browser session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
COOKIE_NAME = "pcap_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid access token says: whose it is and which session it belongs to."""

    user_id: str
    session_id: str
    expires_at: datetime


def create_access_token(user_id: str, secret: str, expire_minutes: int) -> tuple[str, TokenClaims]:
    """Sign a token for `user_id` that expires after `expire_minutes`."""
    claims = TokenClaims(
        user_id=user_id,
        session_id=uuid.uuid4().hex,
        expires_at=(datetime.now(UTC) + timedelta(minutes=expire_minutes)).replace(microsecond=0),
    )
    payload = {"sub": user_id, "jti": claims.session_id, "exp": claims.expires_at, "typ": "access"}
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def decode_access_token(token: str, secret: str) -> TokenClaims | None:
    """The claims of a valid, unexpired token; None for anything else (never raises)."""
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "jti"]}
        )
    except jwt.PyJWTError:
        return None
    if payload.get("typ") != "access" or not isinstance(payload["sub"], str):
        return None
    return TokenClaims(
        user_id=payload["sub"],
        session_id=str(payload["jti"]),
        expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
    )


def _csrf_mac(nonce: str, binding: str, secret: str) -> str:
    return hmac.new(secret.encode(), f"csrf|{nonce}|{binding}".encode(), hashlib.sha256).hexdigest()


def create_csrf_token(binding: str, secret: str) -> str:
    """A CSRF token valid for the session `binding` (the session id of the cookie, or "anonymous")."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_csrf_mac(nonce, binding, secret)}"


def verify_csrf_token(token: str | None, binding: str, secret: str) -> bool:
    """True when `token` was issued by create_csrf_token for this same session."""
    if not token or token.count(".") != 1:
        return False
    nonce, mac = token.split(".")
    return hmac.compare_digest(mac, _csrf_mac(nonce, binding, secret))
