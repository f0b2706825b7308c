"""FHIR export of scores (clinical-safety finding 2, issue 8): the SNOMED CT
NEWS2 total is the true NEWS2, with the true sub-scores; an adjusted score
leaves as an Observation of its own that nobody can mistake for NEWS2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest
from conftest import unique

from alerts.engine import Engine
from api import fhir
from ward import clinical, db

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician


@pytest.fixture(scope="module")
def adjusted_patient(web, admin, services_up):
    """A patient with an accepted heart-rate range and one set scored by the alerts
    engine: true NEWS2 5 (medium: RR 21 scores 2, pulse 115 scores 2, 38.5 °C 1),
    adjusted 3 (low: the pulse within the accepted 111-130 counts 0)."""
    ward_id = unique("ward-fhir")
    pid = api_fixtures.admit(web, admin, ward_id=ward_id)
    now = datetime.now(UTC).replace(microsecond=0)
    at = now - timedelta(minutes=30)
    values = {"respiratory_rate": 21, "spo2": 97, "on_oxygen": 0, "systolic_bp": 120,
              "heart_rate": 115, "consciousness": 0, "temperature": 38.5}
    with db.connect(services_up, autocommit=True) as conn:
        clinical.set_accepted_range(conn, pid, "heart_rate", 111, 130, by="dr.test",
                                    reason="known resting tachycardia",
                                    now=now - timedelta(hours=1))
        conn.cursor().executemany(
            "INSERT INTO observations (time, patient_id, device_id, type, value)"
            " VALUES (%s, %s, 'dev-fhir', %s, %s)",
            [(at, pid, k, float(v)) for k, v in values.items()])
        engine = Engine(conn, engine_id=unique("engine"), freshness=timedelta(hours=12),
                        wards=[ward_id])
        with conn.transaction():
            engine.score([pid], [now - timedelta(hours=2)], now)
    return pid, at


def _scores(web, person, pid, **params):
    r = web.get("/fhir/Observation", params={"patient": pid, **params},
                headers=person.headers)
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json()["entry"]
            if e["resource"]["category"][0]["coding"][0]["code"] == "survey"]


def _codings(resource) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in resource["code"].get("coding", [])]


def test_fhir_news2_total_is_the_true_score(web, clinician, adjusted_patient):
    pid, at = adjusted_patient
    news2 = [r for r in _scores(web, clinician, pid) if (fhir.SNOMED, fhir.NEWS2_TOTAL)
             in _codings(r)]
    assert len(news2) == 1
    total = news2[0]
    assert total["valueQuantity"]["value"] == 5  # true NEWS2, not the adjusted 3
    assert total["interpretation"] == [{"text": "medium"}]
    assert total["effectiveDateTime"] == at.isoformat().replace("+00:00", "Z")
    components = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
                  for c in total["component"]}
    assert components[fhir.NEWS2_SUBSCORE["heart_rate"]] == 2  # the true sub-score
    assert components[fhir.NEWS2_SUBSCORE["respiratory_rate"]] == 2
    assert sum(components.values()) == 5
    note = " ".join(n["text"] for n in total["note"])
    assert "accepted range applies to heart_rate" in note and "not NEWS2" in note


def test_fhir_adjusted_score_is_its_own_observation_never_coded_as_news2(web, clinician,
                                                                         adjusted_patient):
    pid, _ = adjusted_patient
    resources = _scores(web, clinician, pid)
    assert len(resources) == 2
    total, adjusted = resources  # the true NEWS2 first, then what derives from it
    assert _codings(adjusted) == [(fhir.ADJUSTED_SYSTEM, fhir.NEWS2_ADJUSTED)]
    assert fhir.NEWS2_TOTAL not in json.dumps(adjusted)
    assert fhir.SNOMED not in json.dumps(adjusted["code"])
    assert "component" not in adjusted  # no sub-score codes: those are NEWS2's
    assert "not NEWS2" in adjusted["code"]["text"]
    assert adjusted["valueQuantity"]["value"] == 3
    assert adjusted["interpretation"] == [{"text": "low"}]
    assert adjusted["derivedFrom"][0]["reference"] == f"Observation/{total['id']}"
    assert adjusted["id"] != total["id"] and adjusted["id"] in json.dumps(total["note"])
    assert "Not NEWS2" in adjusted["note"][0]["text"]


def test_fhir_search_by_code_keeps_news2_and_the_adjusted_score_apart(web, clinician,
                                                                      adjusted_patient):
    pid, _ = adjusted_patient
    only_news2 = _scores(web, clinician, pid, code=f"{fhir.SNOMED}|{fhir.NEWS2_TOTAL}")
    assert [r["valueQuantity"]["value"] for r in only_news2] == [5]
    only_adjusted = _scores(web, clinician, pid,
                            code=f"{fhir.ADJUSTED_SYSTEM}|{fhir.NEWS2_ADJUSTED}")
    assert [r["valueQuantity"]["value"] for r in only_adjusted] == [3]
    assert _codings(only_adjusted[0]) == [(fhir.ADJUSTED_SYSTEM, fhir.NEWS2_ADJUSTED)]
    newest_first = _scores(web, clinician, pid, _sort="-date")
    assert len(newest_first) == 2


def test_a_score_without_adjustment_exports_no_adjusted_observation(web, admin, clinician,
                                                                    conn):
    pid = api_fixtures.admit(web, admin)
    t = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    api_fixtures.add_score(conn, pid, t, 3, "low", sub_scores=(2, 1, 0, 0, 0, 0, 0),
                           input_times=[t] * 7, stale=["temperature"],
                           monitoring_band="low", complete=False)
    resources = _scores(web, clinician, pid)
    assert len(resources) == 1 and _codings(resources[0])[0][1] == fhir.NEWS2_TOTAL
    notes = " ".join(n["text"] for n in resources[0]["note"])
    assert "stale" in notes and "temperature" in notes
