-- Re-measure before a spot-check alarm (issue 13, docs/alerts.md "Re-measure
-- before a spot-check alarm"): where the ward's protocol allows it, an urgent
-- NEWS2 alert raised by one spot-check device's set is held while the engine
-- asks that device to measure again (a command on ward/v1/devices/{id}/commands).
-- The decision is alerts/remeasure.py's; the engine writes this table
-- (alerts/remeasure_store.py), nobody else.

-- Off unless a ward's protocol says so: holding an urgent alert is a clinical
-- choice.  The deadline is how long an urgent alert may wait for the answer;
-- at most 15 min, the urgent alert's own escalation time (alerts/rules.py).
ALTER TABLE wards
    ADD COLUMN remeasure_allowed boolean NOT NULL DEFAULT false,
    ADD COLUMN remeasure_deadline interval NOT NULL DEFAULT interval '10 minutes'
        CONSTRAINT remeasure_deadline_range
        CHECK (remeasure_deadline > interval '0' AND remeasure_deadline <= interval '15 minutes');

-- One row per re-measurement asked.  outcome NULL: waiting for the answer.
--   confirmed      the new reading(s) kept the score urgent or worse: the alert opened
--   not_confirmed  every type asked was measured again and the score is no longer
--                  urgent: no alert ("resolved by re-measurement", on the patient page)
--   unanswered     nothing (or not everything, and nothing that confirms) came back
--                  by the deadline: the alert opened, saying so
--   superseded     the score reached emergency before the answer: the alert opened at once
--   cancelled      the patient was discharged while waiting
-- The ward figures count asked = every row; confirmed / not_confirmed / unanswered by outcome.
CREATE TABLE remeasure_requests (
    request_id    bigserial PRIMARY KEY,
    patient_id    text NOT NULL REFERENCES patients,
    ward_id       text NOT NULL REFERENCES wards,
    device_id     text NOT NULL REFERENCES devices,
    -- Reading types asked for (ward/domain.py TYPES names).
    types         text[] NOT NULL CHECK (cardinality(types) > 0),
    asked_at      timestamptz NOT NULL,
    deadline      timestamptz NOT NULL CHECK (deadline > asked_at),
    -- When the broker took the command (NULL: not yet published).
    sent_at       timestamptz,
    -- The alert held back, as it would have opened: the score it stood on and its words.
    score_time    timestamptz NOT NULL,
    score_before  smallint NOT NULL CHECK (score_before BETWEEN 0 AND 20),
    band          text NOT NULL,
    red           text[] NOT NULL DEFAULT '{}',
    reason        text NOT NULL,
    outcome       text CHECK (outcome IN ('confirmed', 'not_confirmed', 'unanswered',
                                          'superseded', 'cancelled')),
    decided_at    timestamptz,
    -- When the first reading of the answer reached the ward (NULL: none came).
    answered_at   timestamptz,
    -- The measurement time of the answer's latest reading: an urgent score at or
    -- before it belongs to the episode the re-measurement settled.
    answer_time   timestamptz,
    score_after   smallint CHECK (score_after BETWEEN 0 AND 20),
    -- What came back, in words (the values measured again and the score they gave).
    answer        text,
    -- The alert that opened (confirmed, unanswered, superseded).
    alert_id      bigint REFERENCES alerts,
    CHECK ((outcome IS NULL) = (decided_at IS NULL))
);
-- At most one re-measurement pending per patient.
CREATE UNIQUE INDEX remeasure_requests_pending ON remeasure_requests (patient_id)
    WHERE outcome IS NULL;
CREATE INDEX remeasure_requests_patient ON remeasure_requests (patient_id, asked_at DESC);
CREATE INDEX remeasure_requests_ward ON remeasure_requests (ward_id, asked_at DESC);
CREATE INDEX remeasure_requests_unsent ON remeasure_requests (request_id)
    WHERE sent_at IS NULL AND outcome IS NULL;
