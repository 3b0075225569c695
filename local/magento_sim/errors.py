"""Magento web API error bodies (``Magento\\Framework\\Webapi\\ErrorProcessor``) and their exact messages."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response

MSG_NO_ROUTE = "Request does not match any route."
MSG_UNAUTHORIZED = "The consumer isn't authorized to access %resources."
MSG_SIGN_IN = ("The account sign-in was incorrect or your account is disabled temporarily. "
               "Please wait and try again later.")
MSG_2FA = "Please use the 2fa provider-specific endpoints to obtain a token."
MSG_NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."
MSG_ID_NEEDED = "An ID is needed. Set the ID and try again."
MSG_NO_PRODUCT = "The product that was requested doesn't exist. Verify the product and try again."
MSG_NO_PRODUCT_SKU = 'The Product with the "%1" SKU doesn\'t exist.'
MSG_NO_SUCH_ENTITY_FIELD = "No such entity with %fieldName = %fieldValue"
MSG_REQUIRED = '"%fieldName" is required. Enter and try again.'
MSG_UNIQUE = "Unique constraint violation found"
MSG_MAX_ITEMS = 'Maximum items of type "%type" is %max'
MSG_MAX_PAGE_SIZE = "Maximum SearchCriteria pageSize is %max"
MSG_HOLD = "A hold action is not available."
MSG_UNHOLD = "You cannot remove the hold."
MSG_SHIP_SAVE = "Could not save a shipment, see error log for details"
MSG_INVOICE_SAVE = "Could not save an invoice, see error log for details"
MSG_TRACK_SAVE = "Could not save the shipment tracking."
MSG_VALIDATION = "Validation Failed"
MSG_SOURCE_ITEM_SAVE = "Could not save Source Item"
MSG_INPUT_EMPTY = "Input data is empty"
MSG_CUSTOMER_EXISTS = "A customer with the same email address already exists in an associated website."
MSG_SKUS_NOT_FOUND = "Following products with requested skus were not found: %skus"
MSG_DECODING = "Decoding error."
INTERNAL_ERROR = "Internal Error. Details are available in Magento log file. Report ID: webapi-%s"

SHIPMENT_PREFIX = "Shipment Document Validation Error(s):\n"
INVOICE_PREFIX = "Invoice Document Validation Error(s):\n"


class MagentoError(Exception):
    """A web API exception: HTTP status plus Magento's raw message template and parameters."""

    def __init__(self, status: int, message: str, parameters: dict[str, Any] | list[Any] | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.parameters, self.errors = status, message, parameters, errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.errors:
            out["errors"] = self.errors
        if self.parameters:
            out["parameters"] = self.parameters
        return out

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


def not_found() -> MagentoError:
    return MagentoError(404, MSG_NO_ENTITY)


def required(field: str) -> MagentoError:
    return MagentoError(400, MSG_REQUIRED, {"fieldName": field})


def unauthorized(resource: str) -> MagentoError:
    return MagentoError(401, MSG_UNAUTHORIZED, {"resources": resource})


def report_id() -> str:
    return secrets.token_hex(7)[:13]


def render(message: str, parameters: dict[str, Any] | list[Any] | None) -> str:
    """Substitute ``%1``/``%name`` placeholders as a Magento client would."""
    if isinstance(parameters, list):
        for i, value in reversed(list(enumerate(parameters, start=1))):
            message = message.replace(f"%{i}", str(value))
    elif isinstance(parameters, dict):
        for key in sorted(parameters, key=len, reverse=True):
            message = message.replace(f"%{key}", str(parameters[key]))
    return message


_EDGE_TITLES = {429: "429 Too Many Requests", 502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable",
                504: "504 Gateway Time-out"}


def fault_body(status: int) -> Response:
    """Body for an injected fault: Magento's opaque 500, or an nginx-style edge page for 429/502/503/504."""
    if status in _EDGE_TITLES:
        title = _EDGE_TITLES[status]
        html = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
                "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
        return HTMLResponse(html, status_code=status)
    if status >= 500:
        return JSONResponse({"message": INTERNAL_ERROR % report_id()}, status_code=status)
    return JSONResponse({"message": MSG_NO_ROUTE if status == 404 else INTERNAL_ERROR % report_id()},
                        status_code=status)
