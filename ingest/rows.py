"""The rows one ingest batch writes; plain values, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


class ObservationRow(NamedTuple):
    """A reading to store; `ref` ties it back to its message for refusals.
    A named tuple: one is made per reading on the hot path, and COPY takes
    it as it is."""

    ref: int
    time: datetime
    device_id: str
    type: str
    value: float
    received_at: datetime


class MappedRow(NamedTuple):
    """A reading with the patient its device was assigned to at its time:
    the columns of `observations`, in order, for COPY."""

    time: datetime
    patient_id: str
    device_id: str
    type: str
    value: float
    received_at: datetime


@dataclass(frozen=True, slots=True)
class RejectionRow:
    received_at: datetime
    topic: str
    device_id: str | None
    message_id: str | None
    reason_code: str
    reason: str
    whole: bool
    payload: bytes


@dataclass(frozen=True, slots=True)
class StatusRow:
    time: datetime
    device_id: str
    online: bool | None
    battery: float | None
    firmware: str | None
    signal: float | None
    raw: dict


def _no_message_ids() -> Sequence[str | None]:
    return ()


@dataclass(frozen=True, slots=True)
class Batch:
    observations: Sequence[ObservationRow]
    statuses: Sequence[StatusRow]
    last_seen: dict[str, datetime]
    # Given the refs of readings no assignment covers, the rejected-messages rows.
    rejections: Callable[[frozenset[int]], Sequence[RejectionRow]]
    # The message id of each reading, by ref: asked for only when the batch
    # meets a reading stored before, so that a correction names its message.
    message_ids: Callable[[], Sequence[str | None]] = _no_message_ids
    # Keys of ingest_attempts rows to delete in the same transaction: the
    # messages this batch stores (or dead-letters) are done with.
    forget: Sequence[bytes] = ()


@dataclass(frozen=True, slots=True)
class Written:
    """New readings stored, the refs no assignment covered, and corrections:
    readings stored before with another value, which now take this one.  The
    rest of the batch were retransmissions (duplicates)."""

    stored: int
    unassigned: frozenset[int]
    corrected: int = 0
