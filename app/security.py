"""Password hashing (Argon2id via argon2-cffi), the password policy, and username/email validation.

Argon2 hashes the whole password whatever its length, so there is no 72-byte limit as with bcrypt.
Tokens (JWT, CSRF) live in app/tokens.py.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from zxcvbn import zxcvbn

from app.errors import InvalidInput, WeakPassword

MIN_PASSWORD_LENGTH = 12
MIN_ZXCVBN_SCORE = 3  # zxcvbn's 0-4 scale: 3 = "safely unguessable: moderate protection from offline attacks"
MAX_PASSWORD_LENGTH = 1024  # hashing cost is linear in the length: bound it against abuse
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")

_hasher = PasswordHasher()  # argon2id with the library's current RFC 9106 low-memory profile
# A valid hash to verify against when the user does not exist, so that both paths cost the same.
_DUMMY_HASH = _hasher.hash("no such user: constant-time dummy")

# Frequent passwords (and their obvious variants) from public breach lists that pass the length rule.
COMMON_PASSWORDS = frozenset(
    """
    123456789012 1234567890123 12345678901234 123456789123 111111111111 000000000000 123123123123
    qwertyuiopas qwertyuiop123 qwerty123456 1qaz2wsx3edc 1q2w3e4r5t6y zaq12wsxcde3 asdfghjkl123
    password1234 password12345 password123456 password123! passwordpassword p@ssw0rd1234 passw0rd1234
    iloveyou1234 iloveyouiloveyou letmein12345 letmeinletmein welcome12345 welcome123456 welcomewelcome
    administrator admin1234567 adminadmin123 administrator1 changeme1234 changemenow! changeme12345
    sunshine1234 football1234 baseball1234 princess1234 dragon123456 monkey123456 superman1234
    trustno1trustno1 abcdefghijkl abc123abc123 abcd12345678 aaaaaaaaaaaa qwertyqwerty
    secretpassword mysecretpassword supersecret1 verysecurepassword securepassword mypassword123
    strongpassword strongpassword1 correcthorsebatterystaple
    passwordpassword1 1234567890qwerty qwerty1234567890 computer1234 internet1234 starwars1234
    whatever1234 michael12345 jennifer1234 liverpool123 chelsea12345 arsenal12345 pokemon12345
    """.split()
)


def hash_password(password: str) -> str:
    """An Argon2id hash (salted, self-describing) of the password."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    """True when the password matches; compares against a dummy hash when there is none (timing)."""
    try:
        return _hasher.verify(hashed or _DUMMY_HASH, password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(hashed)
    except InvalidHashError:
        return True


def check_password_policy(password: str, *, username: str | None = None) -> None:
    """Raise WeakPassword unless the password has 12+ characters and is not a common or trivial one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(lowered)) <= 2:
        raise WeakPassword("this password is too common; choose another one")
    if username and lowered.strip() == username.lower():
        raise WeakPassword("the password must not be the username")


def check_password_strength(password: str, *, username: str | None = None, email: str | None = None) -> None:
    """check_password_policy, then raise WeakPassword unless zxcvbn scores the password at least
    MIN_ZXCVBN_SCORE; its warning and suggestions become the message.

    Applied wherever a person chooses a password (registration, change, reset). The service's
    create_user applies only the base policy, so that scripts and the spec's examples keep working.
    """
    check_password_policy(password, username=username)
    # zxcvbn refuses more than 72 characters (its cost grows with the length); they are plenty to judge.
    result = zxcvbn(password[:72], user_inputs=[x for x in (username, email, "pcap", "analyzer") if x])
    if result["score"] < MIN_ZXCVBN_SCORE:
        feedback = result.get("feedback") or {}
        hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
        advice = " ".join(h.strip().rstrip(".") + "." for h in hints if h and h.strip())
        raise WeakPassword(f"this password is too easy to guess. {advice or 'Add more words or characters.'}")


def normalize_username(username: str) -> str:
    """The username, stripped; raise InvalidInput unless 3-32 letters, digits, '.', '_' or '-'."""
    value = username.strip()
    if not USERNAME_RE.fullmatch(value):
        raise InvalidInput(
            "the username must have 3 to 32 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def normalize_email(email: str) -> str:
    """The email address in normalised form; raise InvalidInput when it is not a valid address."""
    try:
        info = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"invalid email address: {exc}") from None
    return info.normalized.lower()
