"""Two-factor sign-in: TOTP codes (RFC 6238, pyotp), the setup QR code (SVG, segno) and backup codes.

The functions here are pure; the account state (secret, last accepted step, backup-code hashes) lives
in the database (app/services/account_security.py).
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import time

import pyotp
import segno

ISSUER = "pcap-analyzer"
STEP_SECONDS = 30
WINDOW_STEPS = 1  # a code of the previous or next 30 s step is accepted too (clock drift)
BACKUP_CODE_COUNT = 10
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes
_BACKUP_LENGTH = 12  # 12 characters of a 31-letter alphabet: 59 random bits
_SECRET_RE = re.compile(r"^[A-Z2-7]{32}$")


def new_secret() -> str:
    """A random 160-bit base32 secret (32 characters)."""
    return pyotp.random_base32(32)


def valid_secret(secret: str) -> bool:
    return bool(_SECRET_RE.fullmatch(secret))


def provisioning_uri(secret: str, account: str) -> str:
    """The otpauth:// URI that authenticator apps read from the QR code."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as a QR code in an SVG document (no XML declaration, ready to embed)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
    return buffer.getvalue().decode()


def matching_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    """The time step (±WINDOW_STEPS around now) whose TOTP equals `code`, or None."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_backup_codes() -> list[str]:
    """BACKUP_CODE_COUNT random codes, shown once, like 'abcd-efgh-jkmn'."""
    codes = []
    for _ in range(BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(_BACKUP_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _BACKUP_LENGTH, 4)))
    return codes


def backup_code_hash(code: str) -> str:
    """The stored form of a backup code: SHA-256 of its normalised letters (case and dashes ignored)."""
    normalised = re.sub(r"[\s-]", "", code).lower()
    return hashlib.sha256(f"pcap-analyzer backup code|{normalised}".encode()).hexdigest()


def looks_like_backup_code(code: str) -> bool:
    return len(re.sub(r"[\s-]", "", code)) == _BACKUP_LENGTH
