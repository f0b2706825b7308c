-- Capacity and flow (issue 14, item 5; docs/dashboard.md "Capacity and flow"):
-- what NHS England asks a virtual ward to report each month.  Read by
-- ward/flow_store.py, computed by the pure ward/flow.py.
--
-- ward_capacity: the beds a ward runs, set by an admin from a day on (a day of
-- the ward's own time zone, wards.time_zone).  Append-only: each change is kept
-- with who made it and when, so that a month's occupancy divides by the
-- capacity in force on each of its days.  Several changes for the same day:
-- the latest set wins.

CREATE TABLE ward_capacity (
    change_id   bigserial PRIMARY KEY,
    ward_id     text NOT NULL REFERENCES wards,
    valid_from  date NOT NULL,
    beds        integer NOT NULL CHECK (beds >= 0 AND beds <= 100000),
    set_by      text NOT NULL CHECK (btrim(set_by) <> ''),
    set_at      timestamptz NOT NULL DEFAULT now(),
    reason      text NOT NULL DEFAULT ''
);
CREATE INDEX ward_capacity_ward ON ward_capacity (ward_id, valid_from, set_at);

-- Where an admitted patient came from: step-up (from home or the community,
-- instead of a hospital admission) or step-down (from a hospital bed, to leave
-- it sooner).  NULL: not recorded (patients admitted before this migration, or
-- by a door that did not ask).  Where a discharged patient went: home (their
-- usual place of residence, their GP's care), hospital (escalated to a hospital
-- bed), died.  NULL: not recorded.
ALTER TABLE patients
    ADD COLUMN admission_source text
        CHECK (admission_source IN ('step-up', 'step-down')),
    ADD COLUMN discharge_outcome text
        CHECK (discharge_outcome IN ('home', 'hospital', 'died'));

-- A discharged patient later admitted to hospital: recorded on the day the
-- ward learns of it, for the day it happened (at most 30 days after the
-- discharge: ward/flow.py READMISSION_DAYS).  One per patient (the first).
CREATE TABLE readmissions (
    patient_id     text PRIMARY KEY REFERENCES patients,
    readmitted_on  date NOT NULL,
    recorded_by    text NOT NULL CHECK (btrim(recorded_by) <> ''),
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
