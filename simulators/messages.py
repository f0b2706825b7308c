"""The device contract, as the simulated devices speak it (design.md, "Device
contract (MQTT)"): topics, readings and status payloads, the last will, and
`Batch`, the columnar form of planned readings messages that devices create,
faults transform and `encode_readings` turns into bytes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ward import topics
from ward.domain import ReadingType, device_unit
from ward.news2_chart import ACVPU as ACVPU  # consciousness codes in Batch.values

# Column order of Batch.values: the contract's reading types (ward.domain.ReadingType).
TYPES: tuple[str, ...] = tuple(t.value for t in ReadingType)
COLUMN = {name: i for i, name in enumerate(TYPES)}
# UCUM units as the devices send them; on_oxygen and consciousness carry none.
UNITS: dict[str, str | None] = {t.value: device_unit(t) for t in ReadingType}
FAHRENHEIT = "[degF]"

QOS = 1  # readings and status: at least once; the message id makes a resend harmless
WILL_PAYLOAD = json.dumps({"online": False}).encode()

# Batch.flag values: how a malformed message is spoiled when encoded.
OK, TRUNCATED, NO_READINGS, NO_TIME = 0, 1, 2, 3
MALFORMED_FLAGS = (TRUNCATED, NO_READINGS, NO_TIME)


readings_topic = topics.readings_topic
status_topic = topics.status_topic


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One MQTT publication for the runner.

    kind : 'readings', 'status' (retained; `online: true` after an outage means
        reconnect first), or 'will' (the device drops off: end its connection
        without a DISCONNECT so the broker publishes its will, or publish this).
    at : simulated send time [s since start]; the list is in this order.
    """

    topic: str
    payload: bytes
    qos: int
    retain: bool
    device_id: str
    kind: str
    at: float


@dataclass(frozen=True, slots=True, eq=False)
class Batch:
    """Readings messages, one row each.

    device : index into the simulation's device table.  seq : the device's
    message counter (the message id).  time : measurement time as the device
    stamps it [s since start].  values : (rows, len(TYPES)) in the device's
    units, rounded as the device displays them, NaN where not measured;
    consciousness as an ACVPU index, on_oxygen 0/1.  flag : OK or a MALFORMED_FLAGS.
    """

    device: NDArray[np.intp]
    seq: NDArray[np.int64]
    time: NDArray[np.float64]
    values: NDArray[np.float64]
    flag: NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.device)

    def take(self, rows: NDArray[np.intp] | NDArray[np.bool_]) -> Batch:
        return Batch(
            self.device[rows], self.seq[rows], self.time[rows], self.values[rows], self.flag[rows]
        )

    @staticmethod
    def empty() -> Batch:
        return Batch(
            np.empty(0, np.intp),
            np.empty(0, np.int64),
            np.empty(0),
            np.empty((0, len(TYPES))),
            np.empty(0, np.int8),
        )

    @staticmethod
    def concat(batches: list[Batch]) -> Batch:
        if not batches:
            return Batch.empty()
        return Batch(
            *(
                np.concatenate([getattr(b, f) for b in batches])
                for f in ("device", "seq", "time", "values", "flag")
            )
        )


def iso_times(start: datetime, t: NDArray[np.float64]) -> NDArray[np.str_]:
    """ISO 8601 UTC strings with Z, to the second, for times [s since `start`]."""
    base = np.datetime64(start.replace(tzinfo=None, microsecond=0), "s")
    stamps = base + np.rint(t).astype("timedelta64[s]")
    return np.char.add(np.datetime_as_string(stamps, unit="s"), "Z")


def message_id(prefix: str, seq: int) -> str:
    return f"{prefix}-{seq:06d}"


def encode_readings(
    message_id: str,
    time: str,
    values: Sequence[float],
    units: dict[str, str | None],
    flag: int = OK,
) -> bytes:
    """One readings message; `values` is a Batch row (TYPES order), `units` the
    device's unit per type it sends, in message order."""
    readings = [_reading(time, name, values[COLUMN[name]], unit) for name, unit in units.items()]
    if flag == NO_TIME:
        del readings[0]["time"]
    doc: dict[str, Any] = {"id": message_id, "readings": readings}
    if flag == NO_READINGS:
        del doc["readings"]
    payload = json.dumps(doc).encode()
    return payload[: len(payload) // 2] if flag == TRUNCATED else payload


def _reading(time: str, name: str, value: float, unit: str | None) -> dict[str, Any]:
    shown: float | int | bool | str
    if name == "consciousness":
        shown = ACVPU[int(value)]
    elif name == "on_oxygen":
        shown = bool(value)
    elif name == "temperature":
        shown = round(float(value), 1)
    else:
        shown = int(value)
    reading: dict[str, Any] = {"time": time, "type": name, "value": shown}
    if unit is not None:
        reading["unit"] = unit
    return reading


def encode_status(battery: float, firmware: str, signal: float) -> bytes:
    """A retained status message: battery [%], firmware version, signal [dBm]."""
    return json.dumps(
        {"online": True, "battery": round(battery), "firmware": firmware, "signal": round(signal)}
    ).encode()
