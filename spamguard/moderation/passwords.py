"""Password hashing with argon2id (argon2-cffi defaults), rehashed when the parameters change."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 copes, but a megabyte "password" is only a way to burn CPU

_hasher = PasswordHasher()
# Verified against when the username does not exist, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("spamguard-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_policy(password: str) -> str | None:
    """An error message, or None when the password is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    return None


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; always does one argon2 verification."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
