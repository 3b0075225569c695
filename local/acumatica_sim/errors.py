"""Acumatica-shaped error answers (``HttpError`` JSON) and the exceptions the model raises.

Assumptions where the docs are silent: the 412 exceptionType names are invented; 404 for unknown routes uses
ASP.NET Web API's "No HTTP resource was found" text; a bad ``$filter`` answers 400.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

STACK = ("   at PX.Api.ContractBased.EntityService.{op}(...)\r\n"
         "   at PX.Api.ContractBased.WebApi.Controllers.EntityController.{op}(...)")


class ApiError(Exception):
    """An error answered as an HttpError body."""

    def __init__(self, status: int, exception_message: str, exception_type: str = "PX.Data.PXException",
                 message: str = "An error has occurred.") -> None:
        super().__init__(exception_message)
        self.status = status
        self.exception_message = exception_message
        self.exception_type = exception_type
        self.message = message

    def response(self) -> Response:
        return http_error(self.status, self.exception_message, self.exception_type, self.message)


class NotFound(ApiError):
    def __init__(self) -> None:
        super().__init__(500, "No entity satisfies the condition.",
                         "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException")


class ValidationFailed(Exception):
    """Business validation failed: answer 422 with field errors. ``errors`` maps a path like
    ``CustomerID`` / ``Details/0/InventoryID`` / ``MainContact/Address/Country`` to the message."""

    def __init__(self, errors: dict[str, str], entity_error: str | None = None) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()) or entity_error or "invalid")
        self.errors = errors
        self.entity_error = entity_error


class ActionRefused(ApiError):
    """An action cannot run on the record in its current state (Acumatica answers 422/400 with a message)."""

    def __init__(self, text: str, status: int = 422) -> None:
        super().__init__(status, text, "PX.Data.PXException")


def http_error(status: int, exception_message: str | None, exception_type: str | None = "PX.Data.PXException",
               message: str = "An error has occurred.", op: str = "Get") -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if exception_message is not None:
        body["exceptionMessage"] = exception_message
        body["exceptionType"] = exception_type
        body["stackTrace"] = STACK.format(op=op)
    return JSONResponse(body, status_code=status)


def not_logged_in() -> JSONResponse:
    return JSONResponse({"message": "You are not logged in."}, status_code=401)


def no_route(path: str) -> JSONResponse:
    return JSONResponse({"message": f"No HTTP resource was found that matches the request URI '{path}'."},
                        status_code=404)


def bad_request(text: str) -> JSONResponse:
    return http_error(400, text, "System.ArgumentException", message="The request is invalid.")


def login_limit() -> JSONResponse:
    return http_error(429, "API Login Limit", "PX.Data.PXException", op="Login")


def fault_body(status: int) -> Response:
    """Error body factory for the fault injector: IIS-like text for 429, HttpError JSON otherwise."""
    if status == 429:
        return PlainTextResponse("The custom error module does not recognize this error.", status_code=429)
    if status in (502, 503, 504):
        return PlainTextResponse("The service is unavailable.", status_code=status)
    return http_error(status, "Simulated server error.", "System.Exception")


def with_field_errors(body: Any, errors: dict[str, str], entity_error: str | None) -> Any:
    """Echo a submitted entity with ``error`` put on the offending field wrappers (the 422 shape)."""
    import copy

    out = copy.deepcopy(body) if isinstance(body, dict) else {}
    for path, msg in errors.items():
        node: Any = out
        parts = path.split("/")
        for p in parts[:-1]:
            if isinstance(node, list):
                node = node[int(p)] if p.isdigit() and int(p) < len(node) else {}
            else:
                node = node.setdefault(p, {})
        if isinstance(node, dict):
            leaf = node.get(parts[-1])
            if not isinstance(leaf, dict):
                leaf = {"value": leaf} if leaf is not None else {}
                node[parts[-1]] = leaf
            leaf["error"] = msg
    out["error"] = entity_error or ("Inserting or updating the record raised at least one error. "
                                    "Please review the errors.")
    return out
