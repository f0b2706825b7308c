"""Alert pauses through the API (issue 13, item 5): a clinician pauses one kind's
notifying for a patient, with a reason, for at most 24 h, never an emergency; the
pause is read back in force and on the record, and ended early by name; bad input
is a 422 saying why, with nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician


def _stored(conn, patient_id: str) -> int:
    return conn.execute("SELECT count(*) FROM alert_pauses WHERE patient_id = %s",
                        (patient_id,)).fetchone()[0]


def test_pause_read_and_end(web, admin, clinician, conn) -> None:
    patient_id = api_fixtures.admit(web, admin)
    url = f"/api/v1/patients/{patient_id}/pauses"
    before = datetime.now(UTC)
    r = web.post(url, json={"kind": "news2", "duration": "8h",
                            "reason": "known low SpO2 overnight, reviewed"},
                 headers=clinician.headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["kind"], made["created_by"], made["ended_at"]) == ("news2", clinician.name, None)
    ends = datetime.fromisoformat(made["ends_at"])
    assert timedelta(hours=8) <= ends - before < timedelta(hours=8, seconds=30)
    assert made["until"] == made["ends_at"]
    live = web.get(url, headers=clinician.headers).json()
    assert [p["pause_id"] for p in live] == [made["pause_id"]]
    patient = web.get(f"/api/v1/patients/{patient_id}", headers=clinician.headers).json()
    assert [p["pause_id"] for p in patient["pauses"]] == [made["pause_id"]]
    reads = conn.execute("SELECT actor, what FROM patient_reads WHERE patient_id = %s",
                         (patient_id,)).fetchall()
    assert (clinician.name, "pauses") in reads  # reading the record is audited
    r = web.delete(f"{url}/{made['pause_id']}?reason=worse today", headers=clinician.headers)
    assert r.status_code == 204, r.text
    assert web.get(url, headers=clinician.headers).json() == []
    [record] = web.get(f"{url}?all=true", headers=clinician.headers).json()
    assert (record["ended_by"], record["end_reason"]) == (clinician.name, "worse today")
    assert record["until"] == record["ended_at"]
    again = web.delete(f"{url}/{made['pause_id']}", headers=clinician.headers)
    assert again.status_code == 404 and "no pause" in again.json()["detail"]


@pytest.mark.parametrize(("body", "words"), [
    ({"kind": "news2", "duration": "24h", "reason": "x"}, None),  # exactly 24 h: allowed
    ({"kind": "news2", "duration": "86401s", "reason": "x"}, "at most 24 h"),
    ({"kind": "emergency", "duration": "1h", "reason": "x"}, "never paused"),
    ({"kind": "scoring_failed", "duration": "1h", "reason": "x"}, "cannot be paused"),
    ({"kind": "news2", "duration": "eight hours", "reason": "x"}, "a duration is"),
    ({"kind": "news2", "duration": "0h", "reason": "x"}, "a duration is"),
    ({"kind": "news2", "duration": "8h", "reason": "  "}, None),
    ({"kind": "news2", "duration": "8h"}, None),
    ({"kind": "news2", "duration": 8, "reason": "x"}, None),
])
def test_refused_with_the_reason_and_nothing_stored(web, admin, clinician, conn, body,
                                                    words) -> None:
    patient_id = api_fixtures.admit(web, admin)
    r = web.post(f"/api/v1/patients/{patient_id}/pauses", json=body, headers=clinician.headers)
    if body.get("duration") == "24h":
        assert r.status_code == 201, r.text
        return
    assert r.status_code == 422, r.text
    if words:
        assert words in r.json()["detail"]
    assert _stored(conn, patient_id) == 0


def test_no_patient_and_no_credential(web, clinician) -> None:
    body = {"kind": "news2", "duration": "1h", "reason": "x"}
    r = web.post("/api/v1/patients/nobody-here/pauses", json=body, headers=clinician.headers)
    assert r.status_code == 404
    assert web.post("/api/v1/patients/nobody-here/pauses", json=body).status_code == 401
