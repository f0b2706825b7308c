"""Scoring and alerting: pure NEWS2 numpy functions, alert rules, the real-time engine.

What other stages may use is re-exported here, and only here: api and dashboard
import ``alerts``, never one of its modules (the import-linter contract in
pyproject.toml says so), so the modules behind these names can move without
reaching into the web app."""

from __future__ import annotations

from alerts.clinician import (
    RESOLVE_NEEDS_REASON,
    acknowledge,
    resolve,
    resolve_patient_alerts,
)
from alerts.device_rules import battery_low
from alerts.lifecycle import ALERT_KINDS, OVERDUE
from alerts.raised import notification_failed as raise_notification_failed
from alerts.remeasure_store import Episode as RemeasureEpisode
from alerts.remeasure_store import history as remeasure_history
from alerts.rules import band_alert, overdue_severity
from alerts.scoring import ScoreTable
from alerts.seed import PastAlert, score_history
from alerts.seed import record as record_past_alert
from ward.clinical import ActionRefused

__all__ = [
    "ALERT_KINDS",
    "OVERDUE",
    "RESOLVE_NEEDS_REASON",
    "ActionRefused",
    "PastAlert",
    "RemeasureEpisode",
    "ScoreTable",
    "acknowledge",
    "band_alert",
    "battery_low",
    "overdue_severity",
    "raise_notification_failed",
    "record_past_alert",
    "remeasure_history",
    "resolve",
    "resolve_patient_alerts",
    "score_history",
]
