"""The JSON error shape and API-key authentication shared by the JSON API and the delivery feed.

Errors are `{"error": {"code": <stable code>, "message": ...}}` with a 4xx/5xx
status.  Kept below both users so delivery need not import the API layer.
"""

from __future__ import annotations

from flask import Response, jsonify, request
from werkzeug.datastructures import MultiDict

from spamguard.services import services
from spamguard.storage import get_session
from spamguard.storage.models import Site


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def authenticate(fields: MultiDict[str, str]) -> Site:
    """`api_key` in the body, else `Authorization: Bearer <key>`."""
    key = (fields.get("api_key") or "").strip()
    auth = request.headers.get("Authorization", "")
    if not key and auth[:7].lower() == "bearer ":
        key = auth[7:].strip()
    if not key:
        raise ApiError(
            401,
            "missing_api_key",
            "Send api_key in the body or an Authorization: Bearer header.",
            {"WWW-Authenticate": "Bearer"},
        )
    site = services().site_cache.find(get_session(), key)
    if site is None:
        raise ApiError(401, "invalid_api_key", "Unknown or revoked API key.", {"WWW-Authenticate": "Bearer"})
    return site
