"""The error answers every route may give, as OpenAPI documents them, so that
the schema says what the API does (issue 10, item 15: a property-based test
from the schema, tests/api/test_api_schema.py, holds the two together)."""

from __future__ import annotations

from typing import Any

from api import schemas

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
    401: {"model": schemas.ErrorOut,
          "description": "No credential, or a wrong, revoked or expired one"},
    403: {"model": schemas.ErrorOut,
          "description": "Not for this role (a device's token; a clinician on an admin route)"},
}

# The same for FHIR, whose every error is an OperationOutcome.
FHIR: Responses = {
    400: {"content": _OPERATION_OUTCOME, "description": "A parameter it cannot read"},
    401: {"content": _OPERATION_OUTCOME, "description": "No credential, or a wrong one"},
    403: {"content": _OPERATION_OUTCOME, "description": "A device's token"},
}
