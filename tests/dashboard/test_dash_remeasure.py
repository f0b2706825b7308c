"""Re-measurements on the patient page (issue 13, item 4): an episode resolved by
re-measurement, which raised no alert, is on the patient's record where the
clinician looks, with what came back; one still waiting says until when.  Pure
lines first, then the page's callback through Dash's endpoint on the real
database (the requests written by the engine's own writer, alerts/remeasure_store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import unique
from test_dash_callbacks import _call

from alerts import remeasure_store
from alerts.remeasure_store import Episode, NewRequest
from dashboard.app import close_dash, create_dash
from dashboard.remeasure_panel import lines
from ward import db, devices

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
LONDON = "Europe/London"  # GMT in December


def _episode(outcome: str | None, answer: str | None = None) -> Episode:
    return Episode(1, "w", "p", "ox-1", ["heart_rate", "spo2"], NOW, NOW + timedelta(minutes=10),
                   3, outcome, None if outcome is None else NOW + timedelta(minutes=2),
                   0, answer, None)


def test_an_episode_resolved_by_re_measurement_says_so_and_what_came_back() -> None:
    said = ("Re-measurement asked of ox-1 at 10:00:00Z; not confirmed: Heart rate 78 /min,"
            " SpO2 96 %: NEWS2 0 (zero) (resolved by re-measurement)")
    [line] = lines([_episode("not_confirmed", said)], LONDON)
    assert line == f"Thu 03 Dec 10:00 GMT, NEWS2 3: {said}: no alert"


def test_one_waiting_says_until_when_and_what_happens_then() -> None:
    [line] = lines([_episode(None)], LONDON)
    assert line == ("Thu 03 Dec 10:00 GMT, NEWS2 3: ox-1 asked to measure heart_rate, spo2"
                    " again; waiting until 10:10 GMT, when the urgent alert opens without it")


@pytest.mark.parametrize("outcome", ["confirmed", "unanswered", "superseded"])
def test_those_that_opened_the_alert_say_so(outcome) -> None:
    [line] = lines([_episode(outcome, "words")], LONDON)
    assert line.endswith("words: " + ("the alert opened at once" if outcome == "superseded"
                                      else "the urgent alert opened"))


@pytest.fixture(scope="module")
def app(services_up):
    dash_app = create_dash(services_up)
    yield dash_app
    close_dash(dash_app)


def test_the_patient_page_lists_the_re_measurements(app, services_up) -> None:
    ward, patient, ox = unique("wr"), unique("p"), unique("ox")
    now = datetime.now(UTC).replace(microsecond=0)
    with db.connect(services_up, autocommit=True) as conn:
        devices.register_devices(conn, [devices.NewDevice(ox, patient, ward, "oximeter")],
                                 valid_from=now - timedelta(days=1))
        first = remeasure_store.insert(conn, NewRequest(
            patient, ward, ox, ("heart_rate", "spo2"), now - timedelta(hours=2),
            now - timedelta(hours=2) + timedelta(minutes=10), now - timedelta(hours=2), 3,
            "low-medium", ("spo2",), "NEWS2 3 (low-medium): SpO2 91 on air scores 3"))
        assert first is not None
        remeasure_store.decide(conn, first, "not_confirmed", now - timedelta(hours=2) +
                               timedelta(minutes=2), None,
                               "Re-measurement asked of it; not confirmed: SpO2 96 %: NEWS2 0"
                               " (zero) (resolved by re-measurement)")
        second = remeasure_store.insert(conn, NewRequest(
            patient, ward, ox, ("heart_rate", "spo2"), now, now + timedelta(minutes=10), now,
            3, "low-medium", ("spo2",), "NEWS2 3 (low-medium): SpO2 91 on air scores 3"))
        assert second is not None
    out = _call(app, [("pt-remeasures", "children")],
                [("pt-id", "data", patient), ("pt-tick", "n_intervals", 1)])
    texts = [li["props"]["children"] for li in out["pt-remeasures"]["children"]]
    assert len(texts) == 2
    assert "asked to measure heart_rate, spo2 again; waiting until" in texts[0]  # latest first
    assert "(resolved by re-measurement): no alert" in texts[1]
    none = _call(app, [("pt-remeasures", "children")],
                 [("pt-id", "data", unique("p")), ("pt-tick", "n_intervals", 1)])
    assert [li["props"]["children"] for li in none["pt-remeasures"]["children"]] == [
        "None asked."]
