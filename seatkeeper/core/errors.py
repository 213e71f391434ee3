"""Errors raised by service functions; views and the API turn them into messages or 4xx answers."""

from __future__ import annotations


class ServiceError(Exception):
    """A refused operation, with a message safe to show the person who asked."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class PermissionRefused(ServiceError):
    status_code = 403

    def __init__(self, message: str, *, code: str = "permission_denied") -> None:
        super().__init__(message, code=code)


class Conflict(ServiceError):
    status_code = 409

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        super().__init__(message, code=code)
