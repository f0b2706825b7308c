"""Scenario files: a simulated ward described in TOML (simulators/scenarios/).

    [ward]      id, name, patients (default count), speed (simulated s per real s)
    [devices]   status_interval_s, fahrenheit (share of thermometers in [degF]),
                [devices.interval_s] per kind [s]
    [faults]    the fields of faults.FaultRates
    [[groups]]  name, course, devices, count or share, onset_s = [min, max],
                duration_s = [min, max], copd, interval_s = {kind = s}

`load` validates everything and says where a mistake is: an unknown key,
course or device kind, a negative rate, a range the wrong way round."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulators.devices import KINDS
from simulators.errors import ScenarioError
from simulators.faults import FaultRates
from simulators.physiology import COURSES

BUILTIN = ("mixed", "quiet", "load")
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass(frozen=True, slots=True)
class Group:
    """Patients who share a course and a set of devices.

    count or share : how many patients (a share splits what the counts leave).
    onset_s, duration_s : ranges the course's onset and duration are drawn from
    [s]; duration None uses the course's own.  interval_s : per-kind overrides [s].
    """

    name: str
    course: str
    devices: tuple[str, ...]
    count: int | None = None
    share: float | None = None
    onset_s: tuple[float, float] = (0.0, 0.0)
    duration_s: tuple[float, float] | None = None
    copd: bool = False
    interval_s: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A simulated ward.  interval_s holds every device kind [s]."""

    name: str
    ward_id: str
    ward_name: str
    patients: int
    speed: float
    groups: tuple[Group, ...]
    interval_s: Mapping[str, float]
    status_interval_s: float = 900.0
    fahrenheit: float = 0.0
    faults: FaultRates = field(default_factory=FaultRates)

    def interval(self, group: Group, kind: str) -> float:
        """Time between a device's reading sets [s]."""
        return group.interval_s.get(kind, self.interval_s[kind])

    def assign(self, n: int | None = None) -> NDArray[np.intp]:
        """Group index of each of n patients (default `patients`), in group order.

        Counts are exact; shares split the rest by largest remainder.
        """
        n = self.patients if n is None else n
        counts = np.array([g.count or 0 for g in self.groups], dtype=np.int64)
        shares = np.array([g.share or 0.0 for g in self.groups])
        rest = n - counts.sum()
        if rest < 0 or (rest > 0 and shares.sum() == 0):
            raise ScenarioError(
                f"scenario {self.name}: its groups' counts make "
                f"{counts.sum()} patients, cannot make {n}"
            )
        if rest:
            exact = rest * shares / shares.sum()
            extra = np.floor(exact).astype(np.int64)
            left = rest - extra.sum()
            extra[np.argsort(-(exact - extra), kind="stable")[:left]] += 1
            counts += extra
        return np.repeat(np.arange(len(self.groups)), counts)


def load(source: str | Path) -> Scenario:
    """A built-in scenario by name ('mixed', 'quiet', 'load') or a TOML file."""
    if isinstance(source, str) and source in BUILTIN:
        text = resources.files("simulators").joinpath(f"scenarios/{source}.toml").read_text()
        return loads(text, name=source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(
            f"cannot read scenario {path}: {exc.strerror}; built-in scenarios: {', '.join(BUILTIN)}"
        ) from None
    return loads(text, name=path.stem)


def loads(text: str, *, name: str = "<string>") -> Scenario:
    """Parse and validate a scenario's TOML text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {name}: not valid TOML: {exc}") from None
    return from_dict(doc, name=name)


def from_dict(doc: Mapping[str, Any], *, name: str = "<dict>") -> Scenario:
    """Validate a parsed scenario document."""
    top = _Table(doc, f"scenario {name}")
    ward = top.table("ward")
    devices = top.table("devices")
    intervals = devices.table("interval_s")
    defaults = {
        k: intervals.number(k, kind.interval_s, low=0, strict=True) for k, kind in KINDS.items()
    }
    status_interval = devices.number("status_interval_s", 900.0, low=0, strict=True)
    fahrenheit = devices.number("fahrenheit", 0.0, low=0, high=1)
    faults = _faults(top.table("faults"))
    groups = tuple(_group(t) for t in top.tables("groups"))
    if not groups:
        top.fail("needs at least one [[groups]]")
    scenario = Scenario(
        name=name,
        ward_id=ward.identifier("id", "ward-sim"),
        ward_name=ward.string("name", "Simulated ward"),
        patients=_patients(ward, groups),
        speed=ward.number("speed", 1.0, low=0, strict=True),
        groups=groups,
        interval_s=defaults,
        status_interval_s=status_interval,
        fahrenheit=fahrenheit,
        faults=faults,
    )
    for t in (ward, intervals, devices, top):
        t.done()
    scenario.assign()  # the counts must fit the default size
    return scenario


def _patients(ward: _Table, groups: tuple[Group, ...]) -> int:
    """[ward] patients, by default what the groups' counts add up to."""
    counted = sum(g.count or 0 for g in groups)
    if "patients" not in ward.raw and any(g.share is not None for g in groups):
        ward.fail("'patients' is needed when a group gives a share")
    return ward.integer("patients", counted, low=1)


def _faults(t: _Table) -> FaultRates:
    defaults, kwargs = FaultRates(), dict[str, Any]()
    for f in fields(FaultRates):
        default = getattr(defaults, f.name)
        if isinstance(default, tuple):
            kwargs[f.name] = t.range(f.name, default, low=0)
        else:
            kwargs[f.name] = t.number(f.name, default, low=0)
    t.done()
    try:
        return FaultRates(**kwargs)
    except ValueError as exc:
        raise ScenarioError(f"{t.where}: {exc}") from None


def _group(t: _Table) -> Group:
    course = t.string("course", "stable")
    if course not in COURSES:
        t.fail(f"unknown course {course!r} (known: {', '.join(COURSES)})")
    devices = t.strings("devices", ("oximeter", "bp_cuff", "thermometer", "tablet"))
    unknown = [d for d in devices if d not in KINDS]
    if unknown or not devices or len(set(devices)) != len(devices):
        t.fail(f"devices must be distinct kinds from {', '.join(KINDS)}, got {list(devices)}")
    has_count, has_share = "count" in t.raw, "share" in t.raw
    if has_count == has_share:
        t.fail("give exactly one of 'count' and 'share'")
    intervals = t.table("interval_s")
    overrides = {k: intervals.number(k, 0, low=0, strict=True) for k in KINDS if k in intervals.raw}
    intervals.done(known=KINDS)
    duration = t.range("duration_s", None, low=0, strict=True) if "duration_s" in t.raw else None
    group = Group(
        name=t.string("name", course),
        course=course,
        devices=devices,
        count=t.integer("count", 0, low=0) if has_count else None,
        share=t.number("share", 0, low=0, strict=True) if has_share else None,
        onset_s=t.range("onset_s", (0.0, 0.0)),
        duration_s=duration,
        copd=t.boolean("copd", course == "copd_exacerbation"),
        interval_s=overrides,
    )
    t.done()
    return group


class _Table:
    """A TOML table being validated: typed getters that name the key on error,
    and `done()`, which refuses keys nobody asked for."""

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"{where}: expected a table, got {type(raw).__name__}")
        self.raw, self.where, self._seen = raw, where, set[str]()

    def fail(self, message: str) -> None:
        raise ScenarioError(f"{self.where}: {message}")

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        return self.raw.get(key, default)

    def table(self, key: str) -> _Table:
        return _Table(self._get(key, {}), f"{self.where} [{key}]")

    def tables(self, key: str) -> list[_Table]:
        items = self._get(key, [])
        if not isinstance(items, list):
            self.fail(f"'{key}' must be an array of tables ([[{key}]])")
        return [_Table(item, f"{self.where} [[{key}]] #{i + 1}") for i, item in enumerate(items)]

    def string(self, key: str, default: str) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or not value:
            self.fail(f"'{key}' must be a non-empty string, got {value!r}")
        return value

    def identifier(self, key: str, default: str) -> str:
        value = self.string(key, default)
        if len(value) > 64 or not value[0].isalnum() or set(value) - _ID_CHARS:
            self.fail(f"'{key}' {value!r} must be 1-64 letters, digits, '.', '_' or '-'")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"'{key}' must be a list of strings, got {value!r}")
        return tuple(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.fail(f"'{key}' must be true or false, got {value!r}")
        return value

    def number(
        self,
        key: str,
        default: float,
        *,
        low: float | None = None,
        high: float | None = None,
        strict: bool = False,
    ) -> float:
        """A number; >= low (> low if strict) and <= high."""
        value = self._get(key, default)
        self._check_number(key, value, low, high, strict)
        return float(value)

    def integer(self, key: str, default: int, *, low: int) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.fail(f"'{key}' must be a whole number >= {low}, got {value!r}")
        return value

    def range(
        self, key: str, default: Any, *, low: float | None = None, strict: bool = False
    ) -> tuple[float, float]:
        value = self._get(key, default)
        if not isinstance(value, list | tuple) or len(value) != 2:
            self.fail(f"'{key}' must be [min, max], got {value!r}")
        for v in value:
            self._check_number(key, v, low, None, strict)
        if value[0] > value[1]:
            self.fail(f"'{key}' must be [min, max] with min <= max, got {list(value)}")
        return float(value[0]), float(value[1])

    def _check_number(
        self, key: str, value: Any, low: float | None, high: float | None, strict: bool
    ) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.fail(f"'{key}' must be a number, got {value!r}")
        if low is not None and (value <= low if strict else value < low):
            self.fail(f"'{key}' must be {'>' if strict else '>='} {low:g}, got {value!r}")
        if high is not None and value > high:
            self.fail(f"'{key}' must be <= {high:g}, got {value!r}")

    def done(self, known: Iterable[str] = ()) -> None:
        """Refuse keys that no getter asked for (nor are in `known`)."""
        allowed = self._seen | set(known)
        unknown = sorted(set(self.raw) - allowed)
        if unknown:
            self.fail(
                f"unknown key(s) {', '.join(map(repr, unknown))}; known: "
                f"{', '.join(sorted(allowed))}"
            )
