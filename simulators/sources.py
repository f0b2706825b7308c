"""Where a simulated patient came from, pure: step-up (from home or the
community, instead of a hospital admission) or step-down (from a hospital bed,
to leave it sooner), for the ward's flow figures (ward/flow.py).

Drawn from the patient id, so a rerun with the same seed gives the same answer
and the simulation's random streams are left as they were.  The shares are
rough, from NHS England's virtual ward reports: about half of all admissions
step up; a COPD exacerbation managed at home steps up more often than not."""

from __future__ import annotations

import zlib

STEP_UP_SHARE = 0.5        # [1] of patients, any condition
COPD_STEP_UP_SHARE = 0.65  # [1] of patients with COPD (SpO2 scale 2)


def admission_source(patient_id: str, *, copd: bool) -> str:
    share = COPD_STEP_UP_SHARE if copd else STEP_UP_SHARE
    u = zlib.crc32(patient_id.encode()) / 2**32
    return "step-up" if u < share else "step-down"
