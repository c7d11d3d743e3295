"""Access tokens and CSRF tokens."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import jwt

from app.tokens import (
    ALGORITHM,
    create_access_token,
    create_csrf_token,
    decode_access_token,
    verify_csrf_token,
)

SECRET = "s" * 64


def test_access_token_round_trip_and_rejections() -> None:
    token, claims = create_access_token("user-1", SECRET, 30)
    decoded = decode_access_token(token, SECRET)
    assert decoded == claims and decoded.user_id == "user-1"
    assert decode_access_token(token, "another-secret" * 4) is None
    assert decode_access_token(token[:-2] + "xx", SECRET) is None
    expired, _ = create_access_token("user-1", SECRET, -1)
    assert decode_access_token(expired, SECRET) is None
    unsigned = jwt.encode(
        {"sub": "user-1", "jti": "x", "exp": 9999999999, "typ": "access"}, "", algorithm="none"
    )
    assert decode_access_token(unsigned, SECRET) is None
    no_type = jwt.encode({"sub": "user-1", "jti": "x", "exp": 9999999999}, SECRET, algorithm=ALGORITHM)
    assert decode_access_token(no_type, SECRET) is None


def test_a_token_seen_before_is_refused_once_it_expires() -> None:
    # Verified tokens are remembered by their string; the expiry must still apply on every use.
    exp = int(time.time()) + 2
    payload = {"sub": "user-2", "jti": "s2", "exp": exp, "typ": "access", "ver": 0}
    token = jwt.encode(payload, SECRET, algorithm=ALGORITHM)
    claims = decode_access_token(token, SECRET)
    assert claims is not None and claims.expires_at == datetime.fromtimestamp(exp, UTC)
    assert decode_access_token(token, SECRET) == claims
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    assert decode_access_token(token, SECRET) is None


def test_long_junk_tokens_are_refused() -> None:
    assert decode_access_token("x" * 5000, SECRET) is None
    token, _ = create_access_token("user-1", SECRET, 30)
    assert decode_access_token(token + "." + "y" * 2000, SECRET) is None


def test_csrf_token_is_bound_to_its_session() -> None:
    token = create_csrf_token("session-a", SECRET)
    assert verify_csrf_token(token, "session-a", SECRET)
    assert not verify_csrf_token(token, "session-b", SECRET)
    assert not verify_csrf_token(token, "session-a", "other" * 10)
    assert not verify_csrf_token(None, "session-a", SECRET)
    assert not verify_csrf_token("garbage", "session-a", SECRET)
    assert create_csrf_token("session-a", SECRET) != token  # a fresh nonce each time


def test_access_tokens_carry_the_token_version() -> None:
    token, claims = create_access_token("user-1", SECRET, 30, version=7)
    assert claims.version == 7 and decode_access_token(token, SECRET).version == 7
    kept, kept_claims = create_access_token("user-1", SECRET, 30, version=8, session_id=claims.session_id)
    assert kept_claims.session_id == claims.session_id  # a re-issued cookie keeps its CSRF binding
    base = {"sub": "user-1", "jti": "x", "exp": 9999999999, "typ": "access"}
    assert decode_access_token(jwt.encode(base, SECRET, algorithm=ALGORITHM), SECRET) is None  # no version
    for bad in (True, "1", 1.5):
        assert (
            decode_access_token(jwt.encode(base | {"ver": bad}, SECRET, algorithm=ALGORITHM), SECRET) is None
        )
