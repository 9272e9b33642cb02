"""Password hashing with Argon2id (argon2-cffi); plain passwords are never stored or logged."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

# Easily read aloud or typed on a phone: no 0/O, 1/l/I.
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; a corrupt or empty hash simply fails."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password(length: int = 16, rng: secrets.SystemRandom | None = None) -> str:
    """A one-time password for a new account (the user must change it at first sign-in)."""
    chooser = rng or secrets.SystemRandom()
    return "".join(chooser.choice(_ALPHABET) for _ in range(length))
