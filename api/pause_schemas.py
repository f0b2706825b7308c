"""The HTTP shapes of alert pauses (issue 13, item 5), apart from api/schemas.py
as a device's are in api/device_schemas.py: a request to pause one alert kind's
notifying for a patient, and a pause as stored (ward/pauses.py's rules)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.inputs import StrictIn
from ward import durations
from ward.pauses import MAX_PAUSE, PAUSABLE_KINDS

_KINDS = ", ".join(f"{k} ({why})" for k, why in PAUSABLE_KINDS.items())


class PauseSet(StrictIn):
    # The kinds are listed, not enforced by the schema: the route refuses another kind
    # with the reason (an emergency is never paused; a fault of the ward is never quiet).
    kind: str = Field(json_schema_extra={"enum": list(PAUSABLE_KINDS)},
                      description=f"The alert kind whose notifying stops: {_KINDS}")
    duration: str = Field(
        description=f"How long: {durations.FORMS}; at most"
                    f" {MAX_PAUSE.total_seconds() / 3600:g} h", examples=["8h"])
    reason: str = Field(pattern=r"\S", description="The clinical reason, kept in the record")


class PauseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    pause_id: int
    patient_id: str
    kind: str
    starts_at: datetime
    ends_at: datetime = Field(description="The end set with it (at most 24 h after its start)")
    until: datetime = Field(description="When it stops: its end, or when it was ended or"
                                        " replaced before that")
    reason: str
    created_by: str
    created_at: datetime
    ended_at: datetime | None = Field(description="When it was ended early or replaced")
    ended_by: str | None
    end_reason: str | None
