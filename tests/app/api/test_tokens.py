"""Access tokens and CSRF tokens."""

from __future__ import annotations

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


def test_csrf_token_is_bound_to_its_session() -> None:
    token = create_csrf_token("session-a", SECRET)
    assert verify_csrf_token(token, "session-a", SECRET)
    assert not verify_csrf_token(token, "session-b", SECRET)
    assert not verify_csrf_token(token, "session-a", "other" * 10)
    assert not verify_csrf_token(None, "session-a", SECRET)
    assert not verify_csrf_token("garbage", "session-a", SECRET)
    assert create_csrf_token("session-a", SECRET) != token  # a fresh nonce each time
