"""docs/alerts.md names every alert kind, severity, engine setting and event field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.lifecycle import ALERT_KINDS
from alerts.outbox import EventRow, event_message
from alerts.rules import Severity
from ward.settings import Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text(encoding="utf-8")
ENGINE_SETTINGS = [name for name in Settings.model_fields
                   if name.startswith(("alerts_", "device_")) or name == "freshness_minutes"]


@pytest.mark.parametrize("kind", sorted(ALERT_KINDS))
def test_every_alert_kind_is_documented(kind: str) -> None:
    assert f"`{kind}`" in DOC and f"### `{kind}`" in DOC


@pytest.mark.parametrize("severity", [s.name.lower() for s in Severity])
def test_every_severity_is_documented(severity: str) -> None:
    assert f"`{severity}`" in DOC


@pytest.mark.parametrize("name", ENGINE_SETTINGS)
def test_every_engine_setting_is_documented(name: str) -> None:
    assert f"`VWARD_{name.upper()}`" in DOC


def test_every_event_field_is_documented() -> None:
    t = datetime(2026, 11, 23, tzinfo=UTC)
    topic, payload = event_message(EventRow(1, 1, t, "opened", "low", "open", "e", {}, "r", "1",
                                            "w", "p", "news2", "clinical", "", "r", t))
    assert topic == "ward/v1/wards/w/alerts" and "`ward/v1/wards/{ward_id}/alerts`" in DOC
    for field in json.loads(payload):
        assert f'"{field}":' in DOC, field
