"""A stay on the ward as a FHIR R4 discharge document (issue 14, item 1); pure.

What the GP's record receives, made once at discharge from what the ward
stored (api/discharge_store.py loads it): a ``document`` Bundle whose first
entry is the Composition (LOINC 18842-5, SNOMED CT 373942005 "Discharge
summary"), then the Patient (NHS number first when the ward knows it, as UK
Core's Patient does), the Encounter (class HH, home health: the stay), the NEWS2
totals on admission, at their highest and at discharge, the last vital signs
(api/fhir_vitals.py, the vital-signs profile), one DetectedIssue per alert with
its acknowledgement as the mitigation and whether it changed management, one
Flag per scoring setting in force during the stay (SpO2 scale 2, accepted
ranges) with who set it, the Devices used and the Practitioners named.

Every entry has a ``urn:uuid:`` fullUrl and every reference inside the document
points at one: a document is read on its own, away from this server."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any

from api import fhir
from api.discharge_record import (
    SOURCE_TEXT,
    Authored,
    DeviceUse,
    Stay,
    ack_text,
    alert_line,
    device_line,
    key_scores,
    score_lines,
    setting_line,
    setting_text,
    stay_lines,
    vital_line,
    when,
)
from api.fhir_vitals import DEVICE_SYSTEM, instant, resource_id
from ward.news2_chart import PARAMETERS
from ward.records import AlertRow, ScoreRow, SettingRow

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
USER_SYSTEM = "urn:vward:user"
ALERT_SYSTEM = "urn:vward:alert"
ALERT_KIND_SYSTEM = "urn:vward:alert-kind"
# Whether acknowledging the alert changed the patient's management (the ward's
# evidence of which alerts were worth raising): on the DetectedIssue's mitigation.
CHANGED_MANAGEMENT = "urn:vward:changed-management"
DOCUMENT_TYPE = {"coding": [
    {"system": fhir.LOINC, "code": "18842-5", "display": "Discharge summary"},
    {"system": fhir.SNOMED, "code": "373942005", "display": "Discharge summary"}],
    "text": "Discharge summary"}
_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
_FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
# Where the patient went (ward.flow.OUTCOMES) as FHIR's discharge dispositions.
OUTCOME_DISPOSITION = {"home": ("home", "Home"),
                       "hospital": ("other-hcf", "Other healthcare facility"),
                       "died": ("exp", "Expired")}
# The ward's alert severities as DetectedIssue's three.
ISSUE_SEVERITY = {"emergency": "high", "urgent": "high", "low": "moderate", "info": "low"}
_XHTML = "http://www.w3.org/1999/xhtml"
_UUIDS = uuid.UUID("5b0e6a52-3f7e-4f7c-9d62-1c1d7e0b9a11")  # our namespace for fullUrls


def document(stay: Stay, authored: Authored) -> dict[str, Any]:
    """The FHIR R4 document Bundle of a stay (Composition first)."""
    pid = stay.patient_id
    key = key_scores(stay.scores)
    people = _practitioners([authored.by, *(a.acknowledged_by for a in stay.alerts),
                             *(s.set_by for s in stay.settings)])
    encounter = _encounter(stay, authored)
    scores = _unique([r for s in (key.admission, key.highest, key.discharge) if s
                      for r in _score_resources(s)])
    vitals = [r for _, r in fhir.vital_signs(pid, stay.vitals)]
    issues = [_issue(a) for a in stay.alerts]
    flags = [_flag(s, stay.discharged_at) for s in stay.settings]
    devices = [_device(d, pid) for d in stay.devices]
    sections = [
        _section("Admission and discharge", stay_lines(stay, authored), [encounter]),
        _section("Clinician's summary", [f"{authored.summary} (by {authored.by})"], [],
                 listing=False),
        _section("NEWS2 on admission, highest and at discharge", score_lines(key), scores),
        _section("Vital signs at discharge (the latest of each)",
                 [vital_line(v) for v in stay.vitals] or ["No readings."], vitals),
        _section("Alerts, their acknowledgement and whether they changed management",
                 [alert_line(a) for a in stay.alerts] or ["No alerts."], issues),
        _section("Scoring settings in force (SpO2 scale 2, accepted ranges)",
                 [setting_line(s) for s in stay.settings]
                 or ["None: scored on the standard NEWS2 chart throughout."], flags),
        _section("Devices used", [device_line(d) for d in stay.devices]
                 or ["No devices."], devices),
    ]
    composition = {
        "resourceType": "Composition", "id": authored.document_id, "status": "final",
        "type": DOCUMENT_TYPE,
        "subject": _ref("Patient", pid), "encounter": _ref("Encounter", encounter["id"]),
        "date": instant(authored.made_at),
        "author": [_ref("Practitioner", _person_id(authored.by), authored.by)],
        "title": f"Virtual ward discharge summary: {stay.ward_name}",
        "attester": [{"mode": "legal", "time": instant(authored.made_at),
                      "party": _ref("Practitioner", _person_id(authored.by), authored.by)}],
        "section": sections,
    }
    resources = [composition, _patient(stay), encounter, *scores, *vitals, *issues, *flags,
                 *devices, *people]
    urls = {f"{r['resourceType']}/{r['id']}": _full_url(authored.document_id, r)
            for r in resources}
    return {
        "resourceType": "Bundle", "id": authored.document_id,
        "meta": {"lastUpdated": instant(authored.made_at)},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{authored.document_id}"},
        "type": "document", "timestamp": instant(authored.made_at),
        "entry": [{"fullUrl": urls[f"{r['resourceType']}/{r['id']}"],
                   "resource": _relink(r, urls)} for r in resources],
    }


def composition_of(bundle: dict[str, Any]) -> dict[str, Any]:
    """The Composition of a stored document (its first entry)."""
    return bundle["entry"][0]["resource"]


# ---------------------------------------------------------------- resources


def _patient(stay: Stay) -> dict[str, Any]:
    out = fhir.patient(stay.patient_id, stay.ward_id, stay.display_name, stay.discharged_at)
    if stay.nhs_number:
        out["identifier"].insert(0, {"system": NHS_NUMBER_SYSTEM, "value": stay.nhs_number})
    return out


def _encounter(stay: Stay, authored: Authored) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Encounter", "id": resource_id("encounter", stay.patient_id),
        "status": "finished",
        "class": {"system": _ACT_CODE, "code": "HH", "display": "home health"},
        "type": [{"text": "Virtual ward (hospital at home)"}],
        "subject": _ref("Patient", stay.patient_id),
        "participant": [{"individual": _ref("Practitioner", _person_id(authored.by),
                                            authored.by)}],
        "period": {"start": instant(stay.admitted_at), "end": instant(stay.discharged_at)},
    }
    if authored.admission_reason:
        out["reasonCode"] = [{"text": authored.admission_reason}]
    stay_out: dict[str, Any] = {}
    if stay.admission_source:
        stay_out["admitSource"] = {"text": SOURCE_TEXT.get(stay.admission_source,
                                                            stay.admission_source)}
    if stay.outcome in OUTCOME_DISPOSITION:
        code, display = OUTCOME_DISPOSITION[stay.outcome]
        stay_out["dischargeDisposition"] = {
            "coding": [{"system": _DISPOSITION, "code": code, "display": display}],
            "text": stay.outcome}
    if stay_out:
        out["hospitalization"] = stay_out
    out["location"] = [{"location": {"display": f"{stay.ward_name} ({stay.ward_id})"}}]
    return out


def _score_resources(s: ScoreRow) -> list[dict[str, Any]]:
    out = [fhir.news2_score(
        s.patient_id, s.time, s.total, s.band, s.complete, s.missing, s.sub_scores,
        PARAMETERS, s.spo2_scale, adjusted_total=s.adjusted_total,
        adjusted_band=s.adjusted_band, overridden_parameters=s.overridden_parameters,
        stale=s.stale)]
    if s.adjusted_total is not None and s.adjusted_band is not None:
        out.append(fhir.news2_adjusted(s.patient_id, s.time, s.adjusted_total,
                                       s.adjusted_band, s.complete, s.overridden_parameters))
    return out


def _issue(a: AlertRow) -> dict[str, Any]:
    detail = a.reason
    if a.resolved_at is not None:
        detail += f". Resolved {when(a.resolved_at)}" + (
            f" by {a.resolved_by}" if a.resolved_by else "") + (
            f": {a.resolve_note}" if a.resolve_note else "")
    out: dict[str, Any] = {
        "resourceType": "DetectedIssue", "id": resource_id("alert", a.alert_id),
        "identifier": [{"system": ALERT_SYSTEM, "value": str(a.alert_id)}],
        "status": "final",
        "code": {"coding": [{"system": ALERT_KIND_SYSTEM, "code": a.kind}],
                 "text": f"{a.kind} ({a.category} alert, {a.severity})"},
        "severity": ISSUE_SEVERITY.get(a.severity, "moderate"),
        "patient": _ref("Patient", a.patient_id),
        "identifiedDateTime": instant(a.opened_at),
        "detail": detail,
    }
    if a.acknowledged_at is not None and a.acknowledged_by:
        mitigation: dict[str, Any] = {
            "action": {"text": ack_text(a)}, "date": instant(a.acknowledged_at),
            "author": _ref("Practitioner", _person_id(a.acknowledged_by), a.acknowledged_by)}
        if a.changed_management is not None:
            mitigation["extension"] = [{"url": CHANGED_MANAGEMENT,
                                        "valueBoolean": a.changed_management}]
        out["mitigation"] = [mitigation]
    return out


def _flag(s: SettingRow, discharged_at: datetime) -> dict[str, Any]:
    end = min(s.valid_to, discharged_at) if s.valid_to else discharged_at
    return {
        "resourceType": "Flag", "id": resource_id("setting", s.setting_id),
        "identifier": [{"system": "urn:vward:setting", "value": str(s.setting_id)}],
        "status": "inactive",  # the stay is over
        "category": [{"coding": [{"system": _FLAG_CATEGORY, "code": "clinical",
                                  "display": "Clinical"}]}],
        "code": {"text": setting_text(s)},
        "subject": _ref("Patient", s.patient_id),
        "period": {"start": instant(s.valid_from), "end": instant(max(end, s.valid_from))},
        "author": _ref("Practitioner", _person_id(s.set_by), s.set_by),
    }


def _device(d: DeviceUse, patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Device", "id": resource_id("device", d.device_id),
        "identifier": [{"system": DEVICE_SYSTEM, "value": d.device_id}],
        "status": "inactive", "type": {"text": d.kind},
        "patient": _ref("Patient", patient_id),
        "note": [{"text": device_line(d)}],
    }


def _practitioners(names: Iterable[str | None]) -> list[dict[str, Any]]:
    return [{"resourceType": "Practitioner", "id": _person_id(n),
             "identifier": [{"system": USER_SYSTEM, "value": n}], "name": [{"text": n}]}
            for n in dict.fromkeys(n for n in names if n)]


# ---------------------------------------------------------------- plumbing


def _section(title: str, lines: list[str], entries: list[dict[str, Any]], *,
             listing: bool = True) -> dict[str, Any]:
    """A section with its narrative; one that lists things and has none says so
    (emptyReason nil known), as the document's reader must not guess."""
    out: dict[str, Any] = {"title": title, "text": {
        "status": "generated",
        "div": f'<div xmlns="{_XHTML}">' + "".join(f"<p>{escape(line)}</p>" for line in lines)
               + "</div>"}}
    if entries:
        out["entry"] = [_ref(e["resourceType"], e["id"]) for e in entries]
    elif listing:
        out["emptyReason"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
            "code": "nilknown", "display": "Nil Known"}]}
    return out


def _ref(kind: str, rid: str, display: str | None = None) -> dict[str, Any]:
    out = {"reference": f"{kind}/{rid}"}
    if display:
        out["display"] = display
    return out


def _person_id(name: str) -> str:
    return resource_id("practitioner", name)


def _full_url(document_id: str, resource: dict[str, Any]) -> str:
    return "urn:uuid:" + str(uuid.uuid5(
        _UUIDS, f"{document_id}/{resource['resourceType']}/{resource['id']}"))


def _unique(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({f"{r['resourceType']}/{r['id']}": r for r in resources}.values())


def _relink(value: Any, urls: dict[str, str]) -> Any:
    """``value`` with each reference to a resource of the document replaced by
    that entry's fullUrl."""
    if isinstance(value, dict):
        return {k: (urls.get(v, v) if k == "reference" and isinstance(v, str)
                    else _relink(v, urls)) for k, v in value.items()}
    if isinstance(value, list):
        return [_relink(v, urls) for v in value]
    return value
