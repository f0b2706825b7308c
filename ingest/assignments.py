"""Which patient a device was assigned to at a reading's time; pure."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ingest.rows import MappedRow, ObservationRow


@dataclass(frozen=True, slots=True)
class Assignment:
    device_id: str
    patient_id: str
    valid_from: datetime
    valid_to: datetime | None


class AssignmentIndex:
    """Assignments by device, searchable by time (a device moves from one
    patient to the next; a backlog reading belongs to the patient of its
    measurement time, not of its arrival)."""

    def __init__(self, rows: Iterable[Assignment], version: int = -1) -> None:
        self.version = version  # the database's assignment_version when loaded
        by_device: dict[str, list[Assignment]] = {}
        for row in rows:
            by_device.setdefault(row.device_id, []).append(row)
        self._starts: dict[str, list[datetime]] = {}
        self._rows: dict[str, list[Assignment]] = {}
        for device, items in by_device.items():
            items.sort(key=lambda a: a.valid_from)
            self._rows[device] = items
            self._starts[device] = [a.valid_from for a in items]

    def __contains__(self, device_id: str) -> bool:
        return device_id in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def patient_at(self, device_id: str, time: datetime) -> str | None:
        starts = self._starts.get(device_id)
        if not starts:
            return None
        i = bisect.bisect_right(starts, time) - 1
        if i < 0:
            return None
        a = self._rows[device_id][i]
        if a.valid_to is not None and time >= a.valid_to:
            return None
        return a.patient_id


def map_observations(
    rows: Sequence[ObservationRow], index: AssignmentIndex
) -> tuple[list[MappedRow], frozenset[int], dict[str, datetime]]:
    """Rows with their patient, the refs of rows no assignment covers, and
    each patient's earliest reading time (where its rescore must start)."""
    mapped: list[MappedRow] = []
    unassigned: set[int] = set()
    since: dict[str, datetime] = {}
    for r in rows:
        patient = index.patient_at(r.device_id, r.time)
        if patient is None:
            unassigned.add(r.ref)
            continue
        mapped.append(MappedRow(r.time, patient, r.device_id, r.type, r.value, r.received_at))
        first = since.get(patient)
        if first is None or r.time < first:
            since[patient] = r.time
    return mapped, frozenset(unassigned), since
