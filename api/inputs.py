"""How a request's input is read: strictly, as its OpenAPI schema types it
(issue 10, item 15).  The types api/schemas.py's bodies and the routes'
query parameters are built of."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Strict


class StrictIn(BaseModel):
    """A request body: strict, as its schema says (`"changed_management": 0` is
    no boolean, `"1.5"` no number).  FastAPI validates the parsed JSON in
    Python mode, where strict would refuse every time as text: `Time` is lax."""

    model_config = ConfigDict(strict=True)


# RFC 3339, as OpenAPI's `format: date-time` means: a date, a time to the
# second and a zone.  Not a number (pydantic would read `0.5` as 1970).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")


def _time_text(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("a time is ISO 8601 text with a time zone, e.g. 2026-11-23T08:00:00Z")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a time needs its timezone offset (e.g. 2026-11-23T08:00:00Z)")
    return value


Time = Annotated[datetime, Strict(False), BeforeValidator(_time_text), AfterValidator(_aware)]


def no_bool(value: object) -> object:
    """JSON `true` is 1 to Python: a `Literal[1, 2]` would take it."""
    if isinstance(value, bool):
        raise ValueError("a number, not a boolean")
    return value
