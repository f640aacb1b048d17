"""HTTP plumbing shared by the blueprints: JSON errors, JSON bodies, bearer tokens.

Every error any endpoint can produce — ours, Werkzeug's, the rate limiter's, the admin
service's domain errors — leaves as `{"error": {"status", "code", "message"}}` with the right
status, never an HTML page. DOMAIN_STATUSES is the one place a domain error gets its status;
the console shows the same errors as pages with the same status (server/console.py).
"""
from __future__ import annotations

import hmac
import json
import logging
import traceback
from functools import wraps
from typing import Callable, Optional

from flask import Flask, current_app, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import ClientDisconnected, HTTPException

from engine.fileio import StorageError
from engine.registry import RegistryError
from server.service import AdminService
from server.service.errors import Conflict, Invalid, NotFound, TooLarge, Unavailable
from server.storage.database import DatabaseUnavailable

log = logging.getLogger("draftguard")


# pragma: no mutate start (`make mutation` covers the bearer-token check below, not the JSON plumbing)
def state(name: str):
    """The app's shared objects: service (for everything admin), registry, model, policy,
    storage, counter (see create_app)."""
    return current_app.extensions["draftguard"][name]


def service() -> AdminService:
    """The admin service: what the admin API, the console and the CLI call."""
    return state("service")


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: Optional[str] = None, headers: Optional[dict] = None,
                 details: Optional[list] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.details = details  # e.g. every bad row of an upload, as error.details


CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
         422: "unprocessable", 429: "rate_limited", 500: "internal_error", 503: "unavailable",
         507: "insufficient_storage"}


def error_response(status: int, message: str, code: Optional[str] = None, headers: Optional[dict] = None,
                   details: Optional[list] = None):
    body = {"error": {"status": status, "code": code or CODES.get(status, "error"), "message": message}}
    if details is not None:
        body["error"]["details"] = details
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# The admin service's refusals (server/service/errors.py) and the status each is answered
# with; the first class that matches wins, so a subclass comes before its base.
DOMAIN_STATUSES = ((TooLarge, 413), (Invalid, 400), (NotFound, 404), (Conflict, 409), (Unavailable, 503))


def domain_error(exc: Exception) -> ApiError:
    """The HTTP answer to a domain error: its status, its message, and its details if any."""
    status = next(status for kind, status in DOMAIN_STATUSES if isinstance(exc, kind))
    return ApiError(status, str(exc), details=getattr(exc, "details", None))


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.code, exc.headers, exc.details)

    for kind, _ in DOMAIN_STATUSES:
        app.register_error_handler(kind, lambda exc: _api_error(domain_error(exc)))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        headers = {}
        if exc.code == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        if exc.code == 429:
            message = f"too many requests: limit is {exc.description}; slow down and retry shortly"
        else:
            message = exc.description or exc.name
        return error_response(exc.code or 500, message, headers=headers)

    @app.errorhandler(RegistryError)
    def _registry_unusable(exc: RegistryError):
        return error_response(503, f"the model registry cannot be used: {exc}. The check API keeps serving the "
                                   "model it has; restore models/registry.json from a backup", "registry_unavailable")

    @app.errorhandler(StorageError)
    def _cannot_save(exc: StorageError):
        return error_response(*storage_error_reply(exc))

    @app.errorhandler(ClientDisconnected)
    def _body_not_received(exc: ClientDisconnected):
        # werkzeug reports any failed read of the body as a disconnect; when the socket's read
        # timeout (server/serving.py) fired, the client is too slow, not gone.
        if isinstance(exc.__context__, TimeoutError):
            return error_response(408, "the request body arrived too slowly; send it again", "request_timeout",
                                  headers={"Connection": "close"})
        return _http_error(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log_unexpected(exc)
        return error_response(500, INTERNAL_ERROR)


def storage_error_reply(exc: StorageError) -> tuple[int, str, str]:
    """(status, message, code) for a write refused by the disk or a database out of reach; /healthz
    shows it too."""
    state("storage").database.note_failure(exc)
    if isinstance(exc, DatabaseUnavailable):
        return 503, f"{exc}, so nothing was saved; the check API keeps working. Try again in a minute; if this " \
                    "lasts, ask the administrator", "database_unavailable"
    if exc.full:
        return 507, "the server's disk is full, so nothing was saved; ask the administrator to free space", \
            "insufficient_storage"
    return 503, "the server cannot write to its data or models folder (read-only), so nothing was saved; " \
                "ask the administrator", \
        "storage_unavailable"


INTERNAL_ERROR = "internal error; the administrator can find details in the server log"


def log_unexpected(exc: Exception) -> None:
    # The message and locals may contain draft text: log the type and the frames only.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, request.path, frames)


def json_body(model: type[BaseModel]) -> BaseModel:
    """Parse and validate the request's JSON body, or raise ApiError with a helpful message."""
    if request.mimetype != "application/json":
        raise ApiError(415, "send the body as JSON with Content-Type: application/json")
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, "the request body is empty; send a JSON object")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not valid UTF-8") from None
    except RecursionError:
        raise ApiError(400, "the JSON body is nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the JSON body must be an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, describe_validation_error(exc)) from None
    except RecursionError:
        raise ApiError(400, "the JSON body is nested too deeply") from None


def describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_input=False):
        where = ".".join(str(part) for part in err["loc"]) or "body"
        problems.append(f"{where}: {err['msg']}")
    return "invalid request: " + "; ".join(problems)


# pragma: no mutate end
def bearer_token() -> Optional[str]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_token(config_key: str, closed_when_unset: bool) -> Callable:
    """Decorator: the request must pass `authorize(config_key, closed_when_unset)`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            authorize(config_key, closed_when_unset)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def authorize(config_key: str, closed_when_unset: bool) -> None:
    """Raise ApiError unless the request carries `Authorization: Bearer <app.config[config_key]>`.

    With no token configured the route is open (`closed_when_unset=False`, the check API on a
    trusted network) or closed to everyone (`closed_when_unset=True`, the admin API).
    """
    expected = current_app.config.get(config_key) or ""
    if not expected:
        if closed_when_unset:
            raise ApiError(403, f"this API is disabled: set DRAFTGUARD_{config_key} on the server")
        return
    given = bearer_token()
    if given is None:
        raise ApiError(401, "missing bearer token: send Authorization: Bearer <token>",
                       headers={"WWW-Authenticate": 'Bearer realm="draftguard"'})
    if not hmac.compare_digest(given.encode(), expected.encode()):
        if closed_when_unset:  # the admin API: a wrong token may be someone guessing
            state("service").record_audit("unknown", "auth.failed",
                                           {"path": request.path, "client": request.remote_addr or ""})
        raise ApiError(403, "the bearer token is not valid")
