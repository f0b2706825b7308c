"""MQTT → validated readings → TimescaleDB; the only writer of observations.

What other stages may use is re-exported here, and only here: a message
handed to ingest directly (HTTP ingestion, the sample ward) goes through
``DirectIngest``, judged and stored exactly as a broker message is.  api and
dashboard import ``ingest``, never one of its modules (the import-linter
contract in pyproject.toml)."""

from __future__ import annotations

from ingest.decode import Limits
from ingest.direct import DirectIngest, Ingested, Refused, limits, prepare_connection

__all__ = ["DirectIngest", "Ingested", "Limits", "Refused", "limits", "prepare_connection"]
