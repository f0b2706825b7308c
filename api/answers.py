"""The error answers every route may give, as OpenAPI documents them, so that
the schema says what the API does (issue 10, item 15: a property-based test
from the schema, tests/api/test_api_schema.py, holds the two together)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong, in a sentence")


class InvalidOut(BaseModel):
    """422: the request cannot be taken as it is."""

    detail: str | list[FieldError] = Field(
        description="A list of where and why, when parts of the request do not fit the schema;"
                    " a sentence, when the request fits it but cannot be done as asked (start"
                    " after end, a range the chart forbids)")


Responses = dict[int | str, dict[str, Any]]

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                               "schema": {"type": "integer", "minimum": 1}}}

_OPERATION_OUTCOME = {"application/fhir+json": {"schema": {
    "type": "object", "required": ["resourceType", "issue"],
    "properties": {"resourceType": {"const": "OperationOutcome"},
                   "issue": {"type": "array", "items": {"type": "object"}}}}}}

# A route that needs a credential: none or a bad one is 401, a device's
# token (or a clinician on an admin route) 403.
SIGNED_IN: Responses = {
    401: {"model": ErrorOut,
          "description": "No credential, or a wrong, revoked or expired one"},
    403: {"model": ErrorOut,
          "description": "Not for this role (a device's token; a clinician on an admin route)"},
}

# The same for FHIR, whose every error is an OperationOutcome.
FHIR: Responses = {
    400: {"content": _OPERATION_OUTCOME, "description": "A parameter it cannot read"},
    401: {"content": _OPERATION_OUTCOME, "description": "No credential, or a wrong one"},
    403: {"content": _OPERATION_OUTCOME, "description": "A device's token"},
    # A parameter outside its declared shape, or a value the database cannot store
    # (a NUL character): an OperationOutcome too, never FastAPI's plain JSON.
    422: {"content": _OPERATION_OUTCOME, "description": "A value it cannot take"},
}
