"""FHIR R4 read and search: Patient, and Observation (vital signs by LOINC,
NEWS2 totals by SNOMED CT, always the true NEWS2; adjusted scores by our local
code) as a searchset Bundle."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse

from api import discharge_fhir, discharge_store, fhir, queries, scope, series
from api.deps import Conn, CurrentUser, ReadLog
from ward.errors import NotFound
from ward.records import ScoreRow

router = APIRouter(prefix="/fhir", tags=["fhir"])

FHIR_JSON = "application/fhir+json"


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_PAGE = 5000


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


# What /fhir serves, and nothing more (a test compares it with the app's routes):
# Patient read; Observation search by these parameters (paging by `_offset`, as
# the `next` links do), with the vital-signs profiles the ward's Observations claim.
OBSERVATION_SEARCH: tuple[tuple[str, str, str], ...] = (
    ("patient", "reference", "required: id or Patient/id"),
    ("code", "token", "system|code or code, comma-separated; the LOINC or SNOMED CT code"
                      " of a reading, 85354-9 for blood-pressure panels (as do 8480-6 and"
                      " 8462-4), SNOMED CT 1104051000000101 for NEWS2 totals,"
                      " urn:vward:score|news2-adjusted for adjusted scores"),
    ("date", "date", "prefixes eq, ge, gt, le, lt, sa, eb; may be repeated"),
    ("_count", "number", "page size, at most 5000"),
    ("_offset", "number", "where the page starts (the next links carry it)"),
    ("_sort", "string", "date (oldest first, the default) or -date"),
)


COMPOSITION_SEARCH: tuple[tuple[str, str, str], ...] = (
    ("patient", "reference", "required: id or Patient/id"),
)


@router.get("/metadata", response_class=FhirResponse)
def capability_statement(request: Request, user: CurrentUser) -> dict:
    """What this server offers (read-only): exactly the interactions and search
    parameters its routes serve."""
    return {
        "resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
        "date": datetime.now(UTC).date().isoformat(), "fhirVersion": "4.0.1",
        "format": ["json"], "implementation": {"description": "vward", "url": _base(request)},
        "rest": [{"mode": "server", "resource": [
            {"type": "Patient", "interaction": [{"code": "read"}]},
            {"type": "Observation", "interaction": [{"code": "search-type"}],
             "supportedProfile": sorted({*fhir.PROFILE_BY_LOINC.values(),
                                         fhir.VITAL_SIGNS_PROFILE}),
             "searchParam": [{"name": n, "type": t, "documentation": d}
                             for n, t, d in OBSERVATION_SEARCH]},
            # Discharge summaries: each a document Bundle, read by id; its
            # Composition (same id) found by patient.
            {"type": "Bundle", "interaction": [{"code": "read"}],
             "documentation": "discharge summaries: FHIR documents (type document, the"
                              " Composition first), made once at discharge"},
            {"type": "Composition", "interaction": [{"code": "search-type"}],
             "documentation": "the discharge summaries' Compositions; a Composition's id is"
                              " its document's: read the whole at Bundle/{id}",
             "searchParam": [{"name": n, "type": t, "documentation": d}
                             for n, t, d in COMPOSITION_SEARCH]}]}],
    }


@router.get("/Patient/{patient_id}", response_class=FhirResponse,
            responses={404: {"description": "OperationOutcome: no such patient"}})
def read_patient(patient_id: str, user: CurrentUser, conn: Conn, read: ReadLog) -> dict:
    row = queries.get_patient(conn, patient_id)  # NotFound: a 404 OperationOutcome (app.py)
    read(patient_id, "Patient")
    return fhir.patient(row.patient_id, row.ward_id, row.display_name, row.discharged_at)


@router.get("/Observation", response_class=FhirResponse,
            responses={400: {"description": "OperationOutcome: a search parameter we cannot"
                                            " read"}})
def search_observations(
    request: Request, user: CurrentUser, conn: Conn, read: ReadLog,
    patient: Annotated[str, Query(pattern=r"^(Patient/)?[^/]+$",
                                  description="Patient id or Patient/id (required)")],
    code: Annotated[list[str] | None, Query(description="LOINC of a vital sign, SNOMED CT"
                                                        " 1104051000000101 (NEWS2 total, the"
                                                        " true score), or urn:vward:score|"
                                                        "news2-adjusted (the score after"
                                                        " accepted ranges, not NEWS2);"
                                                        " system|code or code, comma-separated"
                                                        " for any of several")] = None,
    date: Annotated[list[str] | None, Query(description="e.g. ge2026-11-23 and"
                                                        " lt2026-11-24T08:00:00Z")] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=_MAX_PAGE)] = 1000,
    offset: Annotated[int, Query(alias="_offset", ge=0, le=1_000_000)] = 0,
    sort: Annotated[Literal["date", "-date"], Query(alias="_sort")] = "date",
) -> dict:
    """A searchset Bundle of the patient's vital signs, NEWS2 totals and adjusted
    scores, by effective time; `next` links page through the rest.  The SNOMED
    NEWS2 total is the true NEWS2; where a clinician's accepted range changed a
    sub-score, the adjusted score follows it as an Observation of its own
    (code urn:vward:score|news2-adjusted, "not NEWS2")."""
    try:
        patient_id = fhir.parse_patient(patient)
        codes = fhir.parse_codes(code)
        start, end = fhir.parse_dates(date, default_start=_EARLIEST,
                                      default_end=datetime.now(UTC) + timedelta(days=1))
    except fhir.SearchError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    read(patient_id, "Observation")
    newest_first = sort == "-date"
    want = offset + count + 1
    entries = []
    if codes.types:
        # Twice the rows: a blood-pressure panel takes two, so the first `want`
        # resources are whole even where the last row read splits a pair.
        entries.append(fhir.vital_signs(patient_id, series.observation_rows(
            conn, patient_id, list(codes.types), start, end, 2 * want, newest_first)))
    if codes.news2 or codes.adjusted:
        entries.append(_scores(series.score_rows(conn, patient_id, start, end, want,
                                                 newest_first), patient_id, codes))
    merged = list(heapq.merge(*entries, key=lambda e: e[0], reverse=newest_first))
    page = [resource for _, resource in merged[offset:offset + count]]
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_offset"]
    self_url = f"{_base(request)}/Observation?{urlencode([*params, ('_offset', offset)])}"
    next_url = None
    if len(merged) > offset + count:
        next_url = (f"{_base(request)}/Observation?"
                    f"{urlencode([*params, ('_offset', offset + count)])}")
    total = len(merged) if next_url is None else None
    return fhir.bundle(page, _base(request), self_url, next_url, total)


def _scores(rows: list[ScoreRow], patient_id: str, codes: fhir.Codes) -> Iterator[tuple]:
    """(time, resource) of each score: the true NEWS2, then the adjusted score of the
    same instant where there is one."""
    for r in rows:
        if codes.news2:
            yield r.time, fhir.news2_score(
                patient_id, r.time, r.total, r.band, r.complete, r.missing, r.sub_scores,
                queries.NEWS2_PARAMETERS, r.spo2_scale, adjusted_total=r.adjusted_total,
                adjusted_band=r.adjusted_band, overridden_parameters=r.overridden_parameters,
                stale=r.stale)
        if codes.adjusted and r.adjusted_total is not None and r.adjusted_band is not None:
            yield r.time, fhir.news2_adjusted(patient_id, r.time, r.adjusted_total,
                                              r.adjusted_band, r.complete,
                                              r.overridden_parameters)


@router.get("/Bundle/{document_id}", response_class=FhirResponse,
            responses={404: {"description": "OperationOutcome: no such document"}})
def read_bundle(document_id: str, user: CurrentUser, conn: Conn, read: ReadLog) -> dict:
    """A discharge summary: the FHIR document Bundle (type document, the
    Composition first) exactly as it was made at discharge."""
    kept = discharge_store.by_document(conn, document_id)  # NotFound: 404 OperationOutcome
    try:
        scope.check_patient(conn, user, kept.patient_id)
    except NotFound:  # out of the reader's wards: the same answer as no such document
        raise NotFound(f"no document {document_id}") from None
    read(kept.patient_id, "Bundle")
    return kept.bundle


@router.get("/Composition", response_class=FhirResponse,
            responses={400: {"description": "OperationOutcome: a search parameter we cannot"
                                            " read"}})
def search_compositions(
    request: Request, user: CurrentUser, conn: Conn, read: ReadLog,
    patient: Annotated[str, Query(pattern=r"^(Patient/)?[^/]+$",
                                  description="Patient id or Patient/id (required)")],
) -> dict:
    """A searchset Bundle of the patient's discharge summaries' Compositions (at
    most one: a patient is discharged once).  A Composition's references point
    into its document: read the whole at /fhir/Bundle/{the Composition's id}."""
    try:
        patient_id = fhir.parse_patient(patient)
    except fhir.SearchError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    scope.check_patient(conn, user, patient_id)
    read(patient_id, "Composition")
    entries = [discharge_fhir.composition_of(k.bundle)
               for k in discharge_store.of_patient(conn, patient_id)]
    self_url = f"{_base(request)}/Composition?{urlencode([('patient', patient)])}"
    return fhir.bundle(entries, _base(request), self_url, None, total=len(entries))
