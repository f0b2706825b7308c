"""psycopg only: writing scores, the engine's heaviest statement.

A batch of scores goes to the server as one binary COPY into a per-connection
staging table, built with a numpy structured array (no per-row Python), then one
INSERT puts it into the ``scores`` hypertable.  The text arrays that a clinician
reads (``missing``, ``overridden_parameters``, ``stale``) travel as a bitmask over
the NEWS2 parameters and are looked up in the server among every subset of them:
building them row by row in SQL (``ARRAY(SELECT … unnest …)``, three per score) was
most of the INSERT's time (issue 12).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg
from numpy.typing import NDArray

from alerts import pg_binary
from alerts.scoring import ScoreTable, band_levels
from ward.news2_chart import BANDS, PARAMETERS

_ARRAY_OIDS = {"sub_scores": 21, "inputs": 701, "input_times": 1184}  # int2, float8, timestamptz
# Bit k of a mask is PARAMETERS[k].
_BITS = (1 << np.arange(len(PARAMETERS))).astype(np.int16)


def _array(element: str) -> np.dtype:
    """One element per NEWS2 parameter (a missing time is pg_binary.NO_TIME: the INSERT
    turns it back into NULL)."""
    return pg_binary.array_field(element, len(PARAMETERS))


def _scalar(name: str, element: str) -> list[tuple[str, str]]:
    return [(f"l_{name}", ">i4"), (name, element)]


_ROW = np.dtype([
    ("n", ">i2"),
    *_scalar("i", ">i4"), *_scalar("time", ">i8"), *_scalar("total", ">i2"),
    *_scalar("band", ">i2"), *_scalar("max_single", ">i2"), *_scalar("complete", "i1"),
    *_scalar("missing", ">i2"),
    ("sub_scores", _array(">i2")), ("inputs", _array(">f8")),
    *_scalar("spo2_scale", ">i2"), *_scalar("overridden", ">i2"),
    *_scalar("adjusted_total", ">i2"), *_scalar("adjusted_band", ">i2"),
    ("input_times", _array(">i8")),
    *_scalar("stale", ">i2"), *_scalar("monitoring_band", ">i2"),
])
_FIELDS = [n for n in _ROW.names if n != "n" and not n.startswith("l_")]

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS _new_scores (
    i int4, time timestamptz, total int2, band int2, max_single int2, complete bool,
    missing int2, sub_scores int2[], inputs float8[], spo2_scale int2, overridden int2,
    adjusted_total int2, adjusted_band int2, input_times timestamptz[], stale int2,
    monitoring_band int2
) ON COMMIT DELETE ROWS
"""

# Every subset of the parameters, by mask: (mask, names joined by commas).
_SUBSETS = """(SELECT m, string_to_array(n, ',') AS names
               FROM unnest(%(masks)s::int2[], %(names)s::text[]) AS u(m, n))"""

# A rescore replaces a score at the same instant, hence the upsert.
_INSERT = f"""
INSERT INTO scores (time, patient_id, total, band, max_single, complete, missing, sub_scores,
                    inputs, spo2_scale, overridden, overridden_parameters, adjusted_total,
                    adjusted_band, input_times, stale, monitoring_band, scored_at)
SELECT s.time, (%(ids)s::text[])[s.i + 1], s.total, (%(bands)s::text[])[s.band + 1],
       s.max_single, s.complete, m.names, s.sub_scores,
       array_replace(s.inputs, 'NaN'::float8, NULL),
       s.spo2_scale, s.overridden <> 0, o.names,
       CASE WHEN s.overridden <> 0 THEN s.adjusted_total END,
       CASE WHEN s.overridden <> 0 THEN (%(bands)s::text[])[s.adjusted_band + 1] END,
       array_replace(s.input_times, '-infinity'::timestamptz, NULL),
       st.names, (%(bands)s::text[])[s.monitoring_band + 1], clock_timestamp()
FROM _new_scores s JOIN {_SUBSETS} m ON m.m = s.missing
     JOIN {_SUBSETS} o ON o.m = s.overridden JOIN {_SUBSETS} st ON st.m = s.stale
ON CONFLICT (patient_id, time) DO UPDATE SET
    total = EXCLUDED.total, band = EXCLUDED.band, max_single = EXCLUDED.max_single,
    complete = EXCLUDED.complete, missing = EXCLUDED.missing,
    sub_scores = EXCLUDED.sub_scores, inputs = EXCLUDED.inputs,
    spo2_scale = EXCLUDED.spo2_scale, overridden = EXCLUDED.overridden,
    overridden_parameters = EXCLUDED.overridden_parameters,
    adjusted_total = EXCLUDED.adjusted_total, adjusted_band = EXCLUDED.adjusted_band,
    input_times = EXCLUDED.input_times, stale = EXCLUDED.stale,
    monitoring_band = EXCLUDED.monitoring_band, scored_at = EXCLUDED.scored_at
"""
_MASKS = list(range(1 << len(PARAMETERS)))
_NAMES = [",".join(p for k, p in enumerate(PARAMETERS) if m >> k & 1) for m in _MASKS]


def prepare(conn: psycopg.Connection) -> None:
    """Once per connection: the staging table (a temporary one, emptied at commit)."""
    with conn.transaction():
        conn.execute(_STAGING)


def masks(flags: NDArray[np.bool_]) -> NDArray[np.int16]:
    """Each row's flags over the parameters as one bitmask (bit k: PARAMETERS[k])."""
    return (np.asarray(flags, dtype=bool) * _BITS).sum(axis=1, dtype=np.int16)


def write_scores(conn: psycopg.Connection, table: ScoreTable, ids: Sequence[str]) -> int:
    """Store the rows of ``table`` (``table.patient`` indexes ``ids``); returns how many."""
    if len(table) == 0:
        return 0
    rows = np.zeros(len(table), dtype=_ROW)
    rows["n"] = len(_FIELDS)
    times = table.input_times.astype("datetime64[us]")
    values = {
        "i": table.patient,
        "time": table.time.astype("datetime64[us]").view(np.int64) - pg_binary.PG_EPOCH_US,
        "total": table.total, "band": band_levels(table.band),
        "max_single": table.max_single, "complete": table.complete,
        "missing": masks(table.sub_scores < 0),
        "sub_scores": table.sub_scores, "inputs": table.inputs,
        "spo2_scale": table.spo2_scale, "overridden": masks(table.overridden),
        "adjusted_total": table.adjusted_total,
        "adjusted_band": band_levels(table.adjusted_band),
        "input_times": np.where(np.isnat(times), pg_binary.NO_TIME,
                                times.view(np.int64) - pg_binary.PG_EPOCH_US),
        "stale": masks(table.stale), "monitoring_band": band_levels(table.monitoring_band),
    }
    for name in _FIELDS:
        column = rows[name]
        if column.dtype.names is None:  # a scalar: its length, then its value
            rows[f"l_{name}"] = column.dtype.itemsize
            rows[name] = values[name]
            continue
        element = column.dtype["items"].base["v"]
        column["len"] = column.dtype.itemsize - 4  # the field's bytes after its own length
        column["ndim"], column["dim"], column["lbound"] = 1, len(PARAMETERS), 1
        column["oid"] = _ARRAY_OIDS[name]
        column["items"]["len"] = element.itemsize
        column["items"]["v"] = values[name]
    with conn.cursor() as cur:
        with cur.copy("COPY _new_scores FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
            copy.write(rows.tobytes())
            copy.write(b"\xff\xff")
        cur.execute(_INSERT, {"ids": list(ids), "bands": list(BANDS), "masks": _MASKS,
                              "names": _NAMES})
        cur.execute("TRUNCATE _new_scores")
    return len(table)
