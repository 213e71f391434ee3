"""Encryption of vendor secrets at rest with the SEATKEEPER_ENCRYPTION_KEY Fernet key."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored secret was encrypted with another key (the key was changed or lost)."""


def encrypt(plain: str) -> str:
    return Fernet(settings.ENCRYPTION_KEY).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return Fernet(settings.ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable(
            "secret was encrypted with another SEATKEEPER_ENCRYPTION_KEY"
        ) from error
