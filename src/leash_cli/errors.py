"""Error bodies in each provider's own shape, so the official SDKs raise their
proper typed exceptions (``openai.BadRequestError``, ``anthropic.RateLimitError``,
``google.genai.errors.ClientError`` ...)."""

from __future__ import annotations

import orjson

# status -> (openai type, anthropic type, google status)
_TYPES: dict[int, tuple[str, str, str]] = {
    400: ("invalid_request_error", "invalid_request_error", "INVALID_ARGUMENT"),
    401: ("authentication_error", "authentication_error", "UNAUTHENTICATED"),
    403: ("permission_error", "permission_error", "PERMISSION_DENIED"),
    404: ("not_found_error", "not_found_error", "NOT_FOUND"),
    405: ("invalid_request_error", "invalid_request_error", "INVALID_ARGUMENT"),
    413: ("invalid_request_error", "request_too_large", "INVALID_ARGUMENT"),
    429: ("rate_limit_error", "rate_limit_error", "RESOURCE_EXHAUSTED"),
    500: ("server_error", "api_error", "INTERNAL"),
    502: ("server_error", "api_error", "UNAVAILABLE"),
    503: ("server_error", "overloaded_error", "UNAVAILABLE"),
    504: ("server_error", "timeout_error", "DEADLINE_EXCEEDED"),
}


def error_body(api: str, status: int, message: str, code: str | None = None) -> bytes:
    """The JSON error body for `api` (openai | anthropic | google)."""
    oa, an, gs = _TYPES.get(status, _TYPES[500] if status >= 500 else _TYPES[400])
    if api == "anthropic":
        return orjson.dumps({"type": "error", "error": {"type": an, "message": message}})
    if api == "google":
        body: dict = {"error": {"code": status, "message": message, "status": gs}}
        if code:
            body["error"]["details"] = [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code, "domain": "leash"}
            ]
        return orjson.dumps(body)
    return orjson.dumps({"error": {"message": message, "type": oa, "param": None, "code": code}})


def guess_api(path: str, headers: dict[str, str]) -> str:
    """Best guess of the caller's wire shape when no provider says it."""
    if "anthropic-version" in headers or path.endswith("messages"):
        return "anthropic"
    if "x-goog-api-key" in headers or ":generateContent" in path or ":streamGenerateContent" in path:
        return "google"
    return "openai"
