"""How the simulator's devices answer the ward's re-measure commands (issue 13;
docs/simulators.md): the decisions pure, the randomness passed in; ``Answerer``
keeps a run's state (last messages, answers due) for the runner.

A home patient asked to measure again mostly does, and the second reading
mostly agrees with the first (a real deterioration); sometimes the first was
an artefact (a cold finger, a cuff over a sleeve) and the second is normal; and
sometimes nobody answers (asleep, out, the device flat).  The shares are
settings (VWARD_SIM_REMEASURE_CONFIRM, VWARD_SIM_REMEASURE_NOT_CONFIRM; the rest
never answer).  A confirming answer repeats the device's last values, measured
again now; one that does not confirm gives the asked types a normal value (each
scores 0 on NEWS2), as a careful second measurement of a well patient would."""

from __future__ import annotations

import heapq
import itertools
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from simulators.messages import QOS, Outgoing, readings_topic
from simulators.plan import DeviceInfo
from ward.device_commands import CommandRefused, RemeasureCommand, parse_command

Choice = Literal["confirm", "not_confirm", "never"]

# A well adult's values, each scoring 0 on NEWS2 (news2.md), in the stored units.
_NORMAL: dict[str, float | str | bool] = {
    "respiratory_rate": 16, "spo2": 97, "systolic_bp": 122, "diastolic_bp": 78,
    "heart_rate": 72, "consciousness": "A", "temperature": 36.8,
}
ANSWER_DELAY_S = 60.0  # [simulated s] the patient takes a minute to measure again


@dataclass(frozen=True, slots=True)
class AnswerRates:
    """Shares of commands answered with a confirming set, with a normal one; the
    rest (``never``) are not answered.  delay_s : how long after the command the
    answer is measured [simulated s]."""

    confirm: float = 0.7
    not_confirm: float = 0.2
    delay_s: float = ANSWER_DELAY_S

    def __post_init__(self) -> None:
        if not (0 <= self.confirm <= 1 and 0 <= self.not_confirm <= 1
                and self.confirm + self.not_confirm <= 1):
            raise ValueError(f"re-measure shares must be within 0-1 and add up to at most 1,"
                             f" got confirm {self.confirm}, not confirm {self.not_confirm}")

    @property
    def never(self) -> float:
        return max(0.0, 1.0 - self.confirm - self.not_confirm)


def choose(rates: AnswerRates, u: float) -> Choice:
    """The answer for a uniform draw ``u`` in [0, 1)."""
    if u < rates.confirm:
        return "confirm"
    if u < rates.confirm + rates.not_confirm:
        return "not_confirm"
    return "never"


def answer_payload(choice: Choice, cmd: RemeasureCommand, last: bytes | None, *,
                   message_id: str, time: str) -> bytes | None:
    """The readings message answering ``cmd`` (``time``: ISO 8601 Z), from the
    device's ``last`` readings message; None when there is nothing to send (never,
    or none of the types asked is one the device measured last)."""
    if choice == "never" or last is None:
        return None
    try:
        before = json.loads(last)["readings"]
    except (ValueError, KeyError, TypeError):
        return None
    readings: list[dict[str, Any]] = []
    for r in before:
        if not isinstance(r, dict) or r.get("type") not in cmd.types:
            continue
        value = r.get("value")
        if choice == "not_confirm" and r["type"] in _NORMAL:
            value = _normal(r["type"], r.get("unit"))
        readings.append({**r, "time": time, "value": value})
    if not readings:
        return None
    return json.dumps({"id": message_id, "readings": readings}).encode()


def _normal(kind: str, unit: str | None) -> float | str | bool:
    value = _NORMAL[kind]
    if kind == "temperature" and unit == "[degF]":
        return round(float(value) * 9 / 5 + 32, 1)
    return value


def prompt(tablet: str | None, patient: str, device: str, cmd: RemeasureCommand) -> str:
    """What the patient's tablet shows (the simulator prints it)."""
    where = tablet or device
    return (f"{where}: to patient {patient}: please measure {', '.join(cmd.types)} again with"
            f" {device} now, before {cmd.deadline:%H:%M}Z (ward request {cmd.request_id})")


class Answerer:
    """The devices' side of the commands topic during a run: remembers each
    device's last readings message, and for each command that arrives prints the
    tablet's prompt, chooses the answer (``rates``, a generator seeded with the
    run's seed) and schedules it ``rates.delay_s`` later in simulated time."""

    def __init__(self, devices: Sequence[DeviceInfo], rates: AnswerRates, seed: int,
                 show: Callable[[str], None]) -> None:
        self._devices = devices
        self._rates = rates
        self._rng = random.Random(seed)
        self._show = show
        self._tablets = {d.patient_id: d.device_id for d in devices if d.kind == "tablet"}
        self._last: dict[str, bytes] = {}
        self._due: list[tuple[float, int, Outgoing]] = []
        self._order = itertools.count()  # equal times in arrival order
        self.counts: Counter[str] = Counter()

    def sent(self, o: Outgoing) -> None:
        if o.kind == "readings":
            self._last[o.device_id] = o.payload

    def command(self, device: int, payload: bytes, sim_now: float,
                stamp: Callable[[float], str]) -> None:
        """A command for ``devices[device]`` arrived at simulated ``sim_now``;
        ``stamp`` gives a simulated time as ISO 8601 Z."""
        info = self._devices[device]
        try:
            cmd = parse_command(payload)
        except CommandRefused as exc:
            self.counts["refused"] += 1
            self._show(f"{info.device_id}: command refused: {exc}")
            return
        self._show(prompt(self._tablets.get(info.patient_id), info.patient_id,
                          info.device_id, cmd))
        choice = choose(self._rates, self._rng.random())
        self.counts[choice] += 1
        at = sim_now + self._rates.delay_s
        body = answer_payload(choice, cmd, self._last.get(info.device_id),
                              message_id=f"{info.device_id}-remeasure-{cmd.request_id}",
                              time=stamp(at))
        if body is not None:
            o = Outgoing(readings_topic(info.device_id), body, QOS, False, info.device_id,
                         "answer", at)
            heapq.heappush(self._due, (at, next(self._order), o))

    def due(self, sim_now: float) -> list[Outgoing]:
        """Answers whose time has come, in time order."""
        out = []
        while self._due and self._due[0][0] <= sim_now:
            out.append(heapq.heappop(self._due)[2])
        return out
