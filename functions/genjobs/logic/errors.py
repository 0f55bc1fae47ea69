"""Domain errors; the API maps each to an RFC 9457 problem (see handlers.api)."""

from __future__ import annotations

from typing import Self


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []

    @classmethod
    def field(cls, field: str, reason: str) -> Self:
        return cls(f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


class BadRequest(DomainError):
    """A well-formed request naming something the deployment does not have (e.g. a plan)."""


class InvalidRequest(DomainError):
    status = 422
    title = "Invalid request"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class PaymentRequired(DomainError):
    status = 402
    title = "Insufficient credits"

    @classmethod
    def short(cls, what: str, needed: int, available: int) -> PaymentRequired:
        """`what` needs `needed` credits and only `available` are."""
        return cls(
            f"{what} needs {needed} credits; {available} are available",
            errors=[{"field": "credits", "reason": f"needs {needed}, available {available}"}],
        )


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
