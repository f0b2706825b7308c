"""The ward page's columns follow the ward's protocol (ward/protocols.py): the
SpO2 level on a COVID-19 oximetry ward, the weight and its 1-day and 3-day
change on a heart-failure ward, beside NEWS2's columns (which every ward
keeps: NEWS2 applies everywhere).  The figures are the engine's own rules
(ward/protocol_rules.py) on the same readings (ward/protocol_store.py), so a
cell never says other than the alert does.  Data, not components."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import psycopg

from ward import protocol_rules, protocol_store
from ward.errors import NotFound
from ward.protocol_rules import ProtocolReadings
from ward.protocols import COVID_OXIMETRY, HEART_FAILURE, NEWS2, PROTOCOLS, protocol

_LEVEL_CLASS = {"red": "sev-emergency", "amber": "sev-urgent", "green": "band-zero"}
_INSERT_BEFORE = "measured"  # the protocol's columns go before the complete set's


def _col(field: str, header: str, width: int, rules: dict[str, str]) -> dict:
    return {"field": field, "headerName": header, "width": width, "sortable": False,
            "type": "rightAligned", "cellClassRules": rules, "tooltipField": f"{field}_tip"}


PROTOCOL_COLUMNS: dict[str, list[dict]] = {
    NEWS2: [],
    COVID_OXIMETRY: [_col("spo2_level", "SpO₂ level", 118, {
        cls: f"params.data.spo2_level_name == '{name}'" for name, cls in _LEVEL_CLASS.items()})],
    HEART_FAILURE: [
        _col("weight", "Weight", 84, {}),
        _col("weight_1d", "1 day", 76, {"sev-urgent": "params.data.weight_1d_alert"}),
        _col("weight_3d", "3 days", 76, {"sev-urgent": "params.data.weight_3d_alert"}),
    ],
}


def columns(base: Sequence[dict], name: str | None) -> list[dict]:
    """``base`` (the NEWS2 columns) with the protocol's inserted before the complete set."""
    extra = PROTOCOL_COLUMNS[protocol(name).name]
    at = next((i for i, c in enumerate(base) if c.get("field") == _INSERT_BEFORE), len(base))
    return [*base[:at], *extra, *base[at:]]


def load(conn: psycopg.Connection, ward: str | None, ids: Sequence[str],
         now: datetime) -> tuple[str, ProtocolReadings]:
    """The ward's protocol and its patients' protocol readings (none on a NEWS2 ward)."""
    if not ward:
        return NEWS2, ProtocolReadings.empty()
    try:
        name = protocol_store.protocol_of(conn, ward)
    except NotFound:
        return NEWS2, ProtocolReadings.empty()
    if name == NEWS2 or not ids:
        return name, ProtocolReadings.empty()
    p = PROTOCOLS[name]
    return name, protocol_store.load_readings(conn, list(ids), [p] * len(ids), now)


def add_cells(rows: list[dict], ids: Sequence[str], name: str,
              readings: ProtocolReadings) -> None:
    """Put the protocol's cells into the grid's rows (``ids[i]``: readings' patient i)."""
    p = protocol(name)
    if p.name == NEWS2 or not rows:
        return
    n = len(ids)
    value, when = protocol_rules.latest(readings, n)
    index = {pid: i for i, pid in enumerate(ids)}
    if p.threshold is not None:
        level = protocol_rules.threshold_level(value, p.threshold)
        for row in rows:
            i = index[row["patient_id"]]
            if level[i] < 0:
                row.update(spo2_level="—", spo2_level_name="", spo2_level_tip="no reading")
                continue
            lv = p.threshold.levels[int(level[i])]
            row.update(spo2_level=f"{lv.name.capitalize()} {value[i]:g}",
                       spo2_level_name=lv.name,
                       spo2_level_tip=f"{value[i]:g} % at {_when(when[i])}: {lv.response}")
    if p.gains:
        results = [protocol_rules.gain(readings.patient, readings.time, readings.value, g,
                                       n_patients=n) for g in p.gains]
        for row in rows:
            i = index[row["patient_id"]]
            row["weight"] = "—" if np.isnan(value[i]) else f"{value[i]:g} kg"
            row["weight_tip"] = "no weight" if np.isnan(value[i]) else f"at {_when(when[i])}"
            for key, g, r in zip(("weight_1d", "weight_3d"), p.gains, results, strict=True):
                change = r.change[i]
                row[key] = "—" if np.isnan(change) else f"{change:+g}"
                row[f"{key}_alert"] = bool(r.holds[i])
                row[f"{key}_tip"] = (f"more than {g.rise:g} kg alerts ({g.response})"
                                     if np.isnan(change) else
                                     f"{value[i]:g} kg against {r.lowest[i]:g} kg at"
                                     f" {_when(r.lowest_time[i])}; more than {g.rise:g} kg"
                                     " alerts")


def _when(t: np.datetime64) -> str:
    return "" if np.isnat(t) else f"{str(t.astype('datetime64[m]')).replace('T', ' ')}Z"
