-- The patient's own view (issue 14, item 4; docs/patient-view.md): a clinician
-- gives a patient a one-time link (vward patient link, POST
-- /api/v1/patients/{id}/access-link); opening it starts a patient session, bound
-- to that one patient, in a cookie of its own (never the staff session).
-- Written and read by ward/patient_access.py; decided by ward/patient_links.py.

-- The number a patient at home calls when they feel worse (vward ward phone).
-- NULL: not set (the page then says to call the number their team gave them,
-- and 999 in an emergency, as always).
ALTER TABLE wards
    ADD COLUMN phone text CHECK (phone ~ '^\+?[0-9][0-9 ()-]{2,29}$');

-- A link works once, until it expires or is revoked.  Only the SHA-256 of its
-- token is kept (256 random bits: a fast hash loses nothing), so a copy of the
-- database opens nobody's page.
CREATE TABLE patient_links (
    link_id     bigserial PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,
    patient_id  text NOT NULL REFERENCES patients,
    created_by  text NOT NULL CHECK (btrim(created_by) <> ''),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL CHECK (expires_at > created_at),
    used_at     timestamptz,
    -- The client address the link was opened from (api/throttle.address_key).
    used_from   text,
    revoked_at  timestamptz,
    revoked_by  text
);
CREATE INDEX patient_links_patient ON patient_links (patient_id);

-- A patient's session: the cookie holds a random token (signed with a key
-- derived from VWARD_SECRET_KEY for this use alone), the server its SHA-256, so
-- a sign-out, a revocation, an expiry or a discharge ends it wherever the cookie
-- went.  Bound to the one patient of the link that opened it.
CREATE TABLE patient_sessions (
    session_id    bigserial PRIMARY KEY,
    session_hash  text NOT NULL UNIQUE,
    patient_id    text NOT NULL REFERENCES patients,
    link_id       bigint NOT NULL REFERENCES patient_links,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL CHECK (expires_at > created_at),
    ended_at      timestamptz
);
CREATE INDEX patient_sessions_patient ON patient_sessions (patient_id);
