"""API errors: one exception type carrying the HTTP status and a one-line reason."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, reason: str, *, text: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.text = text  # answer as plain text (Esplora's text routes), else JSON


def bad_request(reason: str) -> ApiError:
    return ApiError(400, reason)


def not_found(reason: str) -> ApiError:
    return ApiError(404, reason)
