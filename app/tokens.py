"""Access tokens (JWT, HS256) and CSRF tokens bound to the browser session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

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
    version: int = 0  # the user's token_version when issued; a token of an older version is refused


def create_access_token(
    user_id: str, secret: str, expire_minutes: int, *, version: int = 0, session_id: str | None = None
) -> tuple[str, TokenClaims]:
    """Sign a token for `user_id`, issued under the user's token `version`, expiring after `expire_minutes`.

    `session_id` keeps an existing browser session (and its CSRF tokens) when a token is re-issued.
    """
    claims = TokenClaims(
        user_id=user_id,
        session_id=session_id or uuid.uuid4().hex,
        expires_at=(datetime.now(UTC) + timedelta(minutes=expire_minutes)).replace(microsecond=0),
        version=version,
    )
    payload = {
        "sub": user_id,
        "jti": claims.session_id,
        "exp": claims.expires_at,
        "typ": "access",
        "ver": version,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def decode_access_token(token: str, secret: str) -> TokenClaims | None:
    """The claims of a valid, unexpired token; None for anything else (never raises)."""
    verify = _verified_claims if len(token) <= _CACHED_TOKEN_CHARS else _verify
    claims = verify(token, secret)
    if claims is None or claims.expires_at <= datetime.now(UTC):
        return None
    return claims


def _verify(token: str, secret: str) -> TokenClaims | None:
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "jti", "ver"]}
        )
    except jwt.PyJWTError:
        return None
    version = payload["ver"]
    if payload.get("typ") != "access" or not isinstance(payload["sub"], str):
        return None
    if not isinstance(version, int) or isinstance(version, bool):
        return None
    return TokenClaims(
        user_id=payload["sub"],
        session_id=str(payload["jti"]),
        expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        version=version,
    )


# Clients poll with the same token many times a second; checking its signature once is enough (the
# token string is the key, so only that exact token hits). Expiry is checked on every use. Our tokens
# are ~250 characters: longer strings are checked uncached, so junk cannot fill the cache with megabytes.
_CACHED_TOKEN_CHARS = 1024
_verified_claims = lru_cache(maxsize=4096)(_verify)


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
