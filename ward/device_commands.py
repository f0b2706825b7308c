"""Commands the ward sends a device on ``ward/v1/devices/{id}/commands`` (docs/ingest.md,
"Commands to a device"): the one place that writes and reads their JSON, so the alerts
engine that sends them and a device (the simulator's, or a maker's test) that reads
them agree.  Pure.

Today there is one command, ``remeasure`` (alerts/remeasure.py decides when):
``{"command": "remeasure", "types": ["spo2", "heart_rate"], "request_id": 42,
"deadline": "2026-12-03T10:10:00.000Z"}``: measure these types again and send them on the
readings topic as usual, before the deadline.  A device ignores fields it does not
know (a later version may add some) and refuses, without acting, a command it cannot
read: acting on half of one is worse than not acting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ward.domain import ReadingType

REMEASURE = "remeasure"
MAX_COMMAND_BYTES = 4096  # a command is a few hundred bytes; more is not ours


class CommandRefused(ValueError):
    """A command payload a device must not act on, with the reason in words."""


@dataclass(frozen=True, slots=True)
class RemeasureCommand:
    """Measure ``types`` again before ``deadline`` (aware, UTC).  ``request_id``
    names the ward's request (remeasure_requests); a device may log it."""

    request_id: int
    types: tuple[str, ...]
    deadline: datetime


class _Remeasure(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    command: Literal["remeasure"]
    request_id: int = Field(gt=0)
    types: list[ReadingType] = Field(min_length=1, max_length=len(ReadingType))
    deadline: AwareDatetime


def remeasure_payload(cmd: RemeasureCommand) -> bytes:
    """The JSON of a remeasure command."""
    if cmd.deadline.tzinfo is None:
        raise ValueError("a command's deadline must be an aware datetime")
    deadline = cmd.deadline.astimezone(UTC).isoformat(timespec="milliseconds")
    body = {"command": REMEASURE, "types": list(cmd.types), "request_id": cmd.request_id,
            "deadline": deadline.replace("+00:00", "Z")}
    return json.dumps(body, separators=(",", ":")).encode()


def parse_command(payload: bytes) -> RemeasureCommand:
    """A command as a device reads it; ``CommandRefused`` with the reason otherwise."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandRefused(f"command of {len(payload)} bytes (at most {MAX_COMMAND_BYTES})")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CommandRefused(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CommandRefused("a command is a JSON object")
    if data.get("command") != REMEASURE:
        raise CommandRefused(f"unknown command {str(data.get('command'))[:40]!r}"
                             f" (known: {REMEASURE})")
    if isinstance(data.get("deadline"), str):  # JSON has no time: strict mode wants one
        try:
            data["deadline"] = datetime.fromisoformat(data["deadline"])
        except ValueError:
            raise CommandRefused(f"deadline {data['deadline'][:40]!r} is not an RFC 3339"
                                 " time") from None
    if isinstance(data.get("types"), list):  # strict mode takes no str for an enum
        data["types"] = [_reading_type(t) for t in data["types"]]
    try:
        cmd = _Remeasure.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CommandRefused(f"{where}: {first['msg']}") from None
    if len(set(cmd.types)) != len(cmd.types):
        raise CommandRefused("types: a type is named twice")
    return RemeasureCommand(cmd.request_id, tuple(str(t) for t in cmd.types),
                            cmd.deadline.astimezone(UTC))


def _reading_type(name: object) -> ReadingType:
    try:
        if not isinstance(name, str):
            raise ValueError(name)
        return ReadingType(name)
    except ValueError:
        raise CommandRefused(f"types: unknown reading type {str(name)[:40]!r}") from None
