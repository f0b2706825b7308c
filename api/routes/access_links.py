"""A patient's one-time link to their own page (issue 14, item 4;
docs/patient-view.md): made and cancelled by their clinicians.  The link is
shown once, in the answer; only its hash is kept (ward/patient_access.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from api import scope
from api.deps import AppSettings, Conn, CurrentUser
from ward import patient_access, patient_links

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])

_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such patient"},
    409: {"description": "The patient has been discharged"}}


class AccessLinkOut(BaseModel):
    url: str = Field(description="The one-time link: give it to the patient (SMS, email, QR"
                                 " code); it opens their page once, until `expires_at`")
    expires_at: datetime
    ward_phone: str | None = Field(description="The number the page tells the patient to call"
                                               " (None: not set, `vward ward phone`)")


class RevokedOut(BaseModel):
    links: int = Field(description="Unused links cancelled")
    sessions: int = Field(description="Patient sessions ended")


@router.post("/{patient_id}/access-link", response_model=AccessLinkOut,
             status_code=status.HTTP_201_CREATED, responses=_ANSWERS)
def make_link(patient_id: str, user: CurrentUser, conn: Conn,
              cfg: AppSettings) -> AccessLinkOut:
    """A one-time link to the patient's own page (their latest readings, whether
    their team has looked, when the next readings are due, what to do if they
    feel worse, and the questionnaire).  Valid VWARD_PATIENT_LINK_HOURS."""
    scope.check_patient(conn, user, patient_id)
    made = patient_access.make_link(conn, patient_id, by=user.name, now=datetime.now(UTC),
                                    lifetime=timedelta(hours=cfg.patient_link_hours))
    base = patient_links.base_url(cfg.public_url, cfg.web_host, cfg.web_port)
    return AccessLinkOut(url=patient_links.link_url(base, made.token),
                         expires_at=made.expires_at, ward_phone=made.ward_phone)


@router.delete("/{patient_id}/access-links", response_model=RevokedOut,
               responses={404: {"description": "No such patient"}})
def revoke_links(patient_id: str, user: CurrentUser, conn: Conn) -> RevokedOut:
    """Cancel the patient's unused links and sign them out everywhere (a lost
    phone, a link sent to the wrong number)."""
    scope.check_patient(conn, user, patient_id)
    links, sessions = patient_access.revoke(conn, patient_id, by=user.name,
                                            now=datetime.now(UTC))
    return RevokedOut(links=links, sessions=sessions)
