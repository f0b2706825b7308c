-- Issue 13: who an alert reaches.  People gain contacts (an email address, a
-- phone for SMS, a webhook URL: NULL = none); each ward has teams and a rota
-- of shifts in tiers (1: hub nurse, 2: senior clinician, 3: consultant on
-- call), by day of the week and whole hours of the ward's local wall-clock
-- (wards.time_zone, migration 001).  Written by ward/rota_store.py (vward
-- rota, the API) and api/accounts.py (contacts); read by ward/rota.py.

-- The shapes are checked here as a last line; ward/contacts.py says what is
-- wrong in words before a value gets this far.
ALTER TABLE users
    ADD COLUMN email text
        CHECK (email IS NULL OR (length(email) <= 254 AND email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$')),
    -- E.164: '+', country code, number; no spaces (ward/contacts.py removes them).
    ADD COLUMN phone text CHECK (phone IS NULL OR phone ~ '^\+[1-9][0-9]{6,14}$'),
    ADD COLUMN webhook_url text
        CHECK (webhook_url IS NULL OR (length(webhook_url) <= 2000
                                       AND webhook_url ~ '^https?://[^\s]+$'));

-- Teams group the people of a ward's rota (e.g. "hub A", "night team").
CREATE TABLE teams (
    team_id     bigserial PRIMARY KEY,
    ward_id     text NOT NULL REFERENCES wards,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ward_id, name),
    -- So that a shift's team is a team of the shift's own ward (FK below).
    UNIQUE (team_id, ward_id)
);

-- A person on call in one tier of a ward on some days from start_hour to
-- end_hour (end exclusive; 24 = midnight).  A shift across midnight is stored
-- as two (ward/rota.shifts_for).  A change ends rows (ended_at, ended_by)
-- rather than deleting them: who was on call when stays on record.
CREATE TABLE rota_shifts (
    shift_id    bigserial PRIMARY KEY,
    ward_id     text NOT NULL REFERENCES wards,
    team_id     bigint,
    tier        smallint NOT NULL CHECK (tier BETWEEN 1 AND 3),
    user_id     bigint NOT NULL REFERENCES users,
    -- Bitmask of weekdays: Monday = 1, Tuesday = 2, ... Sunday = 64.
    days        smallint NOT NULL CHECK (days BETWEEN 1 AND 127),
    start_hour  smallint NOT NULL CHECK (start_hour BETWEEN 0 AND 23),
    end_hour    smallint NOT NULL CHECK (end_hour BETWEEN 1 AND 24 AND end_hour > start_hour),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    ended_by    text,
    FOREIGN KEY (team_id, ward_id) REFERENCES teams (team_id, ward_id),
    CHECK ((ended_at IS NULL) = (ended_by IS NULL))
);
CREATE INDEX rota_shifts_ward ON rota_shifts (ward_id, tier) WHERE ended_at IS NULL;
CREATE INDEX rota_shifts_user ON rota_shifts (user_id) WHERE ended_at IS NULL;
